#include "fte/oidc/base64.hpp"

#include <gtest/gtest.h>

namespace fte::oidc {
namespace {

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    const auto encoded = encode_base64url(bytes);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    EXPECT_EQ(decode_base64url(encoded), bytes) << encoded;
    EXPECT_EQ(decode_base64(encode_base64(bytes)), bytes);
    bytes.push_back(static_cast<char>(i * 37 + 250));
  }
}

TEST(Base64Url, KnownVectors) {
  EXPECT_EQ(encode_base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(decode_base64url("-_8"), "\xfb\xff");
  EXPECT_EQ(encode_base64("\xfb\xff"), "+/8=");
  EXPECT_EQ(decode_base64("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decode_base64("Zm9vYg=="), "foob");
  EXPECT_EQ(decode_base64("Zm9vYg"), "foob");
  EXPECT_EQ(decode_base64("Zm9vYmE="), "fooba");
}

TEST(Base64Url, RefusesWhatNoEncoderProduces) {
  EXPECT_FALSE(decode_base64url("abc="));   // padding
  EXPECT_FALSE(decode_base64url("ab+/"));   // standard alphabet
  EXPECT_FALSE(decode_base64url("a"));      // impossible length
  EXPECT_FALSE(decode_base64url("ab c"));   // whitespace
  EXPECT_FALSE(decode_base64url("-_9"));    // non-zero unused bits
  EXPECT_FALSE(decode_base64("Zm9vYg="));   // wrong padding
  EXPECT_FALSE(decode_base64("Zm9v===="));  // padding where none was due
  EXPECT_FALSE(decode_base64("Zm9vYmFy=")); // padding after a full group
  EXPECT_FALSE(decode_base64("Zm9v-_"));    // url alphabet
  EXPECT_FALSE(decode_base64("Zm9v\nYmFy"));
  EXPECT_FALSE(decode_base64("=="));
  EXPECT_EQ(decode_base64(""), "");
}

} // namespace
} // namespace fte::oidc
