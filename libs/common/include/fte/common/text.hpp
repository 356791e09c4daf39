#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fte {

/// `text` without leading and trailing spaces, tabs, CRs and LFs.
[[nodiscard]] inline std::string_view trim(std::string_view text) noexcept {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

/// `bytes` as lower-case hexadecimal, two digits a byte.
[[nodiscard]] inline std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0x0f]);
  }
  return hex;
}

/// `text` with ASCII letters lower-cased; other bytes (UTF-8 included) unchanged.
[[nodiscard]] inline std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// Length of the well-formed UTF-8 sequence at the start of `bytes`, or 0 when
/// it is not one (RFC 3629 table, as in the Unicode standard's table 3-7).
[[nodiscard]] inline std::size_t utf8_sequence_length(std::string_view bytes) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); };
  const auto in = [](std::uint8_t b, std::uint8_t lo, std::uint8_t hi) { return b >= lo && b <= hi; };
  const std::uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (in(b0, 0xC2, 0xDF)) return bytes.size() >= 2 && in(byte(1), 0x80, 0xBF) ? 2 : 0;
  if (in(b0, 0xE0, 0xEF)) {
    if (bytes.size() < 3) return 0;
    const std::uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const std::uint8_t hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(b0, 0xF0, 0xF4)) {
    if (bytes.size() < 4) return 0;
    const std::uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80;
    const std::uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) && in(byte(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

/// True when `bytes` is entirely well-formed UTF-8 (no overlongs, no
/// surrogates, nothing above U+10FFFF).
[[nodiscard]] inline bool is_valid_utf8(std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    const auto length = utf8_sequence_length(bytes);
    if (length == 0) return false;
    bytes.remove_prefix(length);
  }
  return true;
}

/// The first `max_chars` code points of UTF-8 `text` (JSON Schema lengths
/// count characters), never splitting a sequence: a field cut to fit a
/// schema limit stays valid UTF-8. A truncated sequence at the end is dropped.
[[nodiscard]] inline std::string truncate_utf8(std::string_view text, std::size_t max_chars) {
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < text.size() && chars < max_chars) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t width = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (i + width > text.size()) break;
    i += width;
    ++chars;
  }
  return std::string(text.substr(0, i));
}

/// `text` for an error message or a log: whole when it has at most `limit`
/// bytes, else its first `limit` bytes or fewer (never splitting a UTF-8
/// sequence) and "...".
[[nodiscard]] inline std::string excerpt(std::string_view text, std::size_t limit = 300) {
  if (text.size() <= limit) return std::string(text);
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U)
    --end;
  return std::string(text.substr(0, end)) + "...";
}

} // namespace fte
