#include "fte/common/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

extern char** environ; // POSIX: the process environment, read once in from_process()

namespace fte {

ConfigError::ConfigError(std::string variable, const std::string& problem)
    : std::runtime_error("configuration " + variable + ": " + problem), variable_(std::move(variable)) {}

Environment::Environment(std::map<std::string, std::string, std::less<>> vars) : vars_(std::move(vars)) {}

Environment Environment::from_process() {
  std::map<std::string, std::string, std::less<>> vars;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) {
      continue;
    }
    vars.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return Environment(std::move(vars));
}

Environment Environment::with(const std::map<std::string, std::string>& overrides) const {
  auto vars = vars_;
  for (const auto& [name, value] : overrides) {
    vars[name] = value;
  }
  return Environment(std::move(vars));
}

std::optional<std::string> Environment::get(std::string_view name) const {
  const auto it = vars_.find(name);
  if (it == vars_.end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second;
}

std::string Environment::get_or(std::string_view name, std::string_view fallback) const {
  return get(name).value_or(std::string(fallback));
}

std::string Environment::require(std::string_view name) const {
  auto value = get(name);
  if (!value) {
    throw ConfigError(std::string(name), "is required but not set");
  }
  return *value;
}

namespace {

// One parser for every numeric setting: the whole value must be a number of
// type T within [min, max].
template <class T> T parse_number(std::string_view name, const std::string& value, T min, T max, const char* expected) {
  T parsed{};
  const char* first = value.data();
  const char* last = first + value.size();
  const auto [ptr, ec] = std::from_chars(first, last, parsed);
  if (ec != std::errc{} || ptr != last) {
    throw ConfigError(std::string(name), std::string("expected ") + expected + ", got '" + value + "'");
  }
  if (parsed < min || parsed > max) {
    throw ConfigError(std::string(name),
                      "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + value);
  }
  return parsed;
}

} // namespace

std::int64_t Environment::get_int(std::string_view name, std::int64_t fallback, std::int64_t min,
                                  std::int64_t max) const {
  const auto value = get(name);
  return value ? parse_number(name, *value, min, max, "an integer") : fallback;
}

double Environment::get_double(std::string_view name, double fallback, double min, double max) const {
  const auto value = get(name);
  return value ? parse_number(name, *value, min, max, "a number") : fallback;
}

bool Environment::get_bool(std::string_view name, bool fallback) const {
  auto value = get(name);
  if (!value) {
    return fallback;
  }
  std::string lower = *value;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "1" || lower == "true" || lower == "yes" || lower == "on") {
    return true;
  }
  if (lower == "0" || lower == "false" || lower == "no" || lower == "off") {
    return false;
  }
  throw ConfigError(std::string(name), "expected a boolean (true/false), got '" + *value + "'");
}

std::chrono::milliseconds Environment::get_millis(std::string_view name, std::chrono::milliseconds fallback,
                                                  std::chrono::milliseconds min, std::chrono::milliseconds max) const {
  return std::chrono::milliseconds(get_int(name, fallback.count(), min.count(), max.count()));
}

std::string rdkafka_property_from_variable(std::string_view suffix) {
  std::string property;
  property.reserve(suffix.size());
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    const char c = suffix[i];
    if (c == '_') {
      if (i + 1 < suffix.size() && suffix[i + 1] == '_') {
        property.push_back('_');
        ++i;
      } else {
        property.push_back('.');
      }
    } else {
      property.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return property;
}

std::map<std::string, std::string> Environment::rdkafka_properties() const {
  constexpr std::string_view prefix = "FTE_RDKAFKA_";
  std::map<std::string, std::string> properties;
  for (const auto& [name, value] : vars_) {
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
      properties[rdkafka_property_from_variable(std::string_view(name).substr(prefix.size()))] = value;
    }
  }
  return properties;
}

std::map<std::string, std::string> Environment::with_name_prefix(std::string_view prefix) const {
  std::map<std::string, std::string> out;
  for (auto it = vars_.lower_bound(prefix); it != vars_.end() && it->first.starts_with(prefix); ++it)
    out.emplace(it->first, it->second);
  return out;
}

} // namespace fte
