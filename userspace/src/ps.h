// SPDX-License-Identifier: GPL-2.0
// `ramcrypt ps`: the columns, as lsblk(8) and lsns(8) have them. One column has one
// name in -o, in the text header (libsmartcols) and, in lower case, as the JSON key
// (nlohmann-json); the JSON keys are the fields of struct ramcrypt_proc_stats.
#pragma once

#include <linux/ramcrypt.h>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ramcrypt {

struct PsOptions {
	std::vector<std::size_t> columns;	// indexes of ps_column_names(), in output order
	bool noheadings = false;
	bool raw = false;
	bool json = false;
};

// One protected process as the module and /proc report it.
struct PsRow {
	ramcrypt_proc_stats stats;
	std::optional<std::string> command;	// /proc/PID/comm; none when it cannot be read
};

// Every column name, in the order of --output-all.
std::vector<std::string> ps_column_names();

// The columns of the -o/--output arguments, in order, each a comma-separated LIST of
// names (any case) or +LIST: the default columns, then LIST. No argument: the
// defaults; all: every column. "" or the error text for the usage message.
std::string ps_columns(const std::vector<std::string> &output, bool all, std::vector<std::size_t> &columns);

// "Columns:" and one line per column with its meaning, for ps --help.
std::string ps_columns_help();

// Text (aligned, or raw with -r) with libsmartcols, or one JSON document
// {"processes":[...]} with one process per line.
void print_ps(std::ostream &out, const PsOptions &opt, const std::vector<PsRow> &rows);

} // namespace ramcrypt
