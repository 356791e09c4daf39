#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/types.h>

#include "fte/oidc/jwt.hpp"

/// Test fixtures: an RSA key pair that plays Google's signing key, and
/// tokens signed (or forged) the way a test needs. Never linked into a
/// service.
namespace fte::oidc::testing {

class SigningKey {
public:
  /// Generates a fresh key pair (EVP_RSA_gen). @throws std::runtime_error
  explicit SigningKey(std::string kid, unsigned bits = 2048);

  [[nodiscard]] const std::string& kid() const noexcept { return kid_; }
  /// The public half as a JWK, as Google publishes it.
  [[nodiscard]] nlohmann::json jwk() const;
  /// The public half as PEM (SubjectPublicKeyInfo): the bytes an HS256
  /// confusion attack uses as its HMAC secret.
  [[nodiscard]] std::string public_key_pem() const;
  [[nodiscard]] RsaPublicKey public_key() const;

  /// A compact JWS over `claims`, signed RS256. `header` gets `alg` RS256
  /// and this key's `kid` unless it sets them itself.
  [[nodiscard]] std::string sign(const nlohmann::json& claims, nlohmann::json header = nlohmann::json::object()) const;

private:
  std::string kid_;
  std::shared_ptr<EVP_PKEY> key_;
};

/// `{"keys":[...]}` of the given keys' JWKs.
[[nodiscard]] std::string jwks_document(const std::vector<const SigningKey*>& keys);

/// A token signed HS256 with `secret` (the algorithm-confusion attack).
[[nodiscard]] std::string sign_hs256(const nlohmann::json& header, const nlohmann::json& claims,
                                     const std::string& secret);

/// An unsecured JWS: `header.claims.` with an empty signature.
[[nodiscard]] std::string unsigned_token(const nlohmann::json& header, const nlohmann::json& claims);

/// The claims of a Pub/Sub push token as Google mints them, valid for an
/// hour from `issued_at`.
[[nodiscard]] nlohmann::json push_claims(const std::string& audience, const std::string& email,
                                         std::chrono::system_clock::time_point issued_at);

} // namespace fte::oidc::testing
