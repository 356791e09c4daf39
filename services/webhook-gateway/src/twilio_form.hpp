#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "form_fields.hpp"

namespace fte::gateway {

/// How a Twilio webhook's body is encoded, which decides how it is signed:
/// form parameters are part of the signed text; any other body is bound by
/// the URL's `bodySHA256` instead.
enum class TwilioBodyKind { form, json };

/// The kind for a Content-Type value; nullopt for media types Twilio's
/// webhooks do not use (the route answers 415).
[[nodiscard]] std::optional<TwilioBodyKind> twilio_body_kind(std::string_view content_type);

/// Reads a Twilio webhook body as name/value pairs in the order received:
/// form encoding as it is (repeated names kept), or a JSON object whose
/// members become pairs (a string as it is, a number or boolean as its JSON
/// text, an array as one pair per element, null members skipped, a nested
/// object as its JSON text). nullopt when the body cannot be read. Never
/// throws (fuzz/twilio_form_fuzz.cpp).
[[nodiscard]] std::optional<FormFields> parse_twilio_body(TwilioBodyKind kind, std::string_view body);

/// The parameters of one Twilio webhook: every field as received, because
/// Twilio adds fields without notice and the signature covers them all.
class TwilioParams {
public:
  TwilioParams() = default;
  explicit TwilioParams(FormFields fields) : fields_(std::move(fields)) {}

  [[nodiscard]] const FormFields& fields() const noexcept { return fields_; }

  /// The first value given for `name`, or nullopt when absent.
  [[nodiscard]] std::optional<std::string_view> first(std::string_view name) const;
  /// The first value of `name` when present and not empty.
  [[nodiscard]] std::optional<std::string_view> non_empty(std::string_view name) const;

  /// `{name: "value"}` for each name, `{name: ["v1", "v2"]}` for a name
  /// given several times, values in the order received: the `params` member
  /// of the gateway's Twilio events.
  [[nodiscard]] nlohmann::json to_json() const;

private:
  FormFields fields_;
};

} // namespace fte::gateway
