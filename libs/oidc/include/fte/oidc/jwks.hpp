#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fte/oidc/jwt.hpp"

namespace fte::oidc {

/// The RS256 verification keys of a JWKS document, by `kid`.
struct KeySet {
  std::map<std::string, RsaPublicKey, std::less<>> keys;
  /// Entries left out and why ("kid x: kty is not RSA"), for the log.
  std::vector<std::string> skipped;

  [[nodiscard]] const RsaPublicKey* find(std::string_view kid) const;
};

/// Largest JWKS document accepted; Google's is about 2 KiB.
inline constexpr std::size_t kMaxJwksBytes = 256 * 1024;

/// Parses a JWKS (RFC 7517: `{"keys":[...]}`). Keeps the RSA keys with a
/// `kid` whose `use` (when present) is "sig" and whose `alg` (when present)
/// is "RS256"; skips the others. A document that is not a JWKS, or holds no
/// usable key, is an error. Never throws.
[[nodiscard]] std::variant<KeySet, std::string> parse_jwks(std::string_view body) noexcept;

/// The `max-age` directive of a Cache-Control header, or nullopt when there
/// is none. `no-store` and `no-cache` count as max-age 0. Never throws.
[[nodiscard]] std::optional<std::chrono::seconds> cache_control_max_age(std::string_view header) noexcept;

} // namespace fte::oidc
