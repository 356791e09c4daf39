#include "webform_submission.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

#include "fte/identity/identifier.hpp"

namespace fte::gateway {
namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Counts code points; nullopt when the text is not valid UTF-8 (JSON Schema
// lengths count characters, and a broken byte sequence must not reach Kafka).
std::optional<std::size_t> utf8_length(std::string_view s) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      extra = 0;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + extra >= s.size()) { // truncated sequence
      return std::nullopt;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    i += extra + 1;
    ++count;
  }
  return count;
}

ClientError bad(std::string code, std::string message, std::optional<std::string> field = std::nullopt) {
  return ClientError{http::Status::bad_request, std::move(code), std::move(message), std::move(field)};
}

using Fields = std::map<std::string, std::string, std::less<>>;

std::variant<Fields, ClientError> fields_from_json(std::string_view body) {
  const auto document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return bad("invalid_json", "the body is not valid JSON");
  }
  if (!document.is_object()) {
    return bad("invalid_json", "the body must be a JSON object");
  }
  Fields fields;
  for (const auto& [key, value] : document.items()) {
    if (value.is_null()) continue;
    if (!value.is_string()) {
      return bad("invalid_field", "field '" + key + "' must be a string", key);
    }
    fields.emplace(key, value.get<std::string>());
  }
  return fields;
}

std::variant<Fields, ClientError> fields_from_form(std::string_view body) {
  // Boost.URL 1.81's parse_query runs strlen over its input (found by
  // fuzz/webform_fuzz.cpp: a read past a body that is not NUL-terminated), so
  // it gets a NUL-terminated copy, and a raw NUL, which form encoding never
  // contains (it would be %00), is rejected first.
  if (body.find('\0') != std::string_view::npos) {
    return bad("invalid_form", "the body contains a NUL byte");
  }
  const std::string terminated(body);
  const auto parsed = boost::urls::parse_query(terminated);
  if (!parsed) {
    return bad("invalid_form", "the body is not valid application/x-www-form-urlencoded");
  }
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  Fields fields;
  for (const auto& param : *parsed) {
    std::string key = param.key.decode(opts);
    std::string value = param.has_value ? param.value.decode(opts) : std::string();
    if (key.empty()) continue;
    if (!fields.emplace(key, std::move(value)).second) {
      return bad("duplicate_field", "field '" + key + "' is given more than once", key);
    }
  }
  return fields;
}

// Reads a text field: trimmed, valid UTF-8, within `limit` characters;
// required fields must be non-empty.
std::variant<std::optional<std::string>, ClientError> text_field(const Fields& fields, const std::string& name,
                                                                 std::size_t limit, bool required) {
  const auto it = fields.find(name);
  const std::string_view value = it == fields.end() ? std::string_view() : trim(it->second);
  if (value.empty()) {
    if (required) return bad("missing_field", "field '" + name + "' is required", name);
    return std::optional<std::string>();
  }
  const auto length = utf8_length(value);
  if (!length) {
    return bad("invalid_encoding", "field '" + name + "' is not valid UTF-8", name);
  }
  if (*length > limit) {
    return bad("field_too_long", "field '" + name + "' is longer than " + std::to_string(limit) + " characters", name);
  }
  return std::optional<std::string>(std::string(value));
}

} // namespace

nlohmann::json WebformSubmission::to_json() const {
  nlohmann::json j = {{"name", name}, {"email", email}, {"subject", subject}, {"message", message}};
  if (category) j["category"] = *category;
  if (priority) j["priority"] = *priority;
  if (phone) j["phone"] = *phone;
  return j;
}

bool is_valid_email(std::string_view email) {
  if (email.size() < 3 || email.size() > WebformLimits::kEmail) return false;
  const auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || email.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const auto local = email.substr(0, at);
  const auto domain = email.substr(at + 1);
  for (const char c : local) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '(' || c == ')' || c == '<' || c == '>' || c == ',' || c == ';' || c == ':' ||
        c == '\\' || c == '"' || c == '[' || c == ']') {
      return false;
    }
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  if (domain.empty() || domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return false;
  }
  for (const char c : domain) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return true;
}

std::optional<ClientError> check_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > WebformLimits::kIdempotencyKey) {
    return bad("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters", "Idempotency-Key");
  }
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E) {
      return bad("invalid_idempotency_key", "Idempotency-Key must be visible ASCII characters", "Idempotency-Key");
    }
  }
  return std::nullopt;
}

std::variant<WebformSubmission, ClientError> parse_webform(std::string_view content_type, std::string_view body) {
  const auto media_type = lower_ascii(trim(content_type.substr(0, content_type.find(';'))));
  std::variant<Fields, ClientError> parsed;
  if (media_type == "application/json") {
    parsed = fields_from_json(body);
  } else if (media_type == "application/x-www-form-urlencoded") {
    parsed = fields_from_form(body);
  } else {
    return ClientError{http::Status::unsupported_media_type, "unsupported_media_type",
                       "send application/json or application/x-www-form-urlencoded", std::nullopt};
  }
  if (auto* error = std::get_if<ClientError>(&parsed)) return *error;
  const auto& fields = std::get<Fields>(parsed);

  WebformSubmission submission;
  struct Spec {
    const char* name;
    std::size_t limit;
    bool required;
    std::string* required_out;
    std::optional<std::string>* optional_out;
  };
  std::string email;
  const Spec specs[] = {
      {"name", WebformLimits::kName, true, &submission.name, nullptr},
      {"email", WebformLimits::kEmail, true, &email, nullptr},
      {"subject", WebformLimits::kSubject, true, &submission.subject, nullptr},
      {"message", WebformLimits::kMessage, true, &submission.message, nullptr},
      {"category", WebformLimits::kCategory, false, nullptr, &submission.category},
      {"priority", 16, false, nullptr, &submission.priority},
      {"phone", WebformLimits::kPhone, false, nullptr, &submission.phone},
  };
  for (const auto& spec : specs) {
    auto value = text_field(fields, spec.name, spec.limit, spec.required);
    if (auto* error = std::get_if<ClientError>(&value)) return *error;
    auto& text = std::get<std::optional<std::string>>(value);
    if (spec.required_out != nullptr) {
      *spec.required_out = std::move(*text);
    } else {
      *spec.optional_out = std::move(text);
    }
  }
  submission.email = lower_ascii(email);
  if (!is_valid_email(submission.email)) {
    return bad("invalid_email", "field 'email' is not a valid email address", "email");
  }
  if (submission.phone) {
    auto e164 = identity::normalize_phone(*submission.phone);
    if (!e164) {
      return bad("invalid_phone_number",
                 "field 'phone' is not a phone number in international form (+ and the country code)", "phone");
    }
    submission.phone = std::move(*e164);
  }
  if (submission.priority) {
    *submission.priority = lower_ascii(*submission.priority);
    static constexpr std::string_view kPriorities[] = {"low", "normal", "high", "urgent"};
    if (std::find(std::begin(kPriorities), std::end(kPriorities), *submission.priority) == std::end(kPriorities)) {
      return bad("invalid_priority", "field 'priority' must be one of low, normal, high, urgent", "priority");
    }
  }
  return submission;
}

} // namespace fte::gateway
