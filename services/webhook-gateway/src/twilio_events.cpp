#include "twilio_events.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "fte/common/time.hpp"
#include "phone_number.hpp"

namespace fte::gateway {
namespace {

/// Media a message may list; Twilio's WhatsApp limit is far below it. Bounds
/// the work a signed but odd request can ask for.
constexpr int kMaxMedia = 100;
/// Longest id or address copied into the event's own members (the schemas
/// say the same); anything longer is not something Twilio sends.
constexpr std::size_t kMaxShortField = 256;
constexpr std::size_t kMaxUserAgent = 1024;

constexpr std::array<std::string_view, 12> kMessageStatuses = {"queued",    "sending",  "sent",        "delivered",
                                                               "read",      "failed",   "undelivered", "accepted",
                                                               "scheduled", "canceled", "receiving",   "received"};

ClientError bad_request(std::string code, std::string message, std::string field) {
  return ClientError{http::Status::bad_request, std::move(code), std::move(message), std::move(field)};
}

ClientError missing(std::string_view name) {
  return bad_request("missing_field", "field '" + std::string(name) + "' is required", std::string(name));
}

// A required id or address: present, not empty, of bounded length.
std::variant<std::string, ClientError> required_short(const TwilioParams& params, std::string_view name) {
  const auto value = params.non_empty(name);
  if (!value) return missing(name);
  if (value->size() > kMaxShortField) {
    return bad_request("invalid_form", "field '" + std::string(name) + "' is too long", std::string(name));
  }
  return std::string(*value);
}

// A count such as NumMedia: nullopt when absent, -1 when not a number in
// [0, max].
std::optional<int> count_field(const TwilioParams& params, std::string_view name, int max) {
  const auto text = params.non_empty(name);
  if (!text) return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || end != text->data() + text->size() || value < 0 || value > max) return -1;
  return value;
}

nlohmann::json client_json(const TwilioRequestInfo& info) {
  nlohmann::json client = nlohmann::json::object();
  if (!info.client_address.empty()) client["address"] = info.client_address;
  if (!info.user_agent.empty()) client["user_agent"] = info.user_agent.substr(0, kMaxUserAgent);
  return client;
}

// What every Twilio message callback carries: whose message, which account,
// from and to whom (raw, as Twilio wrote them). `from` is empty when absent
// and not required: a status callback for a message sent through a
// Messaging Service can come before Twilio chose the sending number.
struct Envelope {
  std::string message_sid;
  std::string account_sid;
  std::string to;
  std::string from;
};

std::variant<Envelope, ClientError> envelope(const TwilioParams& params, bool from_required) {
  Envelope out;
  for (const auto& [name, value] :
       {std::pair{"MessageSid", &out.message_sid}, std::pair{"AccountSid", &out.account_sid}, std::pair{"To", &out.to},
        std::pair{"From", &out.from}}) {
    if (value == &out.from && !from_required && !params.non_empty(name)) break;
    auto field = required_short(params, name);
    if (auto* error = std::get_if<ClientError>(&field)) return std::move(*error);
    *value = std::move(std::get<std::string>(field));
  }
  return out;
}

TwilioEvent make_event(EventId id, std::string_view type, std::string key, nlohmann::json data) {
  auto event =
      events::make_origin_event(std::move(id), std::string(kGatewaySource), std::string(type), std::move(data));
  event.subject = key;
  return TwilioEvent{std::move(key), std::move(event)};
}

} // namespace

std::variant<TwilioEvent, ClientError> whatsapp_message_event(const TwilioParams& params,
                                                              const TwilioRequestInfo& info) {
  auto read = envelope(params, /*from_required=*/true);
  if (auto* error = std::get_if<ClientError>(&read)) return std::move(*error);
  auto& e = std::get<Envelope>(read);
  if (!has_whatsapp_prefix(e.from)) {
    return bad_request("invalid_phone_number", "field 'From' is not a WhatsApp address (whatsapp:+...)", "From");
  }
  const auto sender = to_e164(e.from);
  if (!sender) return bad_request("invalid_phone_number", "field 'From' is not a valid phone number", "From");

  const auto num_media = count_field(params, "NumMedia", kMaxMedia);
  if (num_media == -1) {
    return bad_request("invalid_form", "field 'NumMedia' must be a count from 0 to " + std::to_string(kMaxMedia),
                       "NumMedia");
  }
  const auto num_segments = count_field(params, "NumSegments", 1'000'000);
  if (num_segments == -1) return bad_request("invalid_form", "field 'NumSegments' must be a count", "NumSegments");

  nlohmann::json media = nlohmann::json::array();
  for (int i = 0; i < num_media.value_or(0); ++i) {
    const auto index = std::to_string(i);
    const auto url = params.non_empty("MediaUrl" + index);
    if (!url) return missing("MediaUrl" + index);
    nlohmann::json item = {{"url", *url}};
    if (const auto type = params.non_empty("MediaContentType" + index)) item["content_type"] = *type;
    media.push_back(std::move(item));
  }

  nlohmann::json data = {
      {"message_sid", e.message_sid},
      {"account_sid", e.account_sid},
      {"from", *sender},
      {"to", e.to},
      {"body", params.first("Body").value_or("")},
      {"num_media", num_media.value_or(0)},
      {"media", std::move(media)},
      {"received_at", format_rfc3339(info.received_at)},
      {"client", client_json(info)},
      {"params", params.to_json()},
  };
  // Bounded like the other ids; an odd one stays in `params` only.
  if (const auto service = params.non_empty("MessagingServiceSid"); service && service->size() <= kMaxShortField) {
    data["messaging_service_sid"] = *service;
  }
  if (const auto wa_id = params.non_empty("WaId")) data["wa_id"] = *wa_id;
  if (const auto profile = params.non_empty("ProfileName")) data["profile_name"] = *profile;
  if (num_segments) data["num_segments"] = *num_segments;
  return make_event(event_id_from_provider("twilio", e.message_sid), kWhatsappMessageEventType, *sender,
                    std::move(data));
}

std::variant<TwilioEvent, ClientError> whatsapp_status_event(const TwilioParams& params,
                                                             const TwilioRequestInfo& info) {
  auto read = envelope(params, /*from_required=*/false);
  if (auto* error = std::get_if<ClientError>(&read)) return std::move(*error);
  auto& e = std::get<Envelope>(read);
  const auto status = params.non_empty("MessageStatus");
  if (!status) return missing("MessageStatus");
  if (std::find(kMessageStatuses.begin(), kMessageStatuses.end(), *status) == kMessageStatuses.end()) {
    return bad_request("invalid_form", "field 'MessageStatus' is not a status Twilio documents", "MessageStatus");
  }
  const auto customer = to_e164(e.to);
  if (!customer) return bad_request("invalid_phone_number", "field 'To' is not a valid phone number", "To");
  const std::string error_code(params.non_empty("ErrorCode").value_or(""));

  nlohmann::json data = {
      {"message_sid", e.message_sid},
      {"message_status", *status},
      {"to", *customer},
      {"account_sid", e.account_sid},
      {"received_at", format_rfc3339(info.received_at)},
      {"params", params.to_json()},
  };
  if (!error_code.empty()) data["error_code"] = error_code;
  if (!e.from.empty()) data["from"] = e.from;
  auto id = event_id_from_provider("twilio-status", e.message_sid + ":" + std::string(*status) + ":" + error_code);
  return make_event(std::move(id), kWhatsappStatusEventType, *customer, std::move(data));
}

} // namespace fte::gateway
