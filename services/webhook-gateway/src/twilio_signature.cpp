#include "twilio_signature.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <stdexcept>

#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/url.hpp>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

namespace fte::gateway {
namespace {

using ParamRefs = std::vector<const FormField*>;

// Parameters sorted by name, keeping the received order among equal names.
ParamRefs sorted_by_name(const FormFields& params) {
  ParamRefs refs;
  refs.reserve(params.size());
  for (const auto& param : params)
    refs.push_back(&param);
  // std::string compares as unsigned bytes: UTF-8 byte order is code point
  // order, which is how Python's sorted() orders the names.
  std::stable_sort(refs.begin(), refs.end(),
                   [](const FormField* a, const FormField* b) { return a->first < b->first; });
  return refs;
}

enum class ValueOrder { sorted, sorted_unique, received };

// name + value for each parameter, names sorted, the values of one name in
// `order`.
std::string params_text(const ParamRefs& by_name, ValueOrder order) {
  std::string out;
  std::vector<const std::string*> values;
  for (std::size_t i = 0; i < by_name.size();) {
    std::size_t end = i;
    values.clear();
    while (end < by_name.size() && by_name[end]->first == by_name[i]->first) {
      values.push_back(&by_name[end]->second);
      ++end;
    }
    if (order != ValueOrder::received) {
      std::stable_sort(values.begin(), values.end(),
                       [](const std::string* a, const std::string* b) { return *a < *b; });
    }
    if (order == ValueOrder::sorted_unique) {
      values.erase(std::unique(values.begin(), values.end(),
                               [](const std::string* a, const std::string* b) { return *a == *b; }),
                   values.end());
    }
    for (const auto* value : values) {
      out += by_name[i]->first;
      out += *value;
    }
    i = end;
  }
  return out;
}

bool has_repeated_name(const ParamRefs& by_name) {
  return std::adjacent_find(by_name.begin(), by_name.end(), [](const FormField* a, const FormField* b) {
           return a->first == b->first;
         }) != by_name.end();
}

using Digest = std::array<unsigned char, EVP_MAX_MD_SIZE>;

std::string base64(const Digest& digest, std::size_t size) {
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> encoded{};
  const int length = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(size));
  return {reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(length)};
}

std::string hmac_sha1_base64(std::string_view key, std::string_view text) {
  Digest digest{};
  unsigned int digest_size = 0;
  // One-shot HMAC(): no context to free, and not deprecated in OpenSSL 3.
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
           text.size(), digest.data(), &digest_size) == nullptr) {
    return {};
  }
  return base64(digest, digest_size);
}

struct MacFree {
  void operator()(EVP_MAC* mac) const noexcept { EVP_MAC_free(mac); }
};
struct MacContextFree {
  void operator()(EVP_MAC_CTX* context) const noexcept { EVP_MAC_CTX_free(context); }
};
using MacContext = std::unique_ptr<EVP_MAC_CTX, MacContextFree>;

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The first bodySHA256 of the URL's query, decoded; empty when absent.
std::string body_hash_parameter(std::string_view url) {
  const auto question = url.find('?');
  if (question == std::string_view::npos) return {};
  auto query = url.substr(question + 1);
  query = query.substr(0, query.find('#'));
  // A NUL-terminated copy: Boost.URL 1.81's parse_query reads up to a NUL
  // (see form_fields.cpp).
  if (query.find('\0') != std::string_view::npos) return {};
  const std::string terminated(query);
  const auto params = boost::urls::parse_query(terminated);
  if (!params) return {};
  for (const auto& param : *params) {
    if (param.key.decode() == "bodySHA256") return param.has_value ? param.value.decode() : std::string();
  }
  return {};
}

} // namespace

std::string twilio_signed_text(std::string_view url, const FormFields& params) {
  std::string text(url);
  text += params_text(sorted_by_name(params), ValueOrder::sorted);
  return text;
}

std::string twilio_signature(std::string_view auth_token, std::string_view url, const FormFields& params) {
  return hmac_sha1_base64(auth_token, twilio_signed_text(url, params));
}

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) return {};
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4U];
    out += kHex[digest[i] & 0x0FU];
  }
  return out;
}

