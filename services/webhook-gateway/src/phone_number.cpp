#include "phone_number.hpp"

#include "fte/identity/identifier.hpp"
#include "text.hpp"

namespace fte::gateway {
namespace {

constexpr std::string_view kWhatsappPrefix = "whatsapp:";

} // namespace

bool has_whatsapp_prefix(std::string_view text) {
  return text.size() >= kWhatsappPrefix.size() &&
         lower_ascii(text.substr(0, kWhatsappPrefix.size())) == kWhatsappPrefix;
}

std::string_view strip_whatsapp_prefix(std::string_view text) {
  return has_whatsapp_prefix(text) ? text.substr(kWhatsappPrefix.size()) : text;
}

std::optional<std::string> to_e164(std::string_view text) {
  const auto number_text = trim(strip_whatsapp_prefix(text));
  // Digits only after the '+': fte::identity also takes spaces, dashes and
  // brackets as people type them, and libphonenumber reads letters as a
  // vanity number; Twilio writes neither into a WhatsApp address.
  if (number_text.size() < 2 || number_text.front() != '+') return std::nullopt;
  for (const char c : number_text.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return identity::normalize_phone(number_text);
}

} // namespace fte::gateway
