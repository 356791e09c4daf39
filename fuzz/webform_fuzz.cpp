// The gateway's first contact with the outside world: the form body parser
// and the Idempotency-Key check. Input: a content type, a newline, a body.
#include <cstdint>
#include <string_view>

#include "webform_submission.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const auto content_type = newline == std::string_view::npos ? input : input.substr(0, newline);
  const auto body = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  const auto parsed = fte::gateway::parse_webform(content_type, body);
  if (const auto* submission = std::get_if<fte::gateway::WebformSubmission>(&parsed)) {
    // What passes must be publishable: valid JSON out, limits held.
    const auto json = submission->to_json().dump();
    if (submission->email.empty() || submission->name.size() > 4 * 200) __builtin_trap();
    (void)json;
  }
  (void)fte::gateway::check_idempotency_key(content_type);
  return 0;
}
