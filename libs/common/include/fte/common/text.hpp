#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fte {

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
