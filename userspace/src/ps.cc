// SPDX-License-Identifier: GPL-2.0
#include "ps.h"

#include "output.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace ramcrypt {
namespace {

std::vector<std::string> flags_of(const ramcrypt_proc_stats &st)
{
	std::vector<std::string> flags;

	if (st.state & RAMCRYPT_PROC_INHERIT_EXEC)
		flags.push_back("inherit-exec");
	if (st.state & RAMCRYPT_PROC_DEGRADED)
		flags.push_back("degraded");
	if (st.state & RAMCRYPT_PROC_SWAP)
		flags.push_back("swap");
	// Measured plaintext beyond a window: pinned pages, or pages the cap held back.
	// window_pages counts both tiers; secret_window_pages the secret one (ABI 4).
	if (st.window_pages - st.secret_window_pages > st.window)
		flags.push_back("over-window");
	if (st.secret_window_pages > st.secret_window)
		flags.push_back("over-secret-window");
	return flags;
}

struct PsColumn {
	const char *name;	// upper case; the JSON key is the same in lower case
	bool by_default;
	bool number;		// right-aligned
	const char *meaning;
	Json (*value)(const PsRow &);
};

// The order of --output-all and of --help. The JSON keys are the names the module's
// struct ramcrypt_proc_stats gives the values, as ramcrypt(8) promises them.
const PsColumn ps_table[] = {
	{ "PID", true, true, "process ID", [](const PsRow &r) { return Json(r.stats.pid); } },
	{ "WINDOW", true, true, "window size, in pages", [](const PsRow &r) { return Json(r.stats.window); } },
	{ "WINDOW_PAGES", true, true, "plaintext pages now, both windows (or see over-window)",
	  [](const PsRow &r) { return Json(r.stats.window_pages); } },
	{ "SECRET_WINDOW", true, true, "window of the secret regions, in pages (module ABI 4)",
	  [](const PsRow &r) { return Json(r.stats.secret_window); } },
	{ "SECRET_WINDOW_PAGES", true, true, "plaintext pages in secret regions now, of WINDOW_PAGES",
	  [](const PsRow &r) { return Json(r.stats.secret_window_pages); } },
	{ "SECRET_REGIONS", false, true, "secret regions the process marked",
	  [](const PsRow &r) { return Json(r.stats.secret_regions); } },
	{ "MAX_PLAIN_AGE_MS", false, true, "idle expiry in force, ms (0: none)",
	  [](const PsRow &r) { return Json(r.stats.max_plain_age_ms); } },
	{ "SECRET_PLAIN_AGE_MS", false, true, "expiry of the secret window in force, ms (0: none; module ABI 5)",
	  [](const PsRow &r) { return Json(r.stats.secret_plain_age_ms); } },
	{ "ENCRYPTED_PAGES", true, true, "pages held as ciphertext now",
	  [](const PsRow &r) { return Json(r.stats.encrypted_pages); } },
	{ "FAULTS", true, true, "user page faults seen", [](const PsRow &r) { return Json(r.stats.faults); } },
	{ "ENCRYPTIONS", false, true, "pages encrypted so far",
	  [](const PsRow &r) { return Json(r.stats.encryptions); } },
	{ "DECRYPTIONS", false, true, "pages decrypted so far",
	  [](const PsRow &r) { return Json(r.stats.decryptions); } },
	{ "SCANNER_PAGES", false, true, "pages the background scanner found",
	  [](const PsRow &r) { return Json(r.stats.scanner_pages); } },
	{ "SKIPPED_PINNED", true, true, "pages left plaintext: pinned or locked (per scan that met them)",
	  [](const PsRow &r) { return Json(r.stats.skipped_pinned); } },
	{ "SKIPPED_SHARED", false, true, "pages left plaintext: shared with another process (module ABI 4)",
	  [](const PsRow &r) { return Json(r.stats.skipped_shared); } },
	{ "SKIPPED_SWAPCACHE", false, true, "pages left plaintext: in the swap cache (module ABI 4)",
	  [](const PsRow &r) { return Json(r.stats.skipped_swapcache); } },
	{ "DEGRADED_EVENTS", false, true, "pages left in plaintext for lack of memory",
	  [](const PsRow &r) { return Json(r.stats.degraded_events); } },
	{ "SWAPPED_PAGES", true, true, "its pages on a swap device now",
	  [](const PsRow &r) { return Json(r.stats.swapped_pages); } },
	{ "INHERIT_EXEC", false, true, "1 if protection is kept across execve (JSON: true)",
	  [](const PsRow &r) { return Json(bool(r.stats.state & RAMCRYPT_PROC_INHERIT_EXEC)); } },
	{ "DEGRADED", false, true, "1 if a page had to stay in plaintext",
	  [](const PsRow &r) { return Json(bool(r.stats.state & RAMCRYPT_PROC_DEGRADED)); } },
	{ "SWAP", false, true, "1 if its memory cgroup could swap since protection began",
	  [](const PsRow &r) { return Json(bool(r.stats.state & RAMCRYPT_PROC_SWAP)); } },
	{ "FLAGS", true, false, "inherit-exec, degraded, swap, over-window, over-secret-window (JSON: an array)",
	  [](const PsRow &r) { return Json(flags_of(r.stats)); } },
	{ "COMMAND", true, false, "command name, from /proc/PID/comm (JSON: null if unreadable)",
	  [](const PsRow &r) { return r.command ? Json(*r.command) : Json(nullptr); } },
};

// A value as a table cell: booleans 1/0 as lsblk has them, lists comma-separated.
std::string cell(const Json &v)
{
	if (v.is_boolean())
		return v.get<bool>() ? "1" : "0";
	if (v.is_number_unsigned())
		return std::to_string(v.get<std::uint64_t>());
	if (v.is_string())
		return v.get<std::string>();
	if (v.is_array()) {
		std::string s;
		for (const auto &item : v)
			s += (s.empty() ? "" : ",") + item.get<std::string>();
		return s.empty() ? "-" : s;
	}
	return "?"; // null: unknown
}

std::string lower(std::string_view s)
{
	std::string out(s);
	std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
	return out;
}

void add_defaults(std::vector<std::size_t> &columns)
{
	for (std::size_t i = 0; i < std::size(ps_table); i++) {
		if (ps_table[i].by_default)
			columns.push_back(i);
	}
}

} // namespace

