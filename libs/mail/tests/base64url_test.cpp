#include <string>

#include <gtest/gtest.h>

#include "fte/mail/mail.hpp"

namespace fte::mail {
namespace {

// RFC 4648 section 10 test vectors, in the URL-safe alphabet without padding.
TEST(Base64Url, Rfc4648Vectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Url, UsesTheUrlSafeAlphabet) {
  EXPECT_EQ(base64url_encode("\xFB\xFF\xBF"), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_"), std::string("\xFB\xFF\xBF"));
}

TEST(Base64Url, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(base64url_decode("Zg"), std::string("f"));
  EXPECT_EQ(base64url_decode("Zg=="), std::string("f"));
  EXPECT_EQ(base64url_decode("Zm8"), std::string("fo"));
  EXPECT_EQ(base64url_decode("Zm8="), std::string("fo"));
  EXPECT_EQ(base64url_decode("Zm9vYmFy"), std::string("foobar"));
  EXPECT_EQ(base64url_decode(""), std::string());
}

TEST(Base64Url, RejectsOtherAlphabetsAndImpossibleLengths) {
  EXPECT_FALSE(base64url_decode("Zm9v+A").has_value());
  EXPECT_FALSE(base64url_decode("Zm9v/A").has_value());
  EXPECT_FALSE(base64url_decode("Zm 9v").has_value());
  EXPECT_FALSE(base64url_decode("Z").has_value());
  EXPECT_FALSE(base64url_decode("Zm9vY").has_value());
  EXPECT_FALSE(base64url_decode("Zg=").has_value());
  EXPECT_FALSE(base64url_decode("Z===").has_value());
  EXPECT_FALSE(base64url_decode("Zg==Zg==").has_value());
}

TEST(Base64Url, RoundTripsEveryByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes += static_cast<char>(i);
  for (std::size_t length = 0; length <= bytes.size(); length += 7) {
    const auto part = bytes.substr(0, length);
    EXPECT_EQ(base64url_decode(base64url_encode(part)), part);
  }
}

} // namespace
} // namespace fte::mail
