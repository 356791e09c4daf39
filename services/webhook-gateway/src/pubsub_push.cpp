#include "pubsub_push.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "fte/common/time.hpp"
#include "fte/oidc/base64.hpp"

namespace fte::gateway {
namespace {

UnusablePush invalid_push(std::string reason) { return {"invalid_push", std::move(reason)}; }

/// The first of `names` present in `object` as a string.
const std::string* string_member(const nlohmann::json& object, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const auto it = object.find(name);
    if (it != object.end() && it->is_string()) return &it->get_ref<const std::string&>();
  }
  return nullptr;
}

bool is_plausible_mailbox(std::string_view address) {
  const auto at = address.find('@');
  if (address.empty() || address.size() > PushLimits::kEmailAddress || at == 0 || at == std::string_view::npos ||
      at + 1 == address.size() || address.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  for (const char c : address) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string lower_ascii(std::string text) {
  for (auto& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

/// Gmail's historyId, a uint64, from a string of digits or a JSON number.
std::optional<std::string> history_id(const nlohmann::json& value) {
  if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
  if (value.is_number_integer()) {
    const auto signed_value = value.get<std::int64_t>();
    if (signed_value < 0) return std::nullopt;
    return std::to_string(signed_value);
  }
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  std::uint64_t parsed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return std::to_string(parsed);
}

/// An RFC 3339 time from this era. The year is checked first: system_clock
/// counts nanoseconds, and a year far from 1970 (0000, 9999) would overflow
/// it inside parse_rfc3339.
std::optional<std::chrono::system_clock::time_point> plausible_time(std::string_view text) {
  int year = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + std::min<std::size_t>(text.size(), 4), year);
  if (ec != std::errc{} || end != text.data() + 4 || year < 1971 || year > 2199) return std::nullopt;
  return parse_rfc3339(text);
}

std::variant<GmailNotification, UnusablePush> parse(std::string_view body) {
  const auto push = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (push.is_discarded() || !push.is_object()) return UnusablePush{"invalid_json", "body is not a JSON object"};
  const auto message = push.find("message");
  if (message == push.end() || !message->is_object()) return invalid_push("no message object");

  GmailNotification notification;
  const auto* id = string_member(*message, {"messageId", "message_id"});
  if (id == nullptr || id->empty() || id->size() > PushLimits::kMessageId) {
    return invalid_push("no usable messageId");
  }
  notification.message_id = *id;
  const auto* subscription = string_member(push, {"subscription"});
  if (subscription == nullptr || subscription->empty() || subscription->size() > PushLimits::kSubscription) {
    return invalid_push("no usable subscription");
  }
  notification.subscription = *subscription;

  const auto* data = string_member(*message, {"data"});
  if (data == nullptr || data->empty()) return invalid_push("no data");
  const auto decoded = oidc::decode_base64(*data);
  if (!decoded) return invalid_push("data is not base64");
  const auto payload = nlohmann::json::parse(*decoded, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded() || !payload.is_object()) return invalid_push("data is not a JSON object");
  const auto* address = string_member(payload, {"emailAddress"});
  if (address == nullptr || !is_plausible_mailbox(*address)) return invalid_push("no usable emailAddress in data");
  notification.email_address = lower_ascii(*address);
  const auto history = payload.find("historyId");
  auto history_text = history == payload.end() ? std::nullopt : history_id(*history);
  if (!history_text) return invalid_push("no usable historyId in data");
  notification.history_id = std::move(*history_text);

  // Informational: an unparseable publish time is left out, not fatal.
  if (const auto* published = string_member(*message, {"publishTime", "publish_time"})) {
    if (const auto at = plausible_time(*published)) notification.publish_time = format_rfc3339(*at);
  }
  const auto attributes = message->find("attributes");
  if (attributes != message->end() && attributes->is_object()) {
    for (const auto& [key, value] : attributes->items()) {
      if (notification.attributes.size() >= PushLimits::kAttributes) break;
      if (value.is_string() && !key.empty() && key.size() <= PushLimits::kAttributeKey &&
          value.get_ref<const std::string&>().size() <= PushLimits::kAttributeValue) {
        notification.attributes[key] = value;
      }
    }
  }
  return notification;
}

} // namespace

nlohmann::json GmailNotification::to_event_data(std::chrono::system_clock::time_point received_at) const {
  nlohmann::json data = {{"email_address", email_address},
                         {"history_id", history_id},
                         {"pubsub_message_id", message_id},
                         {"subscription", subscription},
                         {"received_at", format_rfc3339(received_at)}};
  if (publish_time) data["publish_time"] = *publish_time;
  if (!attributes.empty()) data["attributes"] = attributes;
  return data;
}

std::variant<GmailNotification, UnusablePush> parse_gmail_push(std::string_view body) noexcept {
  try {
    return parse(body);
  } catch (const std::exception& e) {
    // Only allocation failure can get here.
    return UnusablePush{"invalid_push", std::string("could not read the push: ") + e.what()};
  }
}

} // namespace fte::gateway
