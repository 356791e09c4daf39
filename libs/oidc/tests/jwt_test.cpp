#include "fte/oidc/jwt.hpp"

#include <gtest/gtest.h>

#include "fte/oidc/base64.hpp"
#include "fte/oidc/testing/signing_key.hpp"

namespace fte::oidc {
namespace {

using namespace std::chrono_literals;
using testing::SigningKey;

constexpr const char* kAudience = "https://support.example.com/webhooks/gmail";
constexpr const char* kServiceAccount = "gmail-push@example-project.iam.gserviceaccount.com";

const SigningKey& google_key() {
  static const SigningKey key("google-kid-1");
  return key;
}

const SigningKey& other_key() {
  static const SigningKey key("google-kid-1"); // same kid, different key pair
  return key;
}

class JwtTest : public ::testing::Test {
protected:
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  TokenPolicy policy{{"accounts.google.com", "https://accounts.google.com"}, kAudience, kServiceAccount, 60s};

  [[nodiscard]] nlohmann::json claims() const { return testing::push_claims(kAudience, kServiceAccount, now); }

  static std::int64_t seconds(std::chrono::system_clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  }

  [[nodiscard]] std::variant<VerifiedToken, TokenFailure> verify(const std::string& token,
                                                                 const SigningKey& key = google_key()) const {
    auto decoded = decode_jws(token);
    if (auto* failure = std::get_if<TokenFailure>(&decoded)) return *failure;
    return verify_token(std::get<DecodedJws>(decoded), key.public_key(), policy, now);
  }

  void expect_ok(const std::string& token) const {
    const auto result = verify(token);
    if (const auto* failure = std::get_if<TokenFailure>(&result)) {
      ADD_FAILURE() << to_string(failure->error) << ": " << failure->detail;
    }
  }

