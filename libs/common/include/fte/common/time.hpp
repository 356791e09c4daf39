#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace fte {

/// RFC 3339 in UTC with millisecond precision: 2026-11-25T14:18:15.123Z.
[[nodiscard]] std::string format_rfc3339(std::chrono::system_clock::time_point at);

/// Parses RFC 3339 date-times with `Z` or a numeric offset and optional
/// fractional seconds. Returns nullopt for anything else.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

} // namespace fte
