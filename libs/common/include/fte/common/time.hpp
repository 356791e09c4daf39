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

/// The instant `since_epoch` after 1970-01-01, when system_clock can hold
/// it: its nanosecond ticks end in 2262, and outside input (a Date header,
/// Gmail's internalDate, a watch expiration) may name any year. Converting
/// without this check is signed overflow.
template <class Rep, class Period>
[[nodiscard]] constexpr std::optional<std::chrono::system_clock::time_point>
time_point_since_epoch(std::chrono::duration<Rep, Period> since_epoch) {
  using std::chrono::system_clock;
  constexpr auto kLimit = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(system_clock::duration::max());
  if (since_epoch >= kLimit || since_epoch <= -kLimit) return std::nullopt;
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(since_epoch));
}

} // namespace fte
