// What every consumer does with a record value before its handler sees it:
// parse the CloudEvent envelope, then validate it against proto/ (valijson
// must never abort on hostile input; a record becomes a DLQ entry instead).
#include <cstdint>
#include <string_view>

#include "fte/contracts/validator.hpp"
#include "fte/events/cloud_event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fte::contracts::Validator validator;
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const auto parsed = fte::events::parse_event(value, {{"traceparent", std::string(value.substr(0, 55))}});
  if (const auto* event = std::get_if<fte::events::CloudEvent>(&parsed)) {
    (void)validator.validate(*event);
    (void)fte::events::serialize(*event);
  }
  return 0;
}
