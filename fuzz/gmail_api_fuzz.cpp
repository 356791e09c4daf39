// What Gmail and Google's token endpoint answer reaches fte's parsers
// unfiltered: history pages, message lists, raw messages (base64url inside
// JSON), send/watch/profile answers, tokens and error bodies. Every parser
// must return a value or a WireError for any bytes, never throw or crash.
#include <cstdint>
#include <string_view>

#include "fte/gmail/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto history = fte::gmail::parse_history_page(body);
  if (const auto* page = std::get_if<fte::gmail::HistoryPage>(&history)) {
    for (const auto& added : page->added)
      if (added.message.id.empty()) __builtin_trap(); // an entry without an id must be an error
  }
  (void)fte::gmail::parse_message_list_page(body);
  const auto raw = fte::gmail::parse_raw_message(body);
  if (const auto* message = std::get_if<fte::gmail::RawMessage>(&raw)) {
    if (message->id.empty()) __builtin_trap();
  }
  (void)fte::gmail::parse_message_ref(body);
  (void)fte::gmail::parse_watch_result(body);
  (void)fte::gmail::parse_profile(body);
  (void)fte::gmail::parse_access_token(body);
  (void)fte::gmail::parse_google_error(body);
  (void)fte::gmail::parse_decimal_id(body);
  return 0;
}
