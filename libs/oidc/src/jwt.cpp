#include "fte/oidc/jwt.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "fte/oidc/base64.hpp"

namespace fte::oidc {
namespace {

// RAII for the OpenSSL objects used here: every one is freed on every path.
struct BnFree {
  void operator()(BIGNUM* bn) const noexcept { BN_free(bn); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const noexcept { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const noexcept { OSSL_PARAM_free(params); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using BignumPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

TokenFailure failure(TokenError error, std::string detail) { return TokenFailure{error, std::move(detail)}; }

/// A JSON object from base64url text, or nullopt. Invalid UTF-8, trailing
/// bytes and non-objects are all refused; nothing throws.
std::optional<nlohmann::json> json_object_segment(std::string_view segment) {
  const auto bytes = decode_base64url(segment);
  if (!bytes) return std::nullopt;
  auto parsed = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

/// A NumericDate claim (RFC 7519: seconds, possibly fractional) as seconds
/// since the epoch; nullopt when absent; a failure when not a finite number.
std::variant<std::optional<double>, TokenFailure> numeric_date(const nlohmann::json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) return std::optional<double>();
  if (!it->is_number()) return failure(TokenError::malformed, std::string(name) + " is not a number");
  const double value = it->get<double>();
  if (!std::isfinite(value)) return failure(TokenError::malformed, std::string(name) + " is not finite");
  return std::optional<double>(value);
}

/// A NumericDate for a log line. Not a cast to an integer: the value may be
/// any finite double, far outside an integer's range.
std::string seconds_text(double seconds) {
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%.0f", seconds);
  return buffer.data();
}

bool audience_matches(const nlohmann::json& aud, const std::string& expected) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == expected;
  if (aud.is_array()) {
    for (const auto& entry : aud) {
      if (entry.is_string() && entry.get_ref<const std::string&>() == expected) return true;
    }
  }
  return false;
}

bool is_true(const nlohmann::json& value) {
  // Google has sent email_verified both as a JSON boolean and as a string.
  return (value.is_boolean() && value.get<bool>()) ||
         (value.is_string() && value.get_ref<const std::string&>() == "true");
}

std::string string_claim(const nlohmann::json& claims, const char* name) {
  const auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::variant<VerifiedToken, TokenFailure> check_claims(const nlohmann::json& claims, const TokenPolicy& policy,
                                                       std::chrono::system_clock::time_point at) {
  const double now = std::chrono::duration<double>(at.time_since_epoch()).count();
  const auto skew = static_cast<double>(policy.clock_skew.count());

  auto exp = numeric_date(claims, "exp");
  if (auto* bad = std::get_if<TokenFailure>(&exp)) return *bad;
  const auto& expires = std::get<std::optional<double>>(exp);
  // A token without an expiry would be valid forever: refuse it.
  if (!expires) return failure(TokenError::expired, "no exp claim");
  if (now > *expires + skew) return failure(TokenError::expired, "expired at " + seconds_text(*expires));

  for (const char* name : {"nbf", "iat"}) {
    auto date = numeric_date(claims, name);
    if (auto* bad = std::get_if<TokenFailure>(&date)) return *bad;
    const auto& value = std::get<std::optional<double>>(date);
    if (value && *value > now + skew) {
      return failure(TokenError::not_yet_valid, std::string(name) + " lies in the future: " + seconds_text(*value));
    }
  }

  const auto issuer = string_claim(claims, "iss");
  bool issuer_ok = false;
  for (const auto& accepted : policy.issuers)
    issuer_ok = issuer_ok || issuer == accepted;
  if (!issuer_ok) return failure(TokenError::wrong_issuer, "issuer '" + issuer + "'");

  const auto aud = claims.find("aud");
  if (aud == claims.end() || policy.audience.empty() || !audience_matches(*aud, policy.audience)) {
    return failure(TokenError::wrong_audience,
                   "audience " + (aud == claims.end()
                                      ? std::string("missing")
                                      : aud->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  }

  const auto email = string_claim(claims, "email");
  if (policy.email) {
    if (policy.email->empty() || email != *policy.email) {
      return failure(TokenError::wrong_email, "email '" + email + "'");
    }
    const auto verified = claims.find("email_verified");
    if (verified == claims.end() || !is_true(*verified)) {
      return failure(TokenError::email_not_verified, "email_verified is not true");
    }
  }
  return VerifiedToken{issuer, string_claim(claims, "sub"), email, claims};
}

} // namespace

std::string_view to_string(TokenError error) noexcept {
  switch (error) {
  case TokenError::malformed: return "malformed";
  case TokenError::unsupported_algorithm: return "unsupported_algorithm";
  case TokenError::missing_kid: return "missing_kid";
  case TokenError::unknown_kid: return "unknown_kid";
  case TokenError::bad_signature: return "bad_signature";
  case TokenError::expired: return "expired";
  case TokenError::not_yet_valid: return "not_yet_valid";
  case TokenError::wrong_issuer: return "wrong_issuer";
  case TokenError::wrong_audience: return "wrong_audience";
  case TokenError::wrong_email: return "wrong_email";
  case TokenError::email_not_verified: return "email_not_verified";
  }
  return "unknown";
}

bool is_forbidden(TokenError error) noexcept {
  return error == TokenError::wrong_issuer || error == TokenError::wrong_audience || error == TokenError::wrong_email ||
         error == TokenError::email_not_verified;
}

std::variant<DecodedJws, TokenFailure> decode_jws(std::string_view token) noexcept {
  try {
    if (token.size() > kMaxTokenBytes) return failure(TokenError::malformed, "token longer than 16 KiB");
    const auto first = token.find('.');
    const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
      return failure(TokenError::malformed, "not three dot-separated segments");
    }
    auto header = json_object_segment(token.substr(0, first));
    if (!header) return failure(TokenError::malformed, "header is not base64url JSON object");

    // The algorithm is pinned: the header may only confirm RS256, never choose.
    const auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string() || alg->get_ref<const std::string&>() != "RS256") {
      return failure(TokenError::unsupported_algorithm,
                     "alg " + (alg == header->end()
                                   ? std::string("missing")
                                   : alg->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    }
    // RFC 7515 4.1.11: extensions we do not understand make the token invalid.
    if (header->contains("crit")) return failure(TokenError::unsupported_algorithm, "critical header extension");
    const auto kid = header->find("kid");
    if (kid == header->end() || !kid->is_string() || kid->get_ref<const std::string&>().empty()) {
      return failure(TokenError::missing_kid, "no kid in the header");
    }

    auto claims = json_object_segment(token.substr(first + 1, second - first - 1));
    if (!claims) return failure(TokenError::malformed, "claims are not a base64url JSON object");
    auto signature = decode_base64url(token.substr(second + 1));
    if (!signature || signature->empty()) return failure(TokenError::malformed, "signature is not base64url");

    DecodedJws jws;
    jws.kid = kid->get<std::string>();
    jws.header = std::move(*header);
    jws.claims = std::move(*claims);
    jws.signing_input = std::string(token.substr(0, second));
    jws.signature = std::move(*signature);
    return jws;
  } catch (const std::exception& e) {
    // Only allocation can fail here; a token must still never take the caller down.
    return failure(TokenError::malformed, std::string("could not decode: ") + e.what());
  }
}

std::variant<RsaPublicKey, std::string> RsaPublicKey::from_jwk(const nlohmann::json& jwk) noexcept {
  try {
    if (!jwk.is_object()) return std::string("JWK is not an object");
    const auto kty = jwk.find("kty");
    if (kty == jwk.end() || !kty->is_string() || kty->get_ref<const std::string&>() != "RSA") {
      return std::string("kty is not RSA");
    }
    const auto n_text = jwk.find("n");
    const auto e_text = jwk.find("e");
    if (n_text == jwk.end() || !n_text->is_string() || e_text == jwk.end() || !e_text->is_string()) {
      return std::string("n or e missing");
    }
    const auto n_bytes = decode_base64url(n_text->get_ref<const std::string&>());
    const auto e_bytes = decode_base64url(e_text->get_ref<const std::string&>());
    if (!n_bytes || !e_bytes || n_bytes->empty() || e_bytes->empty() || e_bytes->size() > 8) {
      return std::string("n or e is not base64url of a sensible size");
    }
    BignumPtr n(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes->data()), static_cast<int>(n_bytes->size()), nullptr));
    BignumPtr e(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes->data()), static_cast<int>(e_bytes->size()), nullptr));
    if (!n || !e) return std::string("BN_bin2bn failed");
    if (BN_num_bits(n.get()) < kMinBits) {
      return "modulus of " + std::to_string(BN_num_bits(n.get())) + " bits, fewer than " + std::to_string(kMinBits);
    }
    // An even or tiny exponent is not an RSA public key anyone generates.
    if (!BN_is_odd(e.get()) || BN_is_one(e.get())) return std::string("bad public exponent");

    ParamBldPtr builder(OSSL_PARAM_BLD_new());
    if (!builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
      return std::string("OSSL_PARAM_BLD failed");
    }
    ParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return std::string("EVP_PKEY_fromdata_init failed");
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || raw == nullptr) {
      ERR_clear_error();
      return std::string("EVP_PKEY_fromdata failed");
    }
    return RsaPublicKey(std::shared_ptr<EVP_PKEY>(raw, PkeyFree{}));
  } catch (const std::exception& e) {
    return std::string("could not build the key: ") + e.what();
  }
}

RsaPublicKey RsaPublicKey::from_evp(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_is_a(key, "RSA") != 1) throw std::invalid_argument("RsaPublicKey: not an RSA key");
  if (EVP_PKEY_up_ref(key) != 1) throw std::runtime_error("RsaPublicKey: EVP_PKEY_up_ref failed");
  return RsaPublicKey(std::shared_ptr<EVP_PKEY>(key, PkeyFree{}));
}

bool RsaPublicKey::verify_rs256(std::string_view signing_input, std::string_view signature) const noexcept {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  // The digest and the padding are fixed here, never read from the token;
  // the default RSA padding for DigestVerify is PKCS #1 v1.5.
  const bool ok =
      ctx && EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key_.get(), nullptr) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  // A refused signature leaves entries in this thread's OpenSSL error queue;
  // other OpenSSL users on the thread (librdkafka's TLS) must not find them.
  if (!ok) ERR_clear_error();
  return ok;
}

int RsaPublicKey::bits() const noexcept { return EVP_PKEY_get_bits(key_.get()); }

std::variant<VerifiedToken, TokenFailure> verify_token(const DecodedJws& jws, const RsaPublicKey& key,
                                                       const TokenPolicy& policy,
                                                       std::chrono::system_clock::time_point now) noexcept {
  try {
    if (!key.verify_rs256(jws.signing_input, jws.signature)) {
      return failure(TokenError::bad_signature, "RS256 signature does not verify with key " + jws.kid);
    }
    return check_claims(jws.claims, policy, now);
  } catch (const std::exception& e) {
    return failure(TokenError::malformed, std::string("could not check the claims: ") + e.what());
  }
}

} // namespace fte::oidc
