#include "fte/common/text.hpp"

#include <gtest/gtest.h>

namespace fte {
namespace {

TEST(TruncateUtf8, CountsCodePointsAndNeverSplitsOne) {
  EXPECT_EQ(truncate_utf8("héllo", 2), "hé");
  EXPECT_EQ(truncate_utf8("€€€", 2), "€€");
  EXPECT_EQ(truncate_utf8("abc", 10), "abc");
  EXPECT_EQ(truncate_utf8("", 3), "");
  EXPECT_EQ(truncate_utf8("a\xE2\x82", 5), "a"); // a cut-off sequence at the end is dropped
  EXPECT_EQ(truncate_utf8("😀x", 1), "😀");
}

TEST(Trim, RemovesSpacesTabsAndLineBreaksAtBothEnds) {
  EXPECT_EQ(trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \n "), "");
  EXPECT_EQ(trim("\xC2\xA0x"), "\xC2\xA0x"); // only ASCII white space
}

TEST(LowerAscii, LowersAsciiLettersOnly) {
  EXPECT_EQ(lower_ascii("WhatsApp:+1 ÄB"), "whatsapp:+1 Äb");
  EXPECT_EQ(lower_ascii(""), "");
}

} // namespace
} // namespace fte
