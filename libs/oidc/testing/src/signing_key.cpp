#include "fte/oidc/testing/signing_key.hpp"

#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fte/oidc/base64.hpp"

namespace fte::oidc::testing {
namespace {

struct BnFree {
  void operator()(BIGNUM* bn) const noexcept { BN_free(bn); }
};
struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

std::string bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) throw std::runtime_error(std::string("no RSA parameter ") + name);
  const std::unique_ptr<BIGNUM, BnFree> bn(raw);
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  return bytes;
}

std::string segment(const nlohmann::json& object) { return encode_base64url(object.dump()); }

} // namespace

SigningKey::SigningKey(std::string kid, unsigned bits) : kid_(std::move(kid)) {
  EVP_PKEY* raw = EVP_RSA_gen(bits);
  if (raw == nullptr) throw std::runtime_error("EVP_RSA_gen failed");
  key_ = std::shared_ptr<EVP_PKEY>(raw, [](EVP_PKEY* key) { EVP_PKEY_free(key); });
}

nlohmann::json SigningKey::jwk() const {
  return {{"kty", "RSA"},
          {"alg", "RS256"},
          {"use", "sig"},
          {"kid", kid_},
          {"n", encode_base64url(bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N))},
          {"e", encode_base64url(bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E))}};
}

std::string SigningKey::public_key_pem() const {
  const std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) throw std::runtime_error("PEM_write_bio_PUBKEY failed");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

RsaPublicKey SigningKey::public_key() const { return RsaPublicKey::from_evp(key_.get()); }

std::string SigningKey::sign(const nlohmann::json& claims, nlohmann::json header) const {
  if (!header.contains("alg")) header["alg"] = "RS256";
  if (!header.contains("kid")) header["kid"] = kid_;
  const auto input = segment(header) + "." + segment(claims);
  const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key_.get(), nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()), input.size()) !=
          1) {
    throw std::runtime_error("EVP_DigestSign (size) failed");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("EVP_DigestSign failed");
  }
  signature.resize(size);
  return input + "." + encode_base64url(signature);
}

std::string jwks_document(const std::vector<const SigningKey*>& keys) {
  nlohmann::json document = {{"keys", nlohmann::json::array()}};
  for (const auto* key : keys)
    document["keys"].push_back(key->jwk());
  return document.dump();
}

std::string sign_hs256(const nlohmann::json& header, const nlohmann::json& claims, const std::string& secret) {
  const auto input = segment(header) + "." + segment(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t size = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, sizeof mac,
                &size) == nullptr) {
    throw std::runtime_error("EVP_Q_mac failed");
  }
  return input + "." + encode_base64url(std::string(reinterpret_cast<const char*>(mac), size));
}

std::string unsigned_token(const nlohmann::json& header, const nlohmann::json& claims) {
  return segment(header) + "." + segment(claims) + ".";
}

nlohmann::json push_claims(const std::string& audience, const std::string& email,
                           std::chrono::system_clock::time_point issued_at) {
  const auto iat = std::chrono::duration_cast<std::chrono::seconds>(issued_at.time_since_epoch()).count();
  return {{"aud", audience},
          {"azp", "113774264463038321964"},
          {"email", email},
          {"email_verified", true},
          {"exp", iat + 3600},
          {"iat", iat},
          {"iss", "https://accounts.google.com"},
          {"sub", "113774264463038321964"}};
}

} // namespace fte::oidc::testing
