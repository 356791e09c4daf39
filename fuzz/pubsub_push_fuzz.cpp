// The Pub/Sub push body as the Gmail route reads it once the token checked
// out: JSON, base64 `data`, JSON again. Input: the body.
#include <cstdint>
#include <string_view>

#include "fte/contracts/validator.hpp"
#include "pubsub_push.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fte::contracts::Validator validator;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto parsed = fte::gateway::parse_gmail_push(body);
  if (const auto* notification = std::get_if<fte::gateway::GmailNotification>(&parsed)) {
    // Whatever the parser lets through must be an event the contract accepts.
    const auto event_data = notification->to_event_data(std::chrono::system_clock::time_point{});
    if (validator.validate_data("fte.email.notification.received.v1", event_data)) __builtin_trap();
    (void)event_data.dump();
  } else {
    const auto& code = std::get<fte::gateway::UnusablePush>(parsed).code;
    if (code != "invalid_json" && code != "invalid_push") __builtin_trap();
  }
  return 0;
}
