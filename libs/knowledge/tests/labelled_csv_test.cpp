#include "fte/knowledge/labelled_csv.hpp"

#include <gtest/gtest.h>

namespace fte::knowledge {
namespace {

TEST(LabelledCsv, ReadsQuotedFieldsAndKeepsTheGoodRows) {
  const std::string input = "\xEF\xBB\xBFtext,article\r\n"
                            "how do I reset my password,reset-password\r\n"
                            "\"card, lost \"\"yesterday\"\"\nand more\",lost-card\n"
                            "\n"
                            "no label\n"
                            ",lost-card\n"
                            "who won the cup,escalate\n"
                            "bad slug,Not A Slug\n"
                            "\"broken\"x,lost-card\n"
                            "a,b,c\n"
                            "invalid \xFF utf8,lost-card\n";
  const auto csv = parse_labelled_csv(input, "article");
  ASSERT_EQ(csv.rows.size(), 3U);
  EXPECT_EQ(csv.rows[0].text, "how do I reset my password");
  EXPECT_EQ(csv.rows[0].slug, "reset-password");
  EXPECT_EQ(csv.rows[0].line, 2U);
  EXPECT_EQ(csv.rows[1].text, "card, lost \"yesterday\"\nand more");
  EXPECT_EQ(csv.rows[1].line, 3U);
  EXPECT_EQ(csv.rows[2].slug, "escalate");
  EXPECT_EQ(csv.rows[2].line, 8U);
  ASSERT_EQ(csv.errors.size(), 6U);
  EXPECT_EQ(csv.errors[0].line, 6U);
  EXPECT_NE(csv.errors[0].reason.find("expected 2 fields"), std::string::npos);
  EXPECT_EQ(csv.errors[1].line, 7U);
  EXPECT_EQ(csv.errors[1].reason, "empty text");
  EXPECT_EQ(csv.errors[2].line, 9U);
  EXPECT_NE(csv.errors[2].reason.find("not an article slug"), std::string::npos);
  EXPECT_EQ(csv.errors[3].reason, "malformed quoting");
  EXPECT_NE(csv.errors[4].reason.find("found 3"), std::string::npos);
  EXPECT_EQ(csv.errors[5].reason, "not valid UTF-8");
}

TEST(LabelledCsv, AWrongHeaderReadsNothing) {
  EXPECT_THROW((void)parse_labelled_csv("text,expected\na,b\n", "article"), std::invalid_argument);
  EXPECT_THROW((void)parse_labelled_csv("", "article"), std::invalid_argument);
  EXPECT_NO_THROW((void)parse_labelled_csv("text,expected", "expected"));
}

TEST(LabelledCsv, AnUnterminatedQuoteIsAnErrorNotAHang) {
  const auto csv = parse_labelled_csv("text,article\n\"never closed,lost-card\n", "article");
  EXPECT_TRUE(csv.rows.empty());
  ASSERT_EQ(csv.errors.size(), 1U);
  EXPECT_EQ(csv.errors[0].reason, "malformed quoting");
}

} // namespace
} // namespace fte::knowledge
