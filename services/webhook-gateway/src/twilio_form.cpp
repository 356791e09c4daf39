#include "twilio_form.hpp"

#include "text.hpp"

namespace fte::gateway {
namespace {

// A JSON member's value as form text; nullopt for null (skipped).
std::optional<std::string> scalar_text(const nlohmann::json& value) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<FormFields> fields_from_json(std::string_view body) {
  const auto document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) return std::nullopt;
  FormFields fields;
  for (const auto& [name, value] : document.items()) {
    if (value.is_array()) {
      for (const auto& element : value) {
        if (auto text = scalar_text(element)) fields.emplace_back(name, std::move(*text));
      }
    } else if (auto text = scalar_text(value)) {
      fields.emplace_back(name, std::move(*text));
    }
  }
  return fields;
}

} // namespace

std::optional<TwilioBodyKind> twilio_body_kind(std::string_view content_type) {
  const auto type = media_type(content_type);
  if (type == "application/x-www-form-urlencoded") return TwilioBodyKind::form;
  if (type == "application/json") return TwilioBodyKind::json;
  return std::nullopt;
}

std::optional<FormFields> parse_twilio_body(TwilioBodyKind kind, std::string_view body) {
  if (kind == TwilioBodyKind::form) return parse_form_fields(body);
  try {
    return fields_from_json(body);
  } catch (const std::exception&) {
    // Only allocation failures reach here (parsing does not throw as called).
    return std::nullopt;
  }
}

std::optional<std::string_view> TwilioParams::first(std::string_view name) const {
  for (const auto& [key, value] : fields_) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> TwilioParams::non_empty(std::string_view name) const {
  auto value = first(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

nlohmann::json TwilioParams::to_json() const {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [name, value] : fields_) {
    auto [it, inserted] = params.emplace(name, value);
    if (inserted) continue;
    if (!it->is_array()) *it = nlohmann::json::array({std::move(*it)});
    it->push_back(value);
  }
  return params;
}

} // namespace fte::gateway
