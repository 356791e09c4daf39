#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/types.h>

namespace fte::oidc {

/// Why a token was refused. The first group means "not a valid token" (HTTP
/// 401), the second "a valid token, but not for us" (HTTP 403); see
/// is_forbidden().
enum class TokenError {
  malformed,             ///< not three base64url segments of JSON objects, or a claim of the wrong type
  unsupported_algorithm, ///< `alg` is not exactly RS256 (none, HS256, ...), or the header is critical
  missing_kid,           ///< no `kid`: we never guess the key
  unknown_kid,           ///< no key with that `kid`, even after a refresh
  bad_signature,         ///< RSA-SHA256 verification failed
  expired,               ///< `exp` (plus the clock skew) has passed, or is missing
  not_yet_valid,         ///< `nbf` or `iat` lies beyond now plus the clock skew
  wrong_issuer,          ///< `iss` is not one of Google's spellings
  wrong_audience,        ///< `aud` does not name our push endpoint
  wrong_email,           ///< `email` is not our push service account
  email_not_verified,    ///< `email_verified` is not true
};

/// A stable lower-case name for logs and metrics ("bad_signature", ...).
[[nodiscard]] std::string_view to_string(TokenError error) noexcept;

/// True for the 403 group: the token is genuine but was minted for someone
/// else, or for another audience.
[[nodiscard]] bool is_forbidden(TokenError error) noexcept;

struct TokenFailure {
  TokenError error;
  std::string detail; ///< for logs; never contains the token
};

/// A compact JWS split and decoded, its algorithm already pinned: only
/// tokens whose header says exactly `"alg":"RS256"` and names a `kid` get
/// this far. Nothing in it is trusted before verify_token() succeeds.
struct DecodedJws {
  std::string kid;
  nlohmann::json header;
  nlohmann::json claims;
  std::string signing_input; ///< "<header>.<claims>", the bytes the signature covers
  std::string signature;     ///< raw bytes
};

/// Longest token accepted; Google's are about 1 KiB.
inline constexpr std::size_t kMaxTokenBytes = 16 * 1024;

/// Splits a compact JWS (`header.claims.signature`, base64url without
/// padding), parses header and claims as JSON objects, and checks the header:
/// `alg` exactly "RS256", a non-empty string `kid`, no `crit`. Never throws
/// on any input.
[[nodiscard]] std::variant<DecodedJws, TokenFailure> decode_jws(std::string_view token) noexcept;

/// An RSA public key usable for RS256 verification. Cheap to copy (shares
/// one immutable EVP_PKEY, which OpenSSL 3 allows to verify from several
/// threads at once).
class RsaPublicKey {
public:
  /// Smallest modulus accepted from a JWK.
  static constexpr int kMinBits = 2048;

  /// Builds a key from a JWK (`kty` RSA, base64url `n` and `e`) through
  /// OSSL_PARAM and EVP_PKEY_fromdata. Returns a reason when the JWK is not
  /// such a key, or the modulus is shorter than kMinBits. Never throws.
  static std::variant<RsaPublicKey, std::string> from_jwk(const nlohmann::json& jwk) noexcept;

  /// Wraps a key the caller already holds (tests); takes one reference.
  /// @throws std::invalid_argument when `key` is null or not RSA
  static RsaPublicKey from_evp(EVP_PKEY* key);

  /// RSASSA-PKCS1-v1_5 with SHA-256 over `signing_input`: the one
  /// algorithm this verifier knows, whatever a token's header says.
  [[nodiscard]] bool verify_rs256(std::string_view signing_input, std::string_view signature) const noexcept;

  [[nodiscard]] int bits() const noexcept;

private:
  explicit RsaPublicKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

/// What a token must say besides being signed by its issuer: a push token
/// from Google, or a person's ID token from the desk's identity provider.
struct TokenPolicy {
  std::vector<std::string> issuers = {"accounts.google.com", "https://accounts.google.com"};
  std::string audience; ///< FTE_GMAIL_PUSH_AUDIENCE, or the desk's client id
  /// FTE_GMAIL_PUSH_SERVICE_ACCOUNT: the token's `email` must be this, and
  /// verified. nullopt (a person's ID token at sign-in) checks no email.
  std::optional<std::string> email;
  std::chrono::seconds clock_skew{60};
};

/// The claims of a token that passed every check.
struct VerifiedToken {
  std::string issuer;
  std::string subject;
  std::string email;
  nlohmann::json claims; ///< all of them, for what the caller checks itself (nonce, groups)
};

/// Verifies `jws` with `key` (RS256, always) and then its claims against
/// `policy` at `now`: exp (required), nbf and iat (when present) within the
/// clock skew, then issuer, audience (a string or an array holding it),
/// email and email_verified (true, or the string "true"). The signature is
/// checked first, so nothing about an unverified token is reported as
/// forbidden. Never throws.
[[nodiscard]] std::variant<VerifiedToken, TokenFailure>
verify_token(const DecodedJws& jws, const RsaPublicKey& key, const TokenPolicy& policy,
             std::chrono::system_clock::time_point now) noexcept;

} // namespace fte::oidc