  void expect_error(const std::string& token, TokenError expected, const SigningKey& key = google_key()) const {
    const auto result = verify(token, key);
    ASSERT_TRUE(std::holds_alternative<TokenFailure>(result)) << "accepted a token that should fail";
    EXPECT_EQ(std::get<TokenFailure>(result).error, expected)
        << to_string(std::get<TokenFailure>(result).error) << ": " << std::get<TokenFailure>(result).detail;
  }
};

TEST_F(JwtTest, AcceptsAGoogleShapedPushToken) {
  const auto result = verify(google_key().sign(claims()));
  ASSERT_TRUE(std::holds_alternative<VerifiedToken>(result)) << std::get<TokenFailure>(result).detail;
  const auto& token = std::get<VerifiedToken>(result);
  EXPECT_EQ(token.email, kServiceAccount);
  EXPECT_EQ(token.issuer, "https://accounts.google.com");
  EXPECT_EQ(token.subject, "113774264463038321964");
}

TEST_F(JwtTest, DecodeKeepsKidAndSigningInput) {
  const auto token = google_key().sign(claims(), {{"typ", "JWT"}});
  const auto decoded = decode_jws(token);
  ASSERT_TRUE(std::holds_alternative<DecodedJws>(decoded));
  const auto& jws = std::get<DecodedJws>(decoded);
  EXPECT_EQ(jws.kid, "google-kid-1");
  EXPECT_EQ(jws.signing_input, token.substr(0, token.rfind('.')));
  EXPECT_EQ(jws.claims["aud"], kAudience);
}

TEST_F(JwtTest, ExpiryWithBoundedSkew) {
  auto c = claims();
  c["exp"] = seconds(now - 2h);
  expect_error(google_key().sign(c), TokenError::expired);
  c["exp"] = seconds(now - 30s); // within the 60 s skew
  expect_ok(google_key().sign(c));
  c["exp"] = seconds(now - 61s);
  expect_error(google_key().sign(c), TokenError::expired);
  c["exp"] = static_cast<double>(seconds(now + 10min)) + 0.5; // NumericDate may be fractional
  expect_ok(google_key().sign(c));
  c.erase("exp");
  expect_error(google_key().sign(c), TokenError::expired);
  c["exp"] = std::to_string(seconds(now + 10min));
  expect_error(google_key().sign(c), TokenError::malformed);
}

TEST_F(JwtTest, NotBeforeAndIssuedAtInTheFuture) {
  auto c = claims();
  c["nbf"] = seconds(now + 10min);
  expect_error(google_key().sign(c), TokenError::not_yet_valid);
  c["nbf"] = seconds(now + 30s);
  expect_ok(google_key().sign(c));
  c.erase("nbf");
  c["iat"] = seconds(now + 1h);
  c["exp"] = seconds(now + 2h);
  expect_error(google_key().sign(c), TokenError::not_yet_valid);
  c["iat"] = seconds(now + 45s);
  expect_ok(google_key().sign(c));
  c["iat"] = "yesterday";
  expect_error(google_key().sign(c), TokenError::malformed);
}

TEST_F(JwtTest, Audience) {
  auto c = claims();
  c["aud"] = "https://elsewhere.example.com/push";
  expect_error(google_key().sign(c), TokenError::wrong_audience);
  EXPECT_TRUE(is_forbidden(TokenError::wrong_audience));
  c["aud"] = nlohmann::json::array({"https://elsewhere.example.com/push", kAudience});
  expect_ok(google_key().sign(c));
  c["aud"] = nlohmann::json::array({"https://elsewhere.example.com/push"});
  expect_error(google_key().sign(c), TokenError::wrong_audience);
  c["aud"] = nlohmann::json::array();
  expect_error(google_key().sign(c), TokenError::wrong_audience);
  c.erase("aud");
  expect_error(google_key().sign(c), TokenError::wrong_audience);
  c["aud"] = std::string(kAudience) + "/"; // no prefix or suffix games
  expect_error(google_key().sign(c), TokenError::wrong_audience);
}

TEST_F(JwtTest, IssuerEitherSpelling) {
  auto c = claims();
  c["iss"] = "accounts.google.com";
  expect_ok(google_key().sign(c));
  c["iss"] = "https://accounts.google.com";
  expect_ok(google_key().sign(c));
  c["iss"] = "https://accounts.google.com.evil.example";
  expect_error(google_key().sign(c), TokenError::wrong_issuer);
  c["iss"] = "http://accounts.google.com";
  expect_error(google_key().sign(c), TokenError::wrong_issuer);
  c.erase("iss");
  expect_error(google_key().sign(c), TokenError::wrong_issuer);
}

TEST_F(JwtTest, ServiceAccountAndVerifiedEmail) {
  auto c = claims();
  c["email"] = "someone-else@example-project.iam.gserviceaccount.com";
  expect_error(google_key().sign(c), TokenError::wrong_email);
  c.erase("email");
  expect_error(google_key().sign(c), TokenError::wrong_email);
  c = claims();
  c["email_verified"] = false;
  expect_error(google_key().sign(c), TokenError::email_not_verified);
  c["email_verified"] = "false";
  expect_error(google_key().sign(c), TokenError::email_not_verified);
  c["email_verified"] = 1;
  expect_error(google_key().sign(c), TokenError::email_not_verified);
  c.erase("email_verified");
  expect_error(google_key().sign(c), TokenError::email_not_verified);
  c["email_verified"] = "true";
  expect_ok(google_key().sign(c));
  EXPECT_TRUE(is_forbidden(TokenError::wrong_email));
  EXPECT_TRUE(is_forbidden(TokenError::email_not_verified));
}

TEST_F(JwtTest, EmptyPolicyAcceptsNobody) {
  policy.audience.clear();
  expect_error(google_key().sign(claims()), TokenError::wrong_audience);
  policy.audience = kAudience;
  policy.email = std::string();
  expect_error(google_key().sign(claims()), TokenError::wrong_email);
}

TEST_F(JwtTest, WithoutAnEmailInThePolicyNoEmailIsCheckedAndEveryClaimComesBack) {
  // A person's ID token at the desk's sign-in: issuer and audience matter,
  // the email is whatever the provider says.
  policy.email = std::nullopt;
  auto unverified = claims();
  unverified["email"] = "someone@else.example";
  unverified["email_verified"] = false;
  unverified["groups"] = {"fte-agents"};
  const auto result = verify(google_key().sign(unverified));
  ASSERT_TRUE(std::holds_alternative<VerifiedToken>(result)) << std::get<TokenFailure>(result).detail;
  EXPECT_EQ(std::get<VerifiedToken>(result).claims["groups"][0], "fte-agents");
}

TEST_F(JwtTest, AlgorithmIsPinnedToRs256) {
  expect_error(testing::unsigned_token({{"alg", "none"}, {"kid", "google-kid-1"}}, claims()),
               TokenError::unsupported_algorithm);
  expect_error(testing::unsigned_token({{"alg", "None"}, {"kid", "google-kid-1"}}, claims()),
               TokenError::unsupported_algorithm);
  // The classic confusion: HS256 keyed with the RSA public key's bytes.
  const auto pem = google_key().public_key_pem();
  expect_error(testing::sign_hs256({{"alg", "HS256"}, {"kid", "google-kid-1"}}, claims(), pem),
               TokenError::unsupported_algorithm);
  // Even when the header claims RS256, an HMAC is not an RSA signature.
  expect_error(testing::sign_hs256({{"alg", "RS256"}, {"kid", "google-kid-1"}}, claims(), pem),
               TokenError::bad_signature);
  for (const char* alg : {"rs256", "RS384", "RS512", "PS256", "ES256", "RS256 "}) {
    expect_error(google_key().sign(claims(), {{"alg", alg}}), TokenError::unsupported_algorithm);
  }
  expect_error(google_key().sign(claims(), {{"alg", nlohmann::json::array({"RS256"})}}),
               TokenError::unsupported_algorithm);
  expect_error(google_key().sign(claims(), {{"crit", nlohmann::json::array({"exp"})}}),
               TokenError::unsupported_algorithm);
  EXPECT_FALSE(is_forbidden(TokenError::unsupported_algorithm));
}

TEST_F(JwtTest, KidIsRequired) {
  // sign() adds the key's kid unless the header sets one: set it to nothing useful.
  expect_error(google_key().sign(claims(), {{"kid", ""}}), TokenError::missing_kid);
  expect_error(google_key().sign(claims(), {{"kid", 7}}), TokenError::missing_kid);
  expect_error(google_key().sign(claims(), {{"kid", nullptr}}), TokenError::missing_kid);
  const auto no_kid = testing::unsigned_token({{"alg", "RS256"}}, claims()) + "c2ln";
  expect_error(no_kid, TokenError::missing_kid);
}

TEST_F(JwtTest, MalformedTokens) {
  const auto good = google_key().sign(claims());
  const auto first = good.find('.');
  const auto second = good.rfind('.');
  const auto header = good.substr(0, first);
  const auto payload = good.substr(first + 1, second - first - 1);
  const auto signature = good.substr(second + 1);
  for (const std::string& token : {
           std::string(),
           std::string("."),
           std::string(".."),
           header + "." + payload,                         // two parts
           good + ".extra",                                // four parts
           header + "." + payload + ".",                   // no signature
           header + "." + payload + "." + signature + "=", // padding
           header + "=." + payload + "." + signature,      // padded header
           header + "." + payload + "!" + "." + signature, // bad base64
           encode_base64url("{not json") + "." + payload + "." + signature,
           encode_base64url(R"({"alg":"RS256","kid":"k"})") + "." + encode_base64url("[1,2]") + "." + signature,
           encode_base64url(R"({"alg":"RS256","kid":"k"})") + "." + encode_base64url("{\"a\":\"\xff\"}") + "." +
               signature, // invalid UTF-8
           encode_base64url(R"({"alg":"RS256","kid":"k"})") + "." + encode_base64url(R"({"a":1} trailing)") + "." +
               signature,
           std::string(kMaxTokenBytes + 1, 'a'),
       }) {
    const auto result = decode_jws(token);
    ASSERT_TRUE(std::holds_alternative<TokenFailure>(result)) << token;
    EXPECT_EQ(std::get<TokenFailure>(result).error, TokenError::malformed) << token;
  }
  // A header that is JSON but not an object cannot name an algorithm.
  EXPECT_TRUE(std::holds_alternative<TokenFailure>(
      decode_jws(encode_base64url("\"RS256\"") + "." + payload + "." + signature)));
}

TEST_F(JwtTest, TamperedTokensFailTheSignature) {
  const auto good = google_key().sign(claims());
  auto tampered_signature = good;
  auto& last = tampered_signature[tampered_signature.size() - 3];
  last = last == 'A' ? 'B' : 'A';
  expect_error(tampered_signature, TokenError::bad_signature);

  // Someone else's claims under Google's signature.
  auto forged = claims();
  forged["email"] = "attacker@example.com";
  const auto forged_token = google_key().sign(forged);
  const auto spliced = good.substr(0, good.find('.')) +
                       forged_token.substr(forged_token.find('.'), forged_token.rfind('.') - forged_token.find('.')) +
                       good.substr(good.rfind('.'));
  expect_error(spliced, TokenError::bad_signature);

  // The right kid, another key pair.
  expect_error(other_key().sign(claims()), TokenError::bad_signature);
  // A signature one byte short.
  const auto signature = *decode_base64url(good.substr(good.rfind('.') + 1));
  expect_error(good.substr(0, good.rfind('.') + 1) + encode_base64url(signature.substr(0, signature.size() - 1)),
               TokenError::bad_signature);
}

TEST(RsaPublicKey, FromJwk) {
  const auto jwk = google_key().jwk();
  const auto key = RsaPublicKey::from_jwk(jwk);
  ASSERT_TRUE(std::holds_alternative<RsaPublicKey>(key)) << std::get<std::string>(key);
  EXPECT_EQ(std::get<RsaPublicKey>(key).bits(), 2048);

  const auto token = google_key().sign(testing::push_claims("a", "b", std::chrono::system_clock::now()));
  const auto decoded = std::get<DecodedJws>(decode_jws(token));
  EXPECT_TRUE(std::get<RsaPublicKey>(key).verify_rs256(decoded.signing_input, decoded.signature));
  EXPECT_FALSE(std::get<RsaPublicKey>(key).verify_rs256(decoded.signing_input + "x", decoded.signature));

  auto bad = jwk;
  bad["kty"] = "EC";
  EXPECT_TRUE(std::holds_alternative<std::string>(RsaPublicKey::from_jwk(bad)));
  bad = jwk;
  bad.erase("n");
  EXPECT_TRUE(std::holds_alternative<std::string>(RsaPublicKey::from_jwk(bad)));
  bad = jwk;
  bad["e"] = "AAAC"; // even exponent
  EXPECT_TRUE(std::holds_alternative<std::string>(RsaPublicKey::from_jwk(bad)));
  bad = jwk;
  bad["n"] = 5;
  EXPECT_TRUE(std::holds_alternative<std::string>(RsaPublicKey::from_jwk(bad)));
  EXPECT_TRUE(std::holds_alternative<std::string>(RsaPublicKey::from_jwk(nlohmann::json::array())));

  const SigningKey weak("weak", 1024);
  const auto refused = RsaPublicKey::from_jwk(weak.jwk());
  ASSERT_TRUE(std::holds_alternative<std::string>(refused));
  EXPECT_NE(std::get<std::string>(refused).find("1024"), std::string::npos);
}

} // namespace
} // namespace fte::oidc
