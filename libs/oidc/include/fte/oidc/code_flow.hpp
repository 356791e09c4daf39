#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace fte::oidc {

/// What a provider's discovery document (/.well-known/openid-configuration)
/// says that the authorization code flow needs.
struct ProviderMetadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string end_session_endpoint; ///< empty when the provider has none (Google)
};

/// Reads a discovery document. Its `issuer` must be exactly
/// `expected_issuer` (OpenID Connect Discovery 4.3: a document that names
/// another issuer is an attack or a misconfiguration), and the three
/// endpoints the flow needs must be there. Returns the reason otherwise.
/// Never throws.
[[nodiscard]] std::variant<ProviderMetadata, std::string> parse_provider_metadata(std::string_view body,
                                                                                  std::string_view expected_issuer);

/// PKCE (RFC 7636): a code verifier of 43 base64url characters (256 random
/// bits), and its S256 challenge.
[[nodiscard]] std::string new_code_verifier();
[[nodiscard]] std::string code_challenge_s256(std::string_view verifier);

/// A random value for `state` and `nonce`: 32 base64url characters.
[[nodiscard]] std::string new_random_value();

struct AuthorizationRequest {
  std::string client_id;
  std::string redirect_uri;
  std::string scope = "openid profile email";
  std::string state;
  std::string nonce;
  std::string code_challenge; ///< S256
};

/// The URL to send the browser to: the provider's authorization endpoint
/// with response_type=code and the request's parameters, percent-encoded.
[[nodiscard]] std::string authorization_url(const ProviderMetadata& provider, const AuthorizationRequest& request);

/// The body of the token request that redeems `code` (RFC 6749 4.1.3 with
/// the PKCE verifier); the client authenticates with HTTP Basic.
[[nodiscard]] std::string token_request_body(std::string_view code, std::string_view redirect_uri,
                                             std::string_view code_verifier);

/// What the token endpoint answered: the ID token, or the error
/// (`error`/`error_description` of RFC 6749 5.2, or why the body is not an
/// answer). Never throws.
[[nodiscard]] std::variant<std::string, std::string> read_token_response(long status, std::string_view body);

/// The strings of `claims[name]`: an array of strings (Keycloak, Okta,
/// Entra's `groups`), or one string; anything else is none.
[[nodiscard]] std::vector<std::string> string_list_claim(const nlohmann::json& claims, std::string_view name);

} // namespace fte::oidc
