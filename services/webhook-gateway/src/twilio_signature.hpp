#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "form_fields.hpp"

namespace fte::gateway {

/// Twilio's request signature, the X-Twilio-Signature header, as Twilio's
/// helper libraries check it (twilio-python request_validator.py):
/// base64(HMAC-SHA1(auth token, URL + every parameter name in sorted order
/// followed by its value)). Why each acceptance rule exists:
/// docs/adr/0008-twilio-signatures-behind-a-proxy.md.
///
/// The string signed for `url` and `params`: the URL, then for each name in
/// byte order (Twilio's "case-sensitive Unix sort") name + value, a name
/// given several times contributing every value, values sorted.
[[nodiscard]] std::string twilio_signed_text(std::string_view url, const FormFields& params);

/// base64(HMAC-SHA1(`auth_token`, twilio_signed_text(url, params))): what
/// Twilio puts in X-Twilio-Signature. Tests and bench/loadgen sign with it.
[[nodiscard]] std::string twilio_signature(std::string_view auth_token, std::string_view url, const FormFields& params);

/// Lower-case hex SHA-256 of `bytes`: the `bodySHA256` query parameter of
/// a request whose body is JSON.
[[nodiscard]] std::string sha256_hex(std::string_view bytes);

/// `url` and its port variant: without a port, also with the scheme's
/// default port (:443, :80); with a port, also without it. Twilio's own
/// signing has put the port in and left it out (twilio-python #392, #477).
/// Just `url` when it does not parse as an absolute URL.
[[nodiscard]] std::vector<std::string> twilio_url_variants(std::string_view url);
/// The second of twilio_url_variants, or nullopt when there is none.
[[nodiscard]] std::optional<std::string> twilio_port_variant(std::string_view url);

/// Checks X-Twilio-Signature against every accepted auth token. Comparisons
/// are constant-time (CRYPTO_memcmp). Thread-safe: the keyed HMAC state it
/// holds is only ever duplicated, never used in place. Copies share it.
class TwilioSignatureValidator {
public:
  /// `auth_tokens`: the current token first, then tokens still accepted
  /// during a rotation (FTE_TWILIO_AUTH_TOKEN, FTE_TWILIO_AUTH_TOKEN_PREVIOUS).
  /// Empty strings are dropped.
  /// @throws std::runtime_error when OpenSSL cannot provide HMAC-SHA1.
  explicit TwilioSignatureValidator(std::vector<std::string> auth_tokens);

  /// False when no token is configured: every check then fails.
  [[nodiscard]] bool configured() const noexcept;

  /// A form-encoded request: `url` as Twilio called it (query included) and
  /// every POST parameter as received. Besides the sorted reading of a
  /// repeated name's values, the readings other libraries use (each value
  /// once; values in the order received) are accepted: they reorder or
  /// repeat values under one name, which the sorted reading already does not
  /// pin down, and a signature still needs the token.
  [[nodiscard]] bool valid_form(std::string_view url, const FormFields& params, std::string_view signature) const;

  /// A request with any other body (JSON): Twilio signs the URL alone, and
  /// the URL's `bodySHA256` query parameter must be the hex SHA-256 of
  /// `body`. Without that parameter the body would be unauthenticated, so
  /// the request is refused.
  [[nodiscard]] bool valid_body(std::string_view url, std::string_view body, std::string_view signature) const;

private:
  struct Keys;
  /// Does HMAC(token, url + suffix) equal `signature` for any token and suffix?
  [[nodiscard]] bool matches(std::string_view url, const std::vector<std::string>& suffixes,
                             std::string_view signature) const;
  /// The same for `url` and then its port variant.
  [[nodiscard]] bool matches_any_url(std::string_view url, const std::vector<std::string>& suffixes,
                                     std::string_view signature) const;

  std::shared_ptr<const Keys> keys_;
};

} // namespace fte::gateway
