#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "fte/common/text.hpp" // trim, lower_ascii

namespace fte::gateway {

/// The number of code points in `s`, or nullopt when `s` is not valid UTF-8
/// (overlong forms, surrogates and truncated sequences included). JSON Schema
/// lengths count characters, and a broken byte sequence must not reach Kafka.
[[nodiscard]] std::optional<std::size_t> utf8_length(std::string_view s);

/// The media type of a Content-Type value, lower case, without parameters:
/// "Application/JSON; charset=utf-8" gives "application/json".
[[nodiscard]] std::string media_type(std::string_view content_type);

} // namespace fte::gateway
