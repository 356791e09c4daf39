#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fte {

/// A configuration value that is missing or malformed. The message names the
/// variable and what was expected, so an operator can fix it from the log.
class ConfigError : public std::runtime_error {
public:
  ConfigError(std::string variable, const std::string& problem);
  [[nodiscard]] const std::string& variable() const noexcept { return variable_; }

private:
  std::string variable_;
};

/// An immutable snapshot of environment variables. Services read it once at
/// start-up; tests build one from a map instead of touching the process
/// environment, so nothing here is global mutable state.
class Environment {
public:
  explicit Environment(std::map<std::string, std::string, std::less<>> vars);

  /// Copies the current process environment.
  static Environment from_process();

  /// A copy with some variables set (command-line flags over the environment).
  [[nodiscard]] Environment with(const std::map<std::string, std::string>& overrides) const;

  [[nodiscard]] std::optional<std::string> get(std::string_view name) const;
  [[nodiscard]] std::string get_or(std::string_view name, std::string_view fallback) const;
  /// @throws ConfigError when the variable is unset or empty.
  [[nodiscard]] std::string require(std::string_view name) const;
  /// @throws ConfigError when set but not an integer within [min, max].
  [[nodiscard]] std::int64_t get_int(std::string_view name, std::int64_t fallback, std::int64_t min,
                                     std::int64_t max) const;
  /// @throws ConfigError when set but not a number within [min, max].
  [[nodiscard]] double get_double(std::string_view name, double fallback, double min, double max) const;
  /// Accepts true/false, 1/0, yes/no, on/off. @throws ConfigError otherwise.
  [[nodiscard]] bool get_bool(std::string_view name, bool fallback) const;
  /// Milliseconds as a plain integer. @throws ConfigError when out of [min, max].
  [[nodiscard]] std::chrono::milliseconds get_millis(std::string_view name, std::chrono::milliseconds fallback,
                                                     std::chrono::milliseconds min,
                                                     std::chrono::milliseconds max) const;

  /// Every variable whose name starts with `prefix` (a child process's
  /// environment is built from these).
  [[nodiscard]] std::map<std::string, std::string> with_name_prefix(std::string_view prefix) const;

  /// librdkafka properties passed through from `FTE_RDKAFKA_<NAME>` variables:
  /// the rest of the name is lower-cased, `_` becomes `.` and `__` becomes `_`
  /// (FTE_RDKAFKA_LINGER_MS=2 gives linger.ms=2,
  /// FTE_RDKAFKA_SASL_OAUTHBEARER_CLIENT__ID gives sasl.oauthbearer.client_id).
  [[nodiscard]] std::map<std::string, std::string> rdkafka_properties() const;

private:
  std::map<std::string, std::string, std::less<>> vars_;
};

/// The environment variable name to librdkafka property mapping described
/// above, exposed for tests and documentation.
[[nodiscard]] std::string rdkafka_property_from_variable(std::string_view suffix);

} // namespace fte
