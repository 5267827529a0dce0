// SPDX-License-Identifier: GPL-2.0
// Output for people (tables by libsmartcols, as util-linux prints them) and for
// scripts (JSON by nlohmann-json).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

struct libscols_table;

namespace ramcrypt {

// Objects keep their keys in the order they are added.
using Json = nlohmann::ordered_json;

// Compact JSON text, without a newline. Invalid UTF-8 (a process name can hold any
// bytes) becomes U+FFFD, so the output is always valid JSON.
std::string json_text(const Json &value);

// Control characters replaced by '?', so a value cannot drive the terminal.
std::string printable(std::string_view s);

struct Column {
	std::string name;
	bool right_aligned;
};

// A libsmartcols table: columns separated by a space, header first (unless
// noheadings); raw: no alignment, and spaces and control characters in values
// escaped as \xHH so every line splits on spaces. Control and invalid bytes are
// shown as \xHH in aligned output too.
class Table {
public:
	explicit Table(const std::vector<Column> &columns);
	~Table();
	Table(const Table &) = delete;
	Table &operator=(const Table &) = delete;

	void noheadings(bool on);
	void raw(bool on);
	// Throws std::logic_error for a row of the wrong width.
	void add_row(const std::vector<std::string> &cells);
	void print(std::ostream &out) const;

private:
	libscols_table *tb_;
	std::size_t ncolumns_;
};

} // namespace ramcrypt
