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

} // namespace
} // namespace fte
