// What the desk's sign-in reads from outside (ADR 0020): the identity
// provider's discovery document and token answer, a browser's Cookie header
// and the return_to it asks for. Every reader must give a value or a reason
// for any bytes, never throw or crash.
#include <cstdint>
#include <string_view>

#include "fte/http/server.hpp"
#include "fte/oidc/code_flow.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto metadata = fte::oidc::parse_provider_metadata(body, "http://127.0.0.1:18180/realms/fte");
  if (const auto* provider = std::get_if<fte::oidc::ProviderMetadata>(&metadata)) {
    if (provider->issuer != "http://127.0.0.1:18180/realms/fte" || provider->token_endpoint.empty())
      __builtin_trap(); // accepted a document for another issuer, or without its token endpoint
  }
  for (const long status : {200L, 400L})
    (void)fte::oidc::read_token_response(status, body);
  const auto claims = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!claims.is_discarded()) (void)fte::oidc::string_list_claim(claims, "groups");

  // Header values cannot hold CR or LF; Beast refuses them before a handler.
  if (body.find_first_of("\r\n") == std::string_view::npos) {
    fte::http::Request request;
    request.insert(boost::beast::http::field::cookie, body);
    const auto value = fte::http::cookie_value(request, "fte_session");
    if (!value.empty() && body.find(value) == std::string_view::npos) __builtin_trap();
  }
  if (fte::http::is_local_path(body) && (body.starts_with("//") || body.find("://") == 0)) __builtin_trap();
  return 0;
}