std::optional<std::string> twilio_port_variant(std::string_view url) {
  // Parsed from a std::string: Boost.URL must not read past the view.
  const std::string text(url);
  const auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed || !parsed->has_authority()) return std::nullopt;
  boost::urls::url other(*parsed);
  if (other.has_port()) {
    other.remove_port();
  } else if (other.scheme() == "https") {
    other.set_port_number(443);
  } else if (other.scheme() == "http") {
    other.set_port_number(80);
  } else {
    return std::nullopt;
  }
  return std::string(other.buffer());
}

std::vector<std::string> twilio_url_variants(std::string_view url) {
  std::vector<std::string> variants{std::string(url)};
  if (auto other = twilio_port_variant(url)) variants.push_back(std::move(*other));
  return variants;
}

/// HMAC-SHA1 keyed with each token, set up once: OpenSSL 3 looks the
/// algorithm up in its provider store and derives the key's pads on every
/// one-shot HMAC(); a keyed context duplicated per check does neither.
struct TwilioSignatureValidator::Keys {
  std::unique_ptr<EVP_MAC, MacFree> mac;
  std::vector<MacContext> keyed; ///< never used directly, only duplicated (EVP_MAC_CTX_dup takes it as const)
};

TwilioSignatureValidator::TwilioSignatureValidator(std::vector<std::string> auth_tokens) {
  auto keys = std::make_shared<Keys>();
  keys->mac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!keys->mac) throw std::runtime_error("OpenSSL has no HMAC");
  std::array<char, 5> digest_name = {'S', 'H', 'A', '1', '\0'};
  const std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name.data(), 0), OSSL_PARAM_construct_end()};
  for (const auto& token : auth_tokens) {
    if (token.empty()) continue;
    MacContext context(EVP_MAC_CTX_new(keys->mac.get()));
    if (!context || EVP_MAC_init(context.get(), reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                                 params.data()) != 1) {
      throw std::runtime_error("OpenSSL cannot set up HMAC-SHA1 with an auth token");
    }
    keys->keyed.push_back(std::move(context));
  }
  keys_ = std::move(keys);
}

bool TwilioSignatureValidator::configured() const noexcept { return !keys_->keyed.empty(); }

bool TwilioSignatureValidator::matches(std::string_view url, const std::vector<std::string>& suffixes,
                                       std::string_view signature) const {
  std::string text;
  Digest digest{};
  for (const auto& keyed : keys_->keyed) {
    for (const auto& suffix : suffixes) {
      text.assign(url);
      text += suffix;
      const MacContext context(EVP_MAC_CTX_dup(keyed.get()));
      std::size_t size = 0;
      if (!context ||
          EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1 ||
          EVP_MAC_final(context.get(), digest.data(), &size, digest.size()) != 1) {
        return false;
      }
      if (constant_time_equal(base64(digest, size), signature)) return true;
    }
  }
  return false;
}

bool TwilioSignatureValidator::matches_any_url(std::string_view url, const std::vector<std::string>& suffixes,
                                               std::string_view signature) const {
  // The URL as built first: the port variant costs a parse, and most
  // requests match without it.
  if (matches(url, suffixes, signature)) return true;
  const auto other = twilio_port_variant(url);
  return other && matches(*other, suffixes, signature);
}

bool TwilioSignatureValidator::valid_form(std::string_view url, const FormFields& params,
                                          std::string_view signature) const {
  if (!configured() || signature.empty()) return false;
  const auto by_name = sorted_by_name(params);
  std::vector<std::string> suffixes{params_text(by_name, ValueOrder::sorted)};
  if (has_repeated_name(by_name)) {
    for (const auto order : {ValueOrder::sorted_unique, ValueOrder::received}) {
      auto text = params_text(by_name, order);
      if (std::find(suffixes.begin(), suffixes.end(), text) == suffixes.end()) suffixes.push_back(std::move(text));
    }
  }
  return matches_any_url(url, suffixes, signature);
}

bool TwilioSignatureValidator::valid_body(std::string_view url, std::string_view body,
                                          std::string_view signature) const {
  if (!configured() || signature.empty()) return false;
  std::string claimed = body_hash_parameter(url);
  std::transform(claimed.begin(), claimed.end(), claimed.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c); });
  // Twilio signs the URL alone here: the hash in it is what binds the body.
  if (claimed.empty() || !constant_time_equal(sha256_hex(body), claimed)) return false;
  return matches_any_url(url, {std::string()}, signature);
}

} // namespace fte::gateway
