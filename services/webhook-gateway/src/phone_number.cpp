#include "phone_number.hpp"

#include <phonenumbers/phonenumberutil.h>

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
  // E.164 allows at most 15 digits; a few more leave room for libphonenumber
  // to say "too long" itself.
  if (number_text.size() < 2 || number_text.size() > 20 || number_text.front() != '+') return std::nullopt;
  for (const char c : number_text.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  using i18n::phonenumbers::PhoneNumberUtil;
  // The library's singleton: built once, thread-safe, holds no state of ours.
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber number;
  // "ZZ" (unknown region): the number must carry its country code.
  if (util.Parse(std::string(number_text), "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR) return std::nullopt;
  if (util.IsPossibleNumberWithReason(number) != PhoneNumberUtil::IS_POSSIBLE) return std::nullopt;
  std::string formatted;
  util.Format(number, PhoneNumberUtil::E164, &formatted);
  return formatted;
}

} // namespace fte::gateway
