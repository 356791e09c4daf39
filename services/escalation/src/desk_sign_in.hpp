#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fte/access/session_store.hpp"
#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"
#include "fte/http/server.hpp"
#include "fte/oidc/code_flow.hpp"
#include "fte/oidc/jwks_cache.hpp"
#include "fte/outbound_http/client.hpp"
#include "fte/pg/pool.hpp"

namespace fte::escalation {

/// How people sign in to the desk (ADR 0020): the company's OpenID
/// provider, the desk's client there, and the session rules.
struct SignInSettings {
  std::string issuer;        ///< FTE_OIDC_ISSUER, e.g. https://login.example.com/realms/fte
  std::string client_id;     ///< FTE_OIDC_CLIENT_ID (default fte-desk)
  std::string client_secret; ///< FTE_OIDC_CLIENT_SECRET
  std::string public_url;    ///< FTE_DESK_PUBLIC_URL: where browsers reach this listener
  std::string groups_claim = "groups";
  std::vector<std::string> agent_groups{"fte-agents"};
  std::vector<std::string> supervisor_groups{"fte-supervisors"};
  std::chrono::seconds idle{30 * 60};
  std::chrono::seconds lifetime{12 * 3600};
  std::chrono::seconds login_max_age{10 * 60};
  std::chrono::seconds clock_skew{60};

  /// nullopt when FTE_OIDC_ISSUER is not set (people cannot sign in; API
  /// tokens still work). `http_addr` (FTE_HTTP_ADDR) gives the default
  /// public URL. @throws ConfigError
  static std::optional<SignInSettings> from_env(const Environment& env, std::string_view http_addr);

  [[nodiscard]] std::string redirect_uri() const { return public_url + "/auth/callback"; }
  /// Secure cookies exactly when browsers reach the desk over TLS.
  [[nodiscard]] bool secure() const { return public_url.starts_with("https://"); }
};

/// The desk role a person's groups give: supervisor when any supervisor
/// group is among them, else agent when any agent group is, else none.
[[nodiscard]] std::optional<access::Role> role_from_groups(const std::vector<std::string>& groups,
                                                           const SignInSettings& settings);

inline constexpr std::string_view kSessionCookie = "fte_session";

/// 503 database_unavailable with Retry-After 1: `what` cannot be read or
/// written right now. Every route of the listener answers it the same way.
[[nodiscard]] http::Response database_unavailable(std::string_view what);

/// The Set-Cookie value for a session: HttpOnly, SameSite=Lax, Path=/,
/// Max-Age the session's lifetime, Secure over TLS.
[[nodiscard]] std::string session_cookie(std::string_view secret, const SignInSettings& settings);
/// The Set-Cookie value that removes it.
[[nodiscard]] std::string cleared_session_cookie(const SignInSettings& settings);

/// The authorization code flow with PKCE against the provider, and the
/// sessions it opens. Discovery and the provider's keys are fetched on
/// first use and kept; a failed discovery is tried again on the next
/// sign-in.
class DeskSignIn {
public:
  DeskSignIn(SignInSettings settings, pg::ConnectionPool& database, Logger logger);
  ~DeskSignIn();
  DeskSignIn(const DeskSignIn&) = delete;
  DeskSignIn& operator=(const DeskSignIn&) = delete;

  /// GET /auth/login?return_to=/path: 302 to the provider.
  [[nodiscard]] http::Response login(const http::Request& request);
  /// GET /auth/callback?code=..&state=..: a session cookie and 303 back.
  [[nodiscard]] http::Response callback(const http::Request& request);
  /// POST /auth/logout (the caller has checked the CSRF token): ends the
  /// session, clears the cookie, and names the provider's sign-out URL.
  [[nodiscard]] http::Response logout(const http::Request& request);
  /// The session the request's cookie holds, if in force. @throws on a
  /// database failure.
  [[nodiscard]] std::optional<access::Session> session_of(const http::Request& request);

  [[nodiscard]] const SignInSettings& settings() const noexcept { return settings_; }

private:
  /// The provider's metadata, discovered once. @throws std::runtime_error
  [[nodiscard]] oidc::ProviderMetadata provider();
  [[nodiscard]] std::variant<access::Person, http::Response> person_from(const std::string& id_token,
                                                                         const access::PendingLogin& login);

  SignInSettings settings_;
  pg::ConnectionPool& database_;
  Logger logger_;
  std::mutex mutex_; // guards client_, provider_ and keys_
  outbound_http::Client client_;
  std::optional<oidc::ProviderMetadata> provider_;
  std::unique_ptr<oidc::JwksCache> keys_;
};

} // namespace fte::escalation
