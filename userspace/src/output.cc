// SPDX-License-Identifier: GPL-2.0
#include "output.h"

#include <libsmartcols/libsmartcols.h>

#include <cstdlib>
#include <new>
#include <stdexcept>

namespace ramcrypt {

std::string json_text(const Json &value)
{
	return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string printable(std::string_view s)
{
	std::string out(s);

	for (char &c : out) {
		if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
			c = '?';
	}
	return out;
}

Table::Table(const std::vector<Column> &columns) : tb_(scols_new_table()), ncolumns_(columns.size())
{
	if (!tb_)
		throw std::bad_alloc();
	for (const auto &col : columns) {
		if (!scols_table_new_column(tb_, col.name.c_str(), 0, col.right_aligned ? SCOLS_FL_RIGHT : 0)) {
			scols_unref_table(tb_);
			throw std::bad_alloc();
		}
	}
}

Table::~Table()
{
	scols_unref_table(tb_);
}

void Table::noheadings(bool on)
{
	scols_table_enable_noheadings(tb_, on);
}

void Table::raw(bool on)
{
	scols_table_enable_raw(tb_, on);
}

void Table::add_row(const std::vector<std::string> &cells)
{
	if (cells.size() != ncolumns_)
		throw std::logic_error("table row has the wrong number of cells");
	libscols_line *line = scols_table_new_line(tb_, nullptr);
	if (!line)
		throw std::bad_alloc();
	for (std::size_t i = 0; i < cells.size(); i++) {
		if (scols_line_set_data(line, i, cells[i].c_str()))
			throw std::bad_alloc();
	}
}

void Table::print(std::ostream &out) const
{
	char *text = nullptr;

	if (scols_print_table_to_string(tb_, &text) || !text)
		throw std::bad_alloc();
	out << text;
	// libsmartcols ends the last line without its newline in a string.
	if (*text)
		out << '\n';
	std::free(text);
}

} // namespace ramcrypt
