#include "fte/oidc/code_flow.hpp"

#include <gtest/gtest.h>

#include "fte/oidc/base64.hpp"

namespace fte::oidc {
namespace {

constexpr const char* kIssuer = "http://127.0.0.1:18180/realms/fte";

std::string discovery(const std::string& issuer) {
  return nlohmann::json{{"issuer", issuer},
                        {"authorization_endpoint", std::string(kIssuer) + "/protocol/openid-connect/auth"},
                        {"token_endpoint", std::string(kIssuer) + "/protocol/openid-connect/token"},
                        {"jwks_uri", std::string(kIssuer) + "/protocol/openid-connect/certs"},
                        {"end_session_endpoint", std::string(kIssuer) + "/protocol/openid-connect/logout"}}
      .dump();
}

TEST(CodeFlow, DiscoveryMustNameTheExpectedIssuer) {
  const auto ok = parse_provider_metadata(discovery(kIssuer), kIssuer);
  ASSERT_TRUE(std::holds_alternative<ProviderMetadata>(ok)) << std::get<std::string>(ok);
  EXPECT_EQ(std::get<ProviderMetadata>(ok).token_endpoint, std::string(kIssuer) + "/protocol/openid-connect/token");
  const auto other = parse_provider_metadata(discovery("https://evil.example"), kIssuer);
  ASSERT_TRUE(std::holds_alternative<std::string>(other));
  EXPECT_NE(std::get<std::string>(other).find("evil.example"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_provider_metadata("<html>", kIssuer)));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_provider_metadata(R"({"issuer":"x"})", "x")));
}

TEST(CodeFlow, PkceS256MatchesRfc7636AppendixB) {
  EXPECT_EQ(code_challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  const auto verifier = new_code_verifier();
  EXPECT_EQ(verifier.size(), 43u); // 32 bytes, base64url without padding: within RFC 7636's 43..128
  EXPECT_TRUE(decode_base64url(verifier).has_value());
  EXPECT_NE(new_code_verifier(), verifier);
  EXPECT_EQ(new_random_value().size(), 32u);
}

TEST(CodeFlow, AuthorizationUrlCarriesEveryParameterEncoded) {
  ProviderMetadata provider{kIssuer, std::string(kIssuer) + "/auth", "", "", ""};
  const auto url = authorization_url(provider, {"fte-desk", "http://127.0.0.1:8083/auth/callback",
                                                "openid profile email", "st&ate", "n", "challenge"});
  EXPECT_EQ(url, std::string(kIssuer) +
                     "/auth?response_type=code&client_id=fte-desk&redirect_uri=http%3A%2F%2F127.0.0.1%3A8083%2Fauth%"
                     "2Fcallback&scope=openid%20profile%20email&state=st%26ate&nonce=n&code_challenge=challenge&"
                     "code_challenge_method=S256");
  provider.authorization_endpoint += "?prompt=login";
  EXPECT_NE(authorization_url(provider, {}).find("?prompt=login&response_type=code"), std::string::npos);
}

TEST(CodeFlow, TokenAnswers) {
  const auto ok = read_token_response(200, R"({"access_token":"a","id_token":"h.c.s","token_type":"Bearer"})");
  ASSERT_EQ(ok.index(), 0u);
  EXPECT_EQ(std::get<0>(ok), "h.c.s");
  const auto refused = read_token_response(400, R"({"error":"invalid_grant","error_description":"Code not valid"})");
  ASSERT_EQ(refused.index(), 1u);
  EXPECT_EQ(std::get<1>(refused), "invalid_grant: Code not valid");
  EXPECT_EQ(read_token_response(200, R"({"access_token":"a"})").index(), 1u);
  EXPECT_EQ(read_token_response(502, "<html>bad gateway</html>").index(), 1u);
  EXPECT_EQ(token_request_body("c/1", "http://x/cb", "v"),
            "grant_type=authorization_code&code=c%2F1&redirect_uri=http%3A%2F%2Fx%2Fcb&code_verifier=v");
}

TEST(CodeFlow, GroupsClaimAsArrayOrString) {
  const nlohmann::json claims = {{"groups", {"fte-agents", 7, "x"}}, {"role", "supervisor"}, {"n", 1}};
  EXPECT_EQ(string_list_claim(claims, "groups"), (std::vector<std::string>{"fte-agents", "x"}));
  EXPECT_EQ(string_list_claim(claims, "role"), (std::vector<std::string>{"supervisor"}));
  EXPECT_TRUE(string_list_claim(claims, "n").empty());
  EXPECT_TRUE(string_list_claim(claims, "missing").empty());
}

} // namespace
} // namespace fte::oidc
