// SPDX-License-Identifier: GPL-2.0
#include "output.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ramcrypt {
namespace {

TEST(JsonText, EscapesWhatJsonRequires)
{
	EXPECT_EQ(json_text(""), "\"\"");
	EXPECT_EQ(json_text("plain text"), "\"plain text\"");
	EXPECT_EQ(json_text("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	EXPECT_EQ(json_text("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
	EXPECT_EQ(json_text(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
}

TEST(JsonText, KeepsValidUtf8)
{
	EXPECT_EQ(json_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\"");
}

// A process name can hold any bytes: the output stays valid UTF-8 and JSON.
TEST(JsonText, ReplacesInvalidUtf8)
{
	const std::string fffd = "\xef\xbf\xbd";
	EXPECT_EQ(json_text("\xff"), "\"" + fffd + "\"");
	EXPECT_EQ(json_text("a\xc3"), "\"a" + fffd + "\"");		// truncated
	EXPECT_EQ(json_text("\x80z"), "\"" + fffd + "z\"");
	for (const char *bad : { "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80" }) { // overlong, surrogate, > U+10FFFF
		std::string text = json_text(bad);
		EXPECT_EQ(text.find_first_of("\xc0\xed\xf4"), std::string::npos) << text;
		EXPECT_NE(text.find(fffd), std::string::npos) << text;
		EXPECT_FALSE(Json::parse(text, nullptr, false).is_discarded()) << text;
	}
}

TEST(JsonText, KeepsKeyOrderAndTypes)
{
	Json o = { { "s", "x\"y" }, { "zero", 0 }, { "t", true }, { "f", false } };
	o["empty"] = Json::array();
	o["list"] = std::vector<std::string>{ "a", "b\n" };
	o["inner"] = { { "n", 18446744073709551615ULL } };
	o["none"] = Json::object();
	EXPECT_EQ(json_text(o), "{\"s\":\"x\\\"y\",\"zero\":0,\"t\":true,\"f\":false,\"empty\":[],"
				"\"list\":[\"a\",\"b\\n\"],\"inner\":{\"n\":18446744073709551615},\"none\":{}}");
	EXPECT_EQ(json_text(Json::object()), "{}");
}

TEST(Printable, ReplacesControlCharacters)
{
	EXPECT_EQ(printable("a\x1b]0;pwned\x07\n\x7f" "b"), "a?]0;pwned???b");
}

TEST(Table, AlignsColumns)
{
	Table t({ { "PID", true }, { "NAME", false }, { "COMMENT", false } });
	t.add_row({ "1", "init", "x" });
	t.add_row({ "12345", "a", "" });
	std::ostringstream out;
	t.print(out);
	EXPECT_EQ(out.str(), "  PID NAME COMMENT\n"
			     "    1 init x\n"
			     "12345 a    \n");
}

TEST(Table, NoHeadingsAndRaw)
{
	Table t({ { "PID", true }, { "NAME", false } });
	t.add_row({ "1", "two words" });
	t.add_row({ "12345", "a" });
	t.noheadings(true);
	std::ostringstream out;
	t.print(out);
	EXPECT_EQ(out.str(), "    1 two words\n12345 a\n");
	t.raw(true);
	t.noheadings(false);
	out.str("");
	t.print(out);
	EXPECT_EQ(out.str(), "PID NAME\n1 two\\x20words\n12345 a\n");
}

// As util-linux's tools: no rows, no header either.
TEST(Table, NothingWhenEmpty)
{
	Table t({ { "A", false }, { "B", true } });
	std::ostringstream out;
	t.print(out);
	EXPECT_EQ(out.str(), "");
}

TEST(Table, NeutralizesControlCharacters)
{
	Table t({ { "NAME", false } });
	t.add_row({ "a\x1b]0;pwned\x07\n" });
	std::ostringstream out;
	t.print(out);
	EXPECT_EQ(out.str(), "NAME\na\\x1b]0;pwned\\x07\\x0a\n");
}

TEST(Table, RejectsRowsOfTheWrongWidth)
{
	Table t({ { "A", false }, { "B", false } });
	EXPECT_THROW(t.add_row({ "1" }), std::logic_error);
}

} // namespace
} // namespace ramcrypt
