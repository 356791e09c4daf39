#include "fte/oidc/jwks.hpp"

#include <gtest/gtest.h>

#include "fte/oidc/testing/signing_key.hpp"

namespace fte::oidc {
namespace {

using namespace std::chrono_literals;

TEST(Jwks, KeepsRs256SigningKeysByKid) {
  const testing::SigningKey a("a");
  const testing::SigningKey b("b");
  auto document = nlohmann::json::parse(testing::jwks_document({&a, &b}));
  auto encryption = a.jwk();
  encryption["kid"] = "enc";
  encryption["use"] = "enc";
  document["keys"].push_back(encryption);
  auto ec = a.jwk();
  ec["kid"] = "ec";
  ec["kty"] = "EC";
  document["keys"].push_back(ec);
  auto hs = a.jwk();
  hs["kid"] = "hs";
  hs["alg"] = "HS256";
  document["keys"].push_back(hs);
  auto bare = b.jwk(); // Google's older documents have no alg or use
  bare.erase("alg");
  bare.erase("use");
  bare["kid"] = "bare";
  document["keys"].push_back(bare);
  document["keys"].push_back(nlohmann::json{{"kty", "RSA"}});
  document["keys"].push_back(42);

  const auto parsed = parse_jwks(document.dump());
  ASSERT_TRUE(std::holds_alternative<KeySet>(parsed)) << std::get<std::string>(parsed);
  const auto& set = std::get<KeySet>(parsed);
  EXPECT_EQ(set.keys.size(), 3U);
  EXPECT_NE(set.find("a"), nullptr);
  EXPECT_NE(set.find("b"), nullptr);
  EXPECT_NE(set.find("bare"), nullptr);
  EXPECT_EQ(set.find("enc"), nullptr);
  EXPECT_EQ(set.find("ec"), nullptr);
  EXPECT_EQ(set.find("hs"), nullptr);
  EXPECT_EQ(set.skipped.size(), 5U);
}

TEST(Jwks, RefusesDocumentsWithoutUsableKeys) {
  for (const char* body : {"", "null", "[]", "{}", R"({"keys":{}})", R"({"keys":[]})", R"({"keys":[{"kid":"x"}]})",
                           "{\"keys\":[", "\xff"}) {
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_jwks(body))) << body;
  }
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_jwks(std::string(kMaxJwksBytes + 1, ' '))));
}

TEST(Jwks, CacheControlMaxAge) {
  EXPECT_EQ(cache_control_max_age("public, max-age=19845, must-revalidate, no-transform"), 19845s);
  EXPECT_EQ(cache_control_max_age("Max-Age=60"), 60s);
  EXPECT_EQ(cache_control_max_age("max-age=\"120\""), 120s);
  EXPECT_EQ(cache_control_max_age("s-maxage=5, max-age = 30"), 30s);
  EXPECT_EQ(cache_control_max_age("no-cache, max-age=3600"), 0s);
  EXPECT_EQ(cache_control_max_age("no-store"), 0s);
  EXPECT_EQ(cache_control_max_age("max-age=99999999999999999999999"), std::chrono::seconds(4294967295LL));
  EXPECT_FALSE(cache_control_max_age("public, must-revalidate"));
  EXPECT_FALSE(cache_control_max_age("max-age=-5"));
  EXPECT_FALSE(cache_control_max_age("max-age=12abc"));
  EXPECT_FALSE(cache_control_max_age(""));
}

} // namespace
} // namespace fte::oidc
