#include "fte/access/api_token.hpp"

#include <set>

#include <gtest/gtest.h>

namespace fte::access {
namespace {

TEST(ApiToken, GeneratedTokensHaveTheShapeAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto token = generate_api_token();
    EXPECT_EQ(token.size(), 4u + 64u) << token;
    EXPECT_TRUE(token.starts_with("fte_")) << token;
    EXPECT_TRUE(is_api_token(token)) << token;
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(ApiToken, ShapeCheckRefusesEverythingElse) {
  const std::string good = "fte_" + std::string(64, 'a');
  EXPECT_TRUE(is_api_token(good));
  for (const std::string& bad :
       {std::string(), std::string("fte_"), "FTE_" + std::string(64, 'a'), "fte_" + std::string(63, 'a'),
        "fte_" + std::string(65, 'a'), "fte_" + std::string(63, 'a') + "G", "fte_" + std::string(63, 'a') + "A",
        "fte_" + std::string(63, 'a') + " ", "ghp_" + std::string(64, 'a')}) {
    EXPECT_FALSE(is_api_token(bad)) << bad;
  }
}

TEST(ApiToken, DigestIsTheSha256OfTheWholeToken) {
  // sha256("fte_" + 64 zeros), computed with sha256sum.
  EXPECT_EQ(api_token_digest("fte_" + std::string(64, '0')),
            "80bc2c1514f89939b19f52f85310c21f8627dbb45d39ec84552968ceb208d059");
}

TEST(ApiToken, RolesParseAndSupervisorsMayDoWhatAgentsMay) {
  EXPECT_EQ(parse_role("agent"), Role::agent);
  EXPECT_EQ(parse_role("supervisor"), Role::supervisor);
  EXPECT_FALSE(parse_role("Supervisor").has_value());
  EXPECT_FALSE(parse_role("admin").has_value());
  EXPECT_EQ(to_string(Role::supervisor), "supervisor");
  EXPECT_TRUE(permits(Role::agent, Role::agent));
  EXPECT_FALSE(permits(Role::agent, Role::supervisor));
  EXPECT_TRUE(permits(Role::supervisor, Role::agent));
  EXPECT_TRUE(permits(Role::supervisor, Role::supervisor));
}

TEST(ApiToken, Names) {
  for (const std::string& good : {std::string("ci"), std::string("zapier-sync"), std::string("ops.bot_1"),
                                  std::string("7"), std::string(63, 'a')})
    EXPECT_TRUE(is_token_name(good)) << good;
  for (const std::string& bad : {std::string(), std::string("-x"), std::string(".x"), std::string("Ops"),
                                 std::string("a b"), std::string(64, 'a'), std::string("a/b")})
    EXPECT_FALSE(is_token_name(bad)) << bad;
}

} // namespace
} // namespace fte::access
