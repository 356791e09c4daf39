// What people send the desk (ADR 0021): reply, note, assign and SLA bodies,
// and the WhatsApp templates an operator configures. Every reader must give
// a value or a refusal for any bytes, never throw or crash, and what it
// accepts must hold the rules the store relies on.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "desk_rules.hpp"

namespace desk = fte::escalation::desk;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto reply = desk::parse_reply_request(body);
  if (const auto* r = std::get_if<desk::ReplyRequest>(&reply)) {
    if (r->version < 1) __builtin_trap();
    if (r->body.empty() == r->template_name.empty()) __builtin_trap(); // exactly one of the two
    if (r->body.size() > desk::kEmailBodyLimit) __builtin_trap();
  } else if (std::get<desk::Refusal>(reply).status != 400) {
    __builtin_trap();
  }
  const auto sla = desk::parse_sla_targets(body);
  if (const auto* targets = std::get_if<std::vector<desk::SlaTarget>>(&sla)) {
    for (const auto& t : *targets) {
      if (t.first_response_minutes < 1 || t.resolution_minutes < t.first_response_minutes ||
          t.resolution_minutes > 525600)
        __builtin_trap();
    }
  }
  const auto object = desk::parse_object(body);
  if (const auto* json = std::get_if<nlohmann::json>(&object)) {
    (void)desk::required_text(*json, "body", desk::kNoteLimit);
    (void)desk::optional_text(*json, "article", 255);
  }
  try {
    for (const auto& t : desk::parse_templates(body)) {
      const auto rendered = desk::render(t, nlohmann::json{{"1", "Ada"}, {"2", "order 7"}});
      if (const auto* r = std::get_if<desk::RenderedTemplate>(&rendered);
          r && r->text.find("{{1}}") != std::string::npos)
        __builtin_trap(); // a placeholder left in what the customer reads
    }
  } catch (const std::invalid_argument&) {
  }
  (void)desk::template_placeholders(body);
  return 0;
}
