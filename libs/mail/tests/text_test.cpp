#include <string>

#include <gtest/gtest.h>

#include "text.hpp"

namespace fte::mail::detail {
namespace {

TEST(SanitizeText, ReplacesInvalidUtf8AndDropsControls) {
  EXPECT_EQ(sanitize_text("ok é"), "ok é");
  EXPECT_EQ(sanitize_text("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_text("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                 // overlong '/'
  EXPECT_EQ(sanitize_text("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // surrogate
  EXPECT_EQ(sanitize_text("\xF4\x90\x80\x80").find("\xF4"), std::string::npos);     // above U+10FFFF
  EXPECT_EQ(sanitize_text(std::string("a\0b\x07\x7F"
                                      "c",
                                      6)),
            "abc");
  EXPECT_EQ(sanitize_text("a\r\nb\rc\nd\te"), "a\nb\nc\nd\te");
  EXPECT_EQ(sanitize_text("\xEF\xBB\xBFtext\xC2\x85"), "text");
  EXPECT_EQ(sanitize_text("truncated \xE2\x82"), "truncated \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(SanitizeHeaderText, OneLine) { EXPECT_EQ(sanitize_header_text("  a \r\n\tb  c "), "a b c"); }

TEST(Utf8Prefix, NeverSplitsACharacter) {
  const std::string text = "aé日😀";
  EXPECT_EQ(utf8_prefix(text, 100), text);
  EXPECT_EQ(utf8_prefix(text, 1), "a");
  EXPECT_EQ(utf8_prefix(text, 2), "a");
  EXPECT_EQ(utf8_prefix(text, 3), "aé");
  EXPECT_EQ(utf8_prefix(text, 5), "aé");
  EXPECT_EQ(utf8_prefix(text, 6), "aé日");
  EXPECT_EQ(utf8_prefix(text, 9), "aé日");
  EXPECT_EQ(utf8_prefix(text, 10), text);
  EXPECT_EQ(utf8_prefix(text, 0), "");
}

TEST(AsciiHelpers, CaseAndTrim) {
  EXPECT_EQ(lower_ascii("MiXeD É"), "mixed É");
  EXPECT_TRUE(iequals_ascii("Wrote", "wROTE"));
  EXPECT_TRUE(istarts_with_ascii("From: x", "FROM:"));
  EXPECT_FALSE(istarts_with_ascii("Fr", "From"));
  EXPECT_EQ(trim_ascii(" \t a b \r\n"), "a b");
}

} // namespace
} // namespace fte::mail::detail
