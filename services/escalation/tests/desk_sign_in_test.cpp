// The sign-in's decisions as plain functions: settings, roles from groups,
// the session cookie, and where a sign-in may send the browser back.
#include "desk_sign_in.hpp"

#include <gtest/gtest.h>

namespace fte::escalation {
namespace {

Environment env(const std::map<std::string, std::string>& values) {
  return Environment(std::map<std::string, std::string, std::less<>>(values.begin(), values.end()));
}

TEST(DeskSignInSettings, OffWithoutAnIssuerAndDefaultsOtherwise) {
  EXPECT_FALSE(SignInSettings::from_env(env({}), "0.0.0.0:8083").has_value());
  EXPECT_THROW((void)SignInSettings::from_env(env({{"FTE_OIDC_ISSUER", "http://idp/realms/fte"}}), "0.0.0.0:8083"),
               ConfigError); // no client secret
  const auto settings = SignInSettings::from_env(
      env({{"FTE_OIDC_ISSUER", "http://idp/realms/fte"}, {"FTE_OIDC_CLIENT_SECRET", "s"}}), "0.0.0.0:8083");
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->client_id, "fte-desk");
  EXPECT_EQ(settings->redirect_uri(), "http://127.0.0.1:8083/auth/callback");
  EXPECT_FALSE(settings->secure());
  EXPECT_EQ(settings->idle, std::chrono::minutes(30));
  EXPECT_EQ(settings->lifetime, std::chrono::hours(12));

  const auto public_tls = SignInSettings::from_env(env({{"FTE_OIDC_ISSUER", "https://login.example.com"},
                                                        {"FTE_OIDC_CLIENT_SECRET", "s"},
                                                        {"FTE_DESK_PUBLIC_URL", "https://desk.example.com/"},
                                                        {"FTE_DESK_AGENT_GROUPS", " support , tier1 "},
                                                        {"FTE_DESK_SESSION_IDLE_MINUTES", "5"}}),
                                                   "0.0.0.0:8083");
  EXPECT_EQ(public_tls->redirect_uri(), "https://desk.example.com/auth/callback");
  EXPECT_TRUE(public_tls->secure());
  EXPECT_EQ(public_tls->agent_groups, (std::vector<std::string>{"support", "tier1"}));
  EXPECT_EQ(public_tls->idle, std::chrono::minutes(5));
  EXPECT_THROW(
      (void)SignInSettings::from_env(
          env({{"FTE_OIDC_ISSUER", "x"}, {"FTE_OIDC_CLIENT_SECRET", "s"}, {"FTE_DESK_PUBLIC_URL", "desk.example.com"}}),
          "0.0.0.0:8083"),
      ConfigError);
}

TEST(DeskSignInRoles, SupervisorWinsAndStrangersGetNone) {
  SignInSettings settings;
  EXPECT_EQ(role_from_groups({"fte-agents"}, settings), access::Role::agent);
  EXPECT_EQ(role_from_groups({"fte-agents", "fte-supervisors"}, settings), access::Role::supervisor);
  EXPECT_EQ(role_from_groups({"fte-supervisors"}, settings), access::Role::supervisor);
  EXPECT_FALSE(role_from_groups({}, settings).has_value());
  EXPECT_FALSE(role_from_groups({"FTE-AGENTS", "/fte-agents", "admins"}, settings).has_value());
}

TEST(DeskSignInCookies, SessionCookieAttributes) {
  SignInSettings settings;
  settings.public_url = "http://127.0.0.1:8083";
  EXPECT_EQ(session_cookie("abc", settings), "fte_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200");
  settings.public_url = "https://desk.example.com";
  EXPECT_EQ(cleared_session_cookie(settings), "fte_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure");

  http::Request request;
  request.insert(boost::beast::http::field::cookie, "theme=dark; fte_session = s1 ;other=x");
  EXPECT_EQ(http::cookie_value(request, "fte_session"), "s1");
  EXPECT_EQ(http::cookie_value(request, "missing"), "");
  http::Request two;
  two.insert(boost::beast::http::field::cookie, "a=1");
  two.insert(boost::beast::http::field::cookie, "fte_session=s2");
  EXPECT_EQ(http::cookie_value(two, "fte_session"), "s2");
}

TEST(DeskSignInReturnTo, OnlyPathsOnThisSite) {
  for (const char* good : {"/", "/queue?mine=1", "/conversations/7#reply"})
    EXPECT_TRUE(http::is_local_path(good)) << good;
  for (const char* bad :
       {"", "queue", "//evil.example/x", "/\\evil.example", "https://evil.example/", "/a\r\nSet-Cookie: x=1", "/a\\b"})
    EXPECT_FALSE(http::is_local_path(bad)) << bad;
}

} // namespace
} // namespace fte::escalation
