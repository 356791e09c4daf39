#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fte::gateway {

/// `s` without leading and trailing spaces, tabs, CRs and LFs.
[[nodiscard]] std::string_view trim(std::string_view s);

/// `s` with ASCII letters lower-cased; other bytes (UTF-8 included) unchanged.
[[nodiscard]] std::string lower_ascii(std::string_view s);

/// The number of code points in `s`, or nullopt when `s` is not valid UTF-8
/// (overlong forms, surrogates and truncated sequences included). JSON Schema
/// lengths count characters, and a broken byte sequence must not reach Kafka.
[[nodiscard]] std::optional<std::size_t> utf8_length(std::string_view s);

/// The media type of a Content-Type value, lower case, without parameters:
/// "Application/JSON; charset=utf-8" gives "application/json".
[[nodiscard]] std::string media_type(std::string_view content_type);

} // namespace fte::gateway
