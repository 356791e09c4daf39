#include "text.hpp"

#include <cstdint>

namespace fte::mail::detail {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

using fte::utf8_sequence_length;

bool is_ascii_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

} // namespace

std::string sanitize_text(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto rest = bytes.substr(i);
    const auto length = utf8_sequence_length(rest);
    if (length == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (length == 1) {
      const char c = rest[0];
      if (c == '\r') {
        out += '\n';
        i += rest.size() > 1 && rest[1] == '\n' ? 2 : 1;
        continue;
      }
      const auto code = static_cast<std::uint8_t>(c);
      if (c == '\n' || c == '\t' || (code >= 0x20 && code != 0x7F)) out += c;
      ++i;
      continue;
    }
    // C1 controls (U+0080..U+009F, the leftovers of a wrong windows-1252
    // guess) and the byte order mark carry nothing readable.
    const bool c1_control = length == 2 && rest[0] == '\xC2' && static_cast<std::uint8_t>(rest[1]) < 0xA0;
    const bool bom = rest.substr(0, 3) == "\xEF\xBB\xBF";
    if (!c1_control && !bom) out.append(rest.substr(0, length));
    i += length;
  }
  return out;
}

std::string sanitize_header_text(std::string_view bytes) {
  const auto text = sanitize_text(bytes);
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  // Back up over continuation bytes to the start of the character that would be split.
  while (cut > 0 && (static_cast<std::uint8_t>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut);
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool istarts_with_ascii(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && iequals_ascii(text.substr(0, prefix.size()), prefix);
}

std::string_view trim_ascii(std::string_view text) noexcept {
  while (!text.empty() && is_ascii_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_ascii_space(text.back()))
    text.remove_suffix(1);
  return text;
}

} // namespace fte::mail::detail
