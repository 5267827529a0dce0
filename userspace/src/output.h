// SPDX-License-Identifier: GPL-2.0
// Output for people (aligned tables) and for scripts (one JSON object per line).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace ramcrypt {

// A JSON string literal, quotes included. Invalid UTF-8 becomes U+FFFD so the
// output is always valid JSON, whatever bytes a process name holds.
std::string json_quote(std::string_view s);

// A JSON object built field by field; keys appear in the order they are added.
class JsonObject {
public:
	JsonObject &string(std::string_view key, std::string_view value);
	JsonObject &number(std::string_view key, std::uint64_t value);
	JsonObject &boolean(std::string_view key, bool value);
	JsonObject &strings(std::string_view key, const std::vector<std::string> &values);
	JsonObject &object(std::string_view key, const JsonObject &value);
	JsonObject &objects(std::string_view key, const std::vector<JsonObject> &values);
	std::string str() const { return "{" + body_ + "}"; }

private:
	void key(std::string_view key);
	std::string body_;
};

// Control characters replaced by '?', so a process name cannot drive the terminal.
std::string printable(std::string_view s);

struct Column {
	std::string name;
	bool right_aligned;
};

// Columns separated by two spaces, header first; the last column is not padded.
class Table {
public:
	explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
	void add_row(std::vector<std::string> cells);
	void print(std::ostream &out) const;

private:
	std::vector<Column> columns_;
	std::vector<std::vector<std::string>> rows_;
};

} // namespace ramcrypt
