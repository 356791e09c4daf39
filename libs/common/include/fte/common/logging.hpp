#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <spdlog/common.h>

namespace spdlog {
class logger;
}

namespace fte {

/// Structured JSON logging: one JSON object per line with `ts`, `level`,
/// `service`, `msg` and any bound or per-call fields (`correlation_id`,
/// `event_id`, `topic`, ...). A Logger is cheap to copy; `with()` returns a
/// child that carries extra fields, which is how a correlation id follows a
/// message through a handler without thread-local state.
class Logger {
public:
  /// Writes to stderr at the given level.
  static Logger to_stderr(std::string service, spdlog::level::level_enum level = spdlog::level::info);
  /// Writes through any spdlog logger (tests capture output with an ostream sink).
  Logger(std::string service, std::shared_ptr<spdlog::logger> sink);

  /// Parses trace|debug|info|warn|error|critical|off. @throws ConfigError.
  static spdlog::level::level_enum parse_level(std::string_view text);

  [[nodiscard]] Logger with(const nlohmann::json& fields) const;

  void trace(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) const;
  void debug(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) const;
  void info(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) const;
  void warn(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) const;
  void error(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) const;
  void log(spdlog::level::level_enum level, std::string_view msg, const nlohmann::json& fields) const;

  [[nodiscard]] bool enabled(spdlog::level::level_enum level) const;
  [[nodiscard]] const std::string& service() const noexcept { return service_; }

private:
  std::string service_;
  std::shared_ptr<spdlog::logger> sink_;
  nlohmann::json bound_ = nlohmann::json::object();
};

} // namespace fte
