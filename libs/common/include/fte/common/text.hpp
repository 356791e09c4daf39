#pragma once

#include <cstddef>
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

/// `text` with ASCII letters lower-cased; other bytes (UTF-8 included) unchanged.
[[nodiscard]] inline std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
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

} // namespace fte
