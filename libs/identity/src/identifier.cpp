#include "fte/identity/identifier.hpp"

#include <algorithm>
#include <cctype>

#include <phonenumbers/phonenumberutil.h>

namespace fte::identity {
namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

// E.164 allows 15 digits; libphonenumber's parser gives up on anything
// much longer anyway, and a bound keeps its regular expressions cheap on
// hostile input.
constexpr std::size_t kMaxPhoneText = 64;
constexpr std::size_t kMaxEmail = 254;

} // namespace

std::string_view to_string(IdentifierKind kind) noexcept {
  switch (kind) {
  case IdentifierKind::email: return "email";
  case IdentifierKind::phone: return "phone";
  }
  return "email";
}

std::optional<IdentifierKind> parse_kind(std::string_view text) noexcept {
  if (text == "email") return IdentifierKind::email;
  if (text == "phone") return IdentifierKind::phone;
  return std::nullopt;
}

bool is_e164(std::string_view text) noexcept {
  if (text.size() < 3 || text.size() > 16 || text[0] != '+' || text[1] < '1' || text[1] > '9') return false;
  return std::all_of(text.begin() + 1, text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::string> normalize_phone(std::string_view text) {
  text = trim(text);
  // "ZZ" parses only numbers in international form; the parser skips
  // leading text it does not understand, so insist on the `+` ourselves
  // (otherwise "whatsapp:+1..." or "tel:+1..." would pass as a number).
  if (text.empty() || text.size() > kMaxPhoneText || text.front() != '+') return std::nullopt;
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return std::nullopt;
  }
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const auto* util = PhoneNumberUtil::GetInstance(); // the library's own, immutable after creation
  PhoneNumber number;
  if (util->Parse(std::string(text), "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR) return std::nullopt;
  if (number.has_extension() || !util->IsPossibleNumber(number)) return std::nullopt;
  std::string e164;
  util->Format(number, PhoneNumberUtil::E164, &e164);
  if (!is_e164(e164)) return std::nullopt;
  return e164;
}

std::optional<std::string> normalize_email(std::string_view text) {
  text = trim(text);
  if (text.size() < 3 || text.size() > kMaxEmail) return std::nullopt;
  const auto at = text.find('@');
  if (at == std::string_view::npos || at == 0 || text.find('@', at + 1) != std::string_view::npos) return std::nullopt;
  const auto domain = text.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || domain.find("..") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return std::nullopt;
    out.push_back(u < 0x80 ? static_cast<char>(std::tolower(u)) : c);
  }
  return out;
}

std::optional<Identifier> make_identifier(IdentifierKind kind, std::string_view value) {
  auto normalised = kind == IdentifierKind::phone ? normalize_phone(value) : normalize_email(value);
  if (!normalised) return std::nullopt;
  return Identifier{kind, std::move(*normalised)};
}

} // namespace fte::identity
