#include "fte/oidc/code_flow.hpp"

#include <openssl/evp.h>

#include "fte/common/ids.hpp"
#include "fte/common/text.hpp"
#include "fte/oidc/base64.hpp"
#include "fte/outbound_http/client.hpp"

namespace fte::oidc {
namespace {

std::string string_member(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("code_challenge_s256: SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

} // namespace

std::variant<ProviderMetadata, std::string> parse_provider_metadata(std::string_view body,
                                                                    std::string_view expected_issuer) {
  const auto document = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) return std::string("the discovery document is not JSON");
  ProviderMetadata metadata{string_member(document, "issuer"), string_member(document, "authorization_endpoint"),
                            string_member(document, "token_endpoint"), string_member(document, "jwks_uri"),
                            string_member(document, "end_session_endpoint")};
  if (metadata.issuer != expected_issuer) {
    return "the discovery document names issuer '" + excerpt(metadata.issuer, 200) + "', not '" +
           std::string(expected_issuer) + "'";
  }
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string&>{"authorization_endpoint", metadata.authorization_endpoint},
        {"token_endpoint", metadata.token_endpoint},
        {"jwks_uri", metadata.jwks_uri}}) {
    if (value.empty()) return std::string("the discovery document has no ") + name;
  }
  return metadata;
}

std::string new_code_verifier() { return encode_base64url(random_bytes(32)); }

std::string code_challenge_s256(std::string_view verifier) { return encode_base64url(sha256(verifier)); }

std::string new_random_value() { return encode_base64url(random_bytes(24)); }

std::string authorization_url(const ProviderMetadata& provider, const AuthorizationRequest& request) {
  const auto separator = provider.authorization_endpoint.find('?') == std::string::npos ? '?' : '&';
  return provider.authorization_endpoint + separator +
         outbound_http::form_encode({{"response_type", "code"},
                                     {"client_id", request.client_id},
                                     {"redirect_uri", request.redirect_uri},
                                     {"scope", request.scope},
                                     {"state", request.state},
                                     {"nonce", request.nonce},
                                     {"code_challenge", request.code_challenge},
                                     {"code_challenge_method", "S256"}});
}

std::string token_request_body(std::string_view code, std::string_view redirect_uri, std::string_view code_verifier) {
  return outbound_http::form_encode({{"grant_type", "authorization_code"},
                                     {"code", std::string(code)},
                                     {"redirect_uri", std::string(redirect_uri)},
                                     {"code_verifier", std::string(code_verifier)}});
}

std::variant<std::string, std::string> read_token_response(long status, std::string_view body) {
  const auto answer = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    return std::variant<std::string, std::string>(std::in_place_index<1>, "the token endpoint answered HTTP " +
                                                                              std::to_string(status) + ": " +
                                                                              excerpt(body, 200));
  }
  if (status != 200) {
    auto error = string_member(answer, "error");
    const auto description = string_member(answer, "error_description");
    if (error.empty()) error = "HTTP " + std::to_string(status);
    if (!description.empty()) error += ": " + excerpt(description, 200);
    return std::variant<std::string, std::string>(std::in_place_index<1>, error);
  }
  auto id_token = string_member(answer, "id_token");
  if (id_token.empty()) {
    return std::variant<std::string, std::string>(
        std::in_place_index<1>, "the token endpoint's answer has no id_token (is 'openid' in scope?)");
  }
  return std::variant<std::string, std::string>(std::in_place_index<0>, std::move(id_token));
}

std::vector<std::string> string_list_claim(const nlohmann::json& claims, std::string_view name) {
  std::vector<std::string> values;
  const auto it = claims.find(std::string(name));
  if (it == claims.end()) return values;
  if (it->is_string()) values.push_back(it->get<std::string>());
  if (it->is_array()) {
    for (const auto& item : *it)
      if (item.is_string()) values.push_back(item.get<std::string>());
  }
  return values;
}

} // namespace fte::oidc
