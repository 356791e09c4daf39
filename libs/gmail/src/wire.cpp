#include "fte/gmail/wire.hpp"

#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

#include "fte/common/time.hpp"
#include "fte/mail/mail.hpp"

namespace fte::gmail {
namespace {

using nlohmann::json;

// Google's answers are small objects; a body that is not one is an error,
// never an exception.
std::optional<json> parse_object(std::string_view body) {
  auto parsed = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

std::string string_member(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Ids and dates travel as decimal strings ("historyId": "12345",
// "internalDate": "1700000000000"); a number is accepted as well.
std::optional<std::uint64_t> id_member(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_string()) return parse_decimal_id(it->get_ref<const std::string&>());
  return std::nullopt;
}

std::vector<std::string> labels_of(const json& message) {
  std::vector<std::string> labels;
  const auto it = message.find("labelIds");
  if (it == message.end() || !it->is_array()) return labels;
  for (const auto& label : *it)
    if (label.is_string()) labels.push_back(label.get<std::string>());
  return labels;
}

std::optional<MessageRef> message_ref_of(const json& message) {
  if (!message.is_object()) return std::nullopt;
  MessageRef ref{string_member(message, "id"), string_member(message, "threadId"), labels_of(message)};
  if (ref.id.empty()) return std::nullopt;
  return ref;
}

template <class T> Parsed<T> error(std::string message) { return WireError{std::move(message)}; }

} // namespace

std::optional<std::uint64_t> parse_decimal_id(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Parsed<HistoryPage> parse_history_page(std::string_view body) {
  const auto root = parse_object(body);
  if (!root) return error<HistoryPage>("history answer is not a JSON object");
  HistoryPage page;
  const auto current = id_member(*root, "historyId");
  if (!current) return error<HistoryPage>("history answer without a historyId");
  page.history_id = *current;
  page.next_page_token = string_member(*root, "nextPageToken");
  const auto records = root->find("history");
  if (records == root->end()) return page; // no change since the start id
  if (!records->is_array()) return error<HistoryPage>("history answer: 'history' is not an array");
  for (const auto& record : *records) {
    if (!record.is_object()) return error<HistoryPage>("history answer: a record is not an object");
    const auto record_id = id_member(record, "id");
    if (!record_id) return error<HistoryPage>("history answer: a record without an id");
    const auto added = record.find("messagesAdded");
    if (added == record.end()) continue;
    if (!added->is_array()) return error<HistoryPage>("history answer: 'messagesAdded' is not an array");
    for (const auto& entry : *added) {
      const auto message = entry.is_object() ? entry.find("message") : entry.end();
      const auto ref = message != entry.end() ? message_ref_of(*message) : std::nullopt;
      if (!ref) return error<HistoryPage>("history answer: a messagesAdded entry without a message id");
      page.added.push_back({*record_id, *ref});
    }
  }
  return page;
}

Parsed<MessageListPage> parse_message_list_page(std::string_view body) {
  const auto root = parse_object(body);
  if (!root) return error<MessageListPage>("message list answer is not a JSON object");
  MessageListPage page;
  page.next_page_token = string_member(*root, "nextPageToken");
  const auto messages = root->find("messages");
  if (messages == root->end()) return page; // nothing matched
  if (!messages->is_array()) return error<MessageListPage>("message list answer: 'messages' is not an array");
  for (const auto& message : *messages) {
    auto ref = message_ref_of(message);
    if (!ref) return error<MessageListPage>("message list answer: an entry without an id");
    page.messages.push_back(std::move(*ref));
  }
  return page;
}

Parsed<RawMessage> parse_raw_message(std::string_view body) {
  const auto root = parse_object(body);
  if (!root) return error<RawMessage>("message answer is not a JSON object");
  RawMessage message;
  message.id = string_member(*root, "id");
  message.thread_id = string_member(*root, "threadId");
  message.label_ids = labels_of(*root);
  if (message.id.empty()) return error<RawMessage>("message answer without an id");
  message.history_id = id_member(*root, "historyId").value_or(0);
  const auto internal_date = id_member(*root, "internalDate");
  // Kept only when system_clock can hold it, so the fetcher can convert it.
  if (internal_date && *internal_date <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) &&
      time_point_since_epoch(std::chrono::milliseconds(static_cast<std::int64_t>(*internal_date))))
    message.internal_date_ms = static_cast<std::int64_t>(*internal_date);
  const auto raw = root->find("raw");
  if (raw == root->end() || !raw->is_string()) return error<RawMessage>("message " + message.id + " without 'raw'");
  auto decoded = mail::base64url_decode(raw->get_ref<const std::string&>());
  if (!decoded) return error<RawMessage>("message " + message.id + ": 'raw' is not base64url");
  message.rfc822 = std::move(*decoded);
  return message;
}

Parsed<MessageRef> parse_message_ref(std::string_view body) {
  const auto root = parse_object(body);
  if (!root) return error<MessageRef>("message answer is not a JSON object");
  auto ref = message_ref_of(*root);
  if (!ref) return error<MessageRef>("message answer without an id");
  return *ref;
}

Parsed<WatchResult> parse_watch_result(std::string_view body) {
  const auto root = parse_object(body);
  if (!root) return error<WatchResult>("watch answer is not a JSON object");
  const auto history_id = id_member(*root, "historyId");
  const auto expiration_ms = id_member(*root, "expiration");
  if (!history_id || !expiration_ms) return error<WatchResult>("watch answer without historyId or expiration");
  // A year 3000 expiration is nonsense, not a reason to overflow.
  const auto expiration =
      *expiration_ms <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
          ? time_point_since_epoch(std::chrono::milliseconds(static_cast<std::int64_t>(*expiration_ms)))
          : std::nullopt;
  if (!expiration) return error<WatchResult>("watch answer: expiration out of range");
  return WatchResult{*history_id, *expiration};
}

Parsed<Profile> parse_profile(std::string_view body) {
  const auto root = parse_object(body);
  if (!root) return error<Profile>("profile answer is not a JSON object");
  const auto history_id = id_member(*root, "historyId");
  if (!history_id) return error<Profile>("profile answer without a historyId");
  return Profile{string_member(*root, "emailAddress"), *history_id};
}

Parsed<AccessToken> parse_access_token(std::string_view body) {
  const auto root = parse_object(body);
  if (!root) return error<AccessToken>("token answer is not a JSON object");
  AccessToken token{string_member(*root, "access_token"), std::chrono::seconds(0)};
  if (token.token.empty()) return error<AccessToken>("token answer without an access_token");
  const auto expires = root->find("expires_in");
  // Google says 3599; a missing or odd value is treated as "use it once".
  if (expires != root->end() && expires->is_number_integer()) {
    const auto seconds = expires->get<std::int64_t>();
    if (seconds > 0 && seconds < 366LL * 86'400) token.expires_in = std::chrono::seconds(seconds);
  }
  return token;
}

GoogleError parse_google_error(std::string_view body) {
  GoogleError result;
  const auto root = parse_object(body);
  if (!root) {
    constexpr std::size_t kExcerpt = 200;
    result.message = std::string(body.substr(0, kExcerpt));
    return result;
  }
  const auto error_member = root->find("error");
  if (error_member == root->end()) return result;
  if (error_member->is_string()) { // the token endpoint's shape
    result.reason = error_member->get<std::string>();
    result.message = string_member(*root, "error_description");
    return result;
  }
  if (!error_member->is_object()) return result;
  result.message = string_member(*error_member, "message");
  result.reason = string_member(*error_member, "status");
  const auto errors = error_member->find("errors");
  if (errors != error_member->end() && errors->is_array() && !errors->empty() && errors->front().is_object()) {
    const auto reason = string_member(errors->front(), "reason");
    if (!reason.empty()) result.reason = reason;
  }
  return result;
}

} // namespace fte::gmail
