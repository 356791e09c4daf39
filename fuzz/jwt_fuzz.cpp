// The bearer token of a Gmail push, from the first byte: compact JWS split,
// base64url, JSON header and claims, the algorithm pin, then the signature
// and claim checks against a fixed key. Input: the token.
#include <cstdint>
#include <string_view>

#include "fte/oidc/jwks.hpp"
#include "fte/oidc/jwt.hpp"

namespace {

// A Google-shaped RSA public key (2048 bits); nothing signed with it exists,
// so no input may ever verify.
constexpr std::string_view kJwks = R"({"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"fuzz",
"n":"6erB8Ekrt16potnwT8_Z1opUS1kVK3oHGBc9A2xloUJ-mdKvI5eJQz5sXY8iDc_yEsbpyvhefJffCjgG66SuWtF1utUVZ2uEchY4f2Uwy6vOkUHsK92g2_5RtKu8eEyzItvumMA0Bdpe-b-SRfLEUQGYExCAJBD7BLwaQRiQzU85Bl_hnSLAbiNaTkhEJmgAa4xWvZi4edLH3_6p1STiWs12hjYDwMWH7s5942I6xz6Ee-K-z_PMtLD1r43MXOjhr7DE_fC4o6BuD_SHh-95nhPGWC9fYAM7SHXrw77EkwMNEunDVta3_XWBvbKvegrtmWit5IKzRwa1fFokj_tDuw",
"e":"AQAB"}]})";

const fte::oidc::RsaPublicKey& fixed_key() {
  static const auto key = [] {
    auto set = fte::oidc::parse_jwks(kJwks);
    if (!std::holds_alternative<fte::oidc::KeySet>(set)) __builtin_trap();
    return *std::get<fte::oidc::KeySet>(set).find("fuzz");
  }();
  return key;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  const auto decoded = fte::oidc::decode_jws(token);
  if (const auto* jws = std::get_if<fte::oidc::DecodedJws>(&decoded)) {
    // Past the decoder, the algorithm can only have been RS256.
    if (jws->header.value("alg", std::string()) != "RS256" || jws->kid.empty()) __builtin_trap();
    fte::oidc::TokenPolicy policy;
    policy.audience = "https://support.example.com/webhooks/gmail";
    policy.email = "gmail-push@example-project.iam.gserviceaccount.com";
    const auto verified = fte::oidc::verify_token(*jws, fixed_key(), policy, std::chrono::system_clock::now());
    if (std::holds_alternative<fte::oidc::VerifiedToken>(verified)) __builtin_trap();
  }
  // The JWKS parser sees outside input too (Google's answer).
  (void)fte::oidc::parse_jwks(token);
  return 0;
}
