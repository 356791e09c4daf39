#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fte/common/text.hpp"

// Small text helpers the parser, the HTML renderer and the composer share.
// Everything fte::mail returns passes through sanitize_text, so the rest of
// the pipeline (JSON events, PostgreSQL text columns, which refuse NUL) can
// take it as it is.
namespace fte::mail::detail {

/// Valid UTF-8 with LF line endings: invalid sequences become U+FFFD, CRLF
/// and lone CR become LF, NUL and other C0/C1 control characters except tab
/// and LF are dropped, and so is a byte order mark.
[[nodiscard]] std::string sanitize_text(std::string_view bytes);

/// sanitize_text for a one-line header value: tabs and line breaks become
/// spaces, runs of spaces collapse, the ends are trimmed.
[[nodiscard]] std::string sanitize_header_text(std::string_view bytes);

using fte::is_valid_utf8; // fte/common/text.hpp

/// The longest prefix of valid UTF-8 `text` of at most `max_bytes` bytes that
/// does not split a character.
[[nodiscard]] std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept;

[[nodiscard]] std::string lower_ascii(std::string_view text);
[[nodiscard]] bool iequals_ascii(std::string_view a, std::string_view b) noexcept;
[[nodiscard]] bool istarts_with_ascii(std::string_view text, std::string_view prefix) noexcept;
/// Trims spaces and tabs (and CR/LF) at both ends.
[[nodiscard]] std::string_view trim_ascii(std::string_view text) noexcept;

} // namespace fte::mail::detail
