// The Twilio routes' first contact with the outside world: the body parser
// (form encoding or JSON), the parameters' JSON, the signature check over
// them, and the event builders that run once a signature is valid.
// Input: a content type, a newline, a body.
#include <cstdint>
#include <string_view>

#include "twilio_events.hpp"
#include "twilio_form.hpp"
#include "twilio_signature.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const auto content_type = newline == std::string_view::npos ? input : input.substr(0, newline);
  const auto body = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  const auto kind = fte::gateway::twilio_body_kind(content_type);
  if (!kind) return 0;
  auto fields = fte::gateway::parse_twilio_body(*kind, body);
  if (!fields) return 0;
  const fte::gateway::TwilioSignatureValidator validator({"fuzz-token"});
  const auto url = "https://support.example.com/webhooks/twilio/whatsapp?" + std::string(body.substr(0, 64));
  // Whatever arrives, no signature is valid for a token nobody signed with.
  if (validator.valid_form(url, *fields, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")) __builtin_trap();
  (void)validator.valid_body(url, body, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  const fte::gateway::TwilioParams params(std::move(*fields));
  // Every parameter is kept: the JSON holds one member per distinct name.
  const auto json = params.to_json();
  if (json.size() > params.fields().size()) __builtin_trap();
  const fte::gateway::TwilioRequestInfo info{std::chrono::system_clock::now(), "192.0.2.1", "fuzz"};
  for (const auto& built :
       {fte::gateway::whatsapp_message_event(params, info), fte::gateway::whatsapp_status_event(params, info)}) {
    if (const auto* event = std::get_if<fte::gateway::TwilioEvent>(&built)) {
      // What passes must be publishable: serialisable, keyed by E.164.
      if (event->key.empty() || event->key.front() != '+') __builtin_trap();
      (void)fte::events::serialize(event->event);
    }
  }
  return 0;
}