std::vector<std::string> ps_column_names()
{
	std::vector<std::string> names;
	for (const auto &c : ps_table)
		names.push_back(c.name);
	return names;
}

std::string ps_columns(const std::vector<std::string> &output, bool all, std::vector<std::size_t> &columns)
{
	columns.clear();
	if (all) {
		for (std::size_t i = 0; i < std::size(ps_table); i++)
			columns.push_back(i);
		return {};
	}
	if (output.empty())
		add_defaults(columns);
	for (const auto &arg : output) {
		std::string_view list = arg;
		if (list.starts_with('+')) {
			if (columns.empty())
				add_defaults(columns);
			list.remove_prefix(1);
		}
		if (list.empty())
			return "missing column name in '" + arg + "'";
		for (;;) {
			auto comma = list.find(',');
			std::string_view name = list.substr(0, comma);
			auto it = std::find_if(std::begin(ps_table), std::end(ps_table),
					       [&](const PsColumn &c) { return lower(c.name) == lower(name); });
			if (name.empty())
				return "missing column name in '" + arg + "'";
			if (it == std::end(ps_table))
				return "unknown column '" + std::string(name) + "'";
			columns.push_back(static_cast<std::size_t>(it - std::begin(ps_table)));
			if (comma == std::string_view::npos)
				break;
			list.remove_prefix(comma + 1);
		}
	}
	return {};
}

std::string ps_columns_help()
{
	std::size_t width = 0;
	for (const auto &c : ps_table)
		width = std::max(width, std::string_view(c.name).size());

	std::string text = "Columns (default: *):\n";
	for (const auto &c : ps_table) {
		std::string name = c.name;
		name.resize(width, ' ');
		text += std::string("  ") + (c.by_default ? "*" : " ") + name + "  " + c.meaning + '\n';
	}
	return text;
}

void print_ps(std::ostream &out, const PsOptions &opt, const std::vector<PsRow> &rows)
{
	if (opt.json) {
		// One document as lsblk -J prints it, with one process per line for grep.
		out << "{\"processes\":[";
		for (std::size_t r = 0; r < rows.size(); r++) {
			Json o = Json::object();
			for (std::size_t i : opt.columns)
				o[lower(ps_table[i].name)] = ps_table[i].value(rows[r]);
			out << (r ? ",\n" : "\n") << json_text(o);
		}
		out << (rows.empty() ? "" : "\n") << "]}\n";
		return;
	}

	std::vector<Column> columns;
	for (std::size_t i : opt.columns)
		columns.push_back({ ps_table[i].name, ps_table[i].number });
	Table table(columns);
	table.noheadings(opt.noheadings);
	table.raw(opt.raw);
	for (const auto &row : rows) {
		std::vector<std::string> cells;
		for (std::size_t i : opt.columns)
			cells.push_back(cell(ps_table[i].value(row)));
		table.add_row(cells);
	}
	table.print(out);
}

} // namespace ramcrypt
