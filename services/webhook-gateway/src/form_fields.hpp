#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fte::gateway {

/// One `name=value` pair of a form body, both percent- and plus-decoded.
using FormField = std::pair<std::string, std::string>;
/// Every pair of a form body, in the order received, repeated names included.
using FormFields = std::vector<FormField>;

/// Parses an `application/x-www-form-urlencoded` body with Boost.URL. Pairs
/// with an empty name are skipped (`a=1&&b=2`, `=x`); a name without `=` has
/// the empty value. nullopt when the body is not form encoding: a malformed
/// percent escape, or a raw NUL (form encoding writes it %00). Never throws:
/// the gateway's first contact with the outside world, fuzzed.
[[nodiscard]] std::optional<FormFields> parse_form_fields(std::string_view body);

} // namespace fte::gateway
