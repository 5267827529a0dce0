// SPDX-License-Identifier: GPL-2.0
#include "output.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ramcrypt {
namespace {

TEST(JsonQuote, EscapesWhatJsonRequires)
{
	EXPECT_EQ(json_quote(""), "\"\"");
	EXPECT_EQ(json_quote("plain text"), "\"plain text\"");
	EXPECT_EQ(json_quote("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	EXPECT_EQ(json_quote("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
	EXPECT_EQ(json_quote(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
}

TEST(JsonQuote, KeepsValidUtf8)
{
	EXPECT_EQ(json_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\"");
}

TEST(JsonQuote, ReplacesInvalidUtf8)
{
	EXPECT_EQ(json_quote("\xff"), "\"\\ufffd\"");
	EXPECT_EQ(json_quote("a\xc3"), "\"a\\ufffd\"");			// truncated
	EXPECT_EQ(json_quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");	// overlong '/'
	EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\""); // surrogate
	EXPECT_EQ(json_quote("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); // > U+10FFFF
	EXPECT_EQ(json_quote("\x80z"), "\"\\ufffdz\"");
}

TEST(JsonObject, KeepsKeyOrderAndTypes)
{
	JsonObject inner;
	inner.number("n", 18446744073709551615ULL);
	JsonObject o;
	o.string("s", "x\"y").number("zero", 0).boolean("t", true).boolean("f", false);
	o.strings("empty", {}).strings("list", { "a", "b\n" }).object("inner", inner).object("none", JsonObject());
	EXPECT_EQ(o.str(), "{\"s\":\"x\\\"y\",\"zero\":0,\"t\":true,\"f\":false,\"empty\":[],"
			   "\"list\":[\"a\",\"b\\n\"],\"inner\":{\"n\":18446744073709551615},\"none\":{}}");
	EXPECT_EQ(JsonObject().str(), "{}");
}

TEST(Table, AlignsColumns)
{
	Table t({ { "PID", true }, { "NAME", false }, { "COMMENT", false } });
	t.add_row({ "1", "init", "x" });
	t.add_row({ "12345", "a", "" });
	std::ostringstream out;
	t.print(out);
	EXPECT_EQ(out.str(), "  PID  NAME  COMMENT\n"
			     "    1  init  x\n"
			     "12345  a     \n");
}

TEST(Table, HeaderOnlyWhenEmpty)
{
	Table t({ { "A", false }, { "B", true } });
	std::ostringstream out;
	t.print(out);
	EXPECT_EQ(out.str(), "A  B\n");
}

TEST(Table, NeutralizesControlCharacters)
{
	Table t({ { "NAME", false } });
	t.add_row({ "a\x1b]0;pwned\x07\n" });
	std::ostringstream out;
	t.print(out);
	EXPECT_EQ(out.str(), "NAME\na?]0;pwned??\n");
}

TEST(Table, RejectsRowsOfTheWrongWidth)
{
	Table t({ { "A", false }, { "B", false } });
	EXPECT_THROW(t.add_row({ "1" }), std::logic_error);
}

} // namespace
} // namespace ramcrypt
