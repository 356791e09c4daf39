#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

#include "fte/common/config.hpp"

namespace fte::gmail {

/// Where Gmail calls get their OAuth2 access tokens.
class TokenSource {
public:
  virtual ~TokenSource() = default;
  /// A token good for calls on `mailbox` for at least a minute.
  /// @throws ApiError when the token endpoint refuses or cannot be reached.
  [[nodiscard]] virtual std::string access_token(std::string_view mailbox) = 0;
  /// The API answered 401 to `token`: forget it, so that the next
  /// access_token() fetches a new one. A token other than the cached one
  /// (another thread refreshed already) is left alone.
  virtual void invalidate(std::string_view mailbox, std::string_view token) = 0;
};

/// An OAuth client's refresh token: one account, whatever the mailbox.
struct RefreshTokenCredentials {
  std::string client_id;
  std::string client_secret;
  std::string refresh_token;
};

/// A service account with domain-wide delegation: a token per mailbox,
/// obtained with an RS256-signed JWT whose `sub` is the mailbox.
struct ServiceAccountCredentials {
  std::string client_email;
  std::string private_key_pem;
  std::string private_key_id;

  /// Reads Google's service-account key file (type `service_account`).
  /// @throws ConfigError naming FTE_GOOGLE_SERVICE_ACCOUNT_FILE
  static ServiceAccountCredentials from_file(const std::string& path);
};

inline constexpr std::string_view kDefaultTokenUrl = "https://oauth2.googleapis.com/token";
/// Reading mail, sending replies and watching: gmail.modify covers all three.
inline constexpr std::string_view kDefaultGmailScope = "https://www.googleapis.com/auth/gmail.modify";

struct TokenSourceOptions {
  std::string token_url = std::string(kDefaultTokenUrl);
  std::variant<RefreshTokenCredentials, ServiceAccountCredentials> credentials;
  std::string scope = std::string(kDefaultGmailScope); ///< service-account flow only
  std::chrono::milliseconds timeout{10'000};
  /// A cached token is replaced this long before it expires, so that a call
  /// never starts with a token about to lapse.
  std::chrono::seconds refresh_margin{60};
  /// The clock tokens expire by (tests move it).
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
};

/// Google's token endpoint (FTE_GOOGLE_TOKEN_URL) with either flow. Tokens
/// are cached per mailbox (one entry for the refresh-token flow) until
/// refresh_margin before they expire. Thread-safe: callers for one mailbox
/// wait for a single refresh; other mailboxes' cached tokens are not held up.
class GoogleTokenSource final : public TokenSource {
public:
  explicit GoogleTokenSource(TokenSourceOptions options);
  ~GoogleTokenSource() override;

  [[nodiscard]] std::string access_token(std::string_view mailbox) override;
  void invalidate(std::string_view mailbox, std::string_view token) override;

  /// Token endpoint requests made so far (tests, and "API calls per message").
  [[nodiscard]] std::uint64_t fetches() const;

private:
  struct Entry;
  [[nodiscard]] std::string cache_key(std::string_view mailbox) const;
  [[nodiscard]] std::shared_ptr<Entry> entry_for(const std::string& key);
  struct Fetched {
    std::string token;
    std::chrono::system_clock::time_point expires_at;
  };
  [[nodiscard]] Fetched fetch(std::string_view mailbox);

  TokenSourceOptions options_;
  mutable std::mutex mutex_; // guards entries_ and fetches_, never held during a fetch
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> entries_;
  std::uint64_t fetches_ = 0;
};

/// The token source the environment configures: FTE_GMAIL_CLIENT_ID,
/// FTE_GMAIL_CLIENT_SECRET and FTE_GMAIL_REFRESH_TOKEN, or
/// FTE_GOOGLE_SERVICE_ACCOUNT_FILE; the endpoint is FTE_GOOGLE_TOKEN_URL.
/// Null when neither is configured (Gmail is then off).
/// @throws ConfigError when a flow is half configured or the key file is bad.
[[nodiscard]] std::shared_ptr<TokenSource> token_source_from_env(const Environment& env);

/// An RS256-signed JWT (header.claims.signature, base64url) with the PEM
/// private key. Exposed for tests, which verify it independently.
/// @throws std::runtime_error when the key cannot be read or signing fails.
[[nodiscard]] std::string sign_rs256_jwt(const std::string& header_json, const std::string& claims_json,
                                         const std::string& private_key_pem);

} // namespace fte::gmail
