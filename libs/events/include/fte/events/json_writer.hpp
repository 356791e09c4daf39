#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fte::events {

/// Appends `text` as a JSON string literal: quotes, `"` and `\` escaped,
/// control characters as \b \f \n \r \t or \u00XX, other bytes as they are
/// (UTF-8 output, as nlohmann's dump with ensure_ascii off). Invalid UTF-8 is
/// replaced by U+FFFD, so the result is always valid JSON — the same bytes
/// nlohmann::json::dump(-1, ' ', false, error_handler_t::replace) writes.
///
/// Why not dump(): on the gateway's hot path nlohmann's serializer went byte
/// by byte through its UTF-8 automaton (about 150 instructions per byte
/// under callgrind); this copies runs of plain bytes whole.
void append_json_string(std::string& out, std::string_view text);

/// Appends `value` as compact JSON, byte for byte what dump(-1, ' ', false,
/// error_handler_t::replace) gives (objects in nlohmann's key order).
void append_json(std::string& out, const nlohmann::json& value);

} // namespace fte::events
