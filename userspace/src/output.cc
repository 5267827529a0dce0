// SPDX-License-Identifier: GPL-2.0
#include "output.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace ramcrypt {
namespace {

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 if it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i)
{
	auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
	unsigned char c = byte(i);
	std::size_t len;
	unsigned char lo = 0x80, hi = 0xbf; // allowed range of the second byte

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (i + len > s.size() || byte(i + 1) < lo || byte(i + 1) > hi)
		return 0;
	for (std::size_t k = 2; k < len; k++) {
		if (byte(i + k) < 0x80 || byte(i + k) > 0xbf)
			return 0;
	}
	return len;
}

} // namespace

std::string json_quote(std::string_view s)
{
	std::string out = "\"";

	for (std::size_t i = 0; i < s.size();) {
		unsigned char c = static_cast<unsigned char>(s[i]);

		if (c >= 0x80) {
			std::size_t len = utf8_sequence(s, i);
			if (len) {
				out.append(s.substr(i, len));
				i += len;
			} else {
				out += "\\ufffd";
				i++;
			}
			continue;
		}
		switch (c) {
		case '"': out += "\\\""; break;
		case '\\': out += "\\\\"; break;
		case '\b': out += "\\b"; break;
		case '\f': out += "\\f"; break;
		case '\n': out += "\\n"; break;
		case '\r': out += "\\r"; break;
		case '\t': out += "\\t"; break;
		default:
			if (c < 0x20) {
				char buf[8];
				std::snprintf(buf, sizeof(buf), "\\u%04x", c);
				out += buf;
			} else {
				out += static_cast<char>(c);
			}
		}
		i++;
	}
	return out + "\"";
}

void JsonObject::key(std::string_view key)
{
	if (!body_.empty())
		body_ += ',';
	body_ += json_quote(key);
	body_ += ':';
}

JsonObject &JsonObject::string(std::string_view key, std::string_view value)
{
	this->key(key);
	body_ += json_quote(value);
	return *this;
}

JsonObject &JsonObject::number(std::string_view key, std::uint64_t value)
{
	this->key(key);
	body_ += std::to_string(value);
	return *this;
}

JsonObject &JsonObject::boolean(std::string_view key, bool value)
{
	this->key(key);
	body_ += value ? "true" : "false";
	return *this;
}

JsonObject &JsonObject::strings(std::string_view key, const std::vector<std::string> &values)
{
	this->key(key);
	body_ += '[';
	for (std::size_t i = 0; i < values.size(); i++) {
		if (i)
			body_ += ',';
		body_ += json_quote(values[i]);
	}
	body_ += ']';
	return *this;
}

JsonObject &JsonObject::object(std::string_view key, const JsonObject &value)
{
	this->key(key);
	body_ += value.str();
	return *this;
}

JsonObject &JsonObject::objects(std::string_view key, const std::vector<JsonObject> &values)
{
	this->key(key);
	body_ += '[';
	for (std::size_t i = 0; i < values.size(); i++) {
		if (i)
			body_ += ',';
		body_ += values[i].str();
	}
	body_ += ']';
	return *this;
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

void Table::add_row(std::vector<std::string> cells)
{
	if (cells.size() != columns_.size())
		throw std::logic_error("table row has the wrong number of cells");
	for (auto &cell : cells)
		cell = printable(cell);
	rows_.push_back(std::move(cells));
}

void Table::print(std::ostream &out) const
{
	std::vector<std::size_t> width;

	for (const auto &col : columns_)
		width.push_back(col.name.size());
	for (const auto &row : rows_) {
		for (std::size_t i = 0; i < row.size(); i++)
			width[i] = std::max(width[i], row[i].size());
	}

	auto line = [&](auto cell) {
		std::string text;
		for (std::size_t i = 0; i < columns_.size(); i++) {
			std::string_view value = cell(i);
			std::string pad(width[i] - value.size(), ' ');
			bool last = i + 1 == columns_.size();

			if (i)
				text += "  ";
			if (columns_[i].right_aligned)
				text += pad + std::string(value);
			else
				text += std::string(value) + (last ? "" : pad);
		}
		out << text << '\n';
	};

	line([&](std::size_t i) -> std::string_view { return columns_[i].name; });
	for (const auto &row : rows_)
		line([&](std::size_t i) -> std::string_view { return row[i]; });
}

} // namespace ramcrypt
