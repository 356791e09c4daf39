#include "fte/common/logging.hpp"

#include <chrono>

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "fte/common/config.hpp"
#include "fte/common/time.hpp"

namespace fte {

Logger Logger::to_stderr(std::string service, spdlog::level::level_enum level) {
  // Not registered in spdlog's global registry: each Logger owns its sink.
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(service, std::move(sink));
  logger->set_pattern("%v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  return Logger(std::move(service), std::move(logger));
}

Logger::Logger(std::string service, std::shared_ptr<spdlog::logger> sink)
    : service_(std::move(service)), sink_(std::move(sink)) {}

spdlog::level::level_enum Logger::parse_level(std::string_view text) {
  const auto level = spdlog::level::from_str(std::string(text));
  // from_str answers `off` for anything it does not know; only accept that
  // when it was asked for.
  if (level == spdlog::level::off && text != "off") {
    throw ConfigError("FTE_LOG_LEVEL",
                      "expected trace|debug|info|warn|error|critical|off, got '" + std::string(text) + "'");
  }
  return level;
}

Logger Logger::with(const nlohmann::json& fields) const {
  Logger child = *this;
  for (const auto& [key, value] : fields.items()) {
    child.bound_[key] = value;
  }
  return child;
}

bool Logger::enabled(spdlog::level::level_enum level) const { return sink_ && sink_->should_log(level); }

void Logger::log(spdlog::level::level_enum level, std::string_view msg, const nlohmann::json& fields) const {
  if (!enabled(level)) {
    return;
  }
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = format_rfc3339(std::chrono::system_clock::now());
  line["level"] = spdlog::level::to_string_view(level).data();
  line["service"] = service_;
  line["msg"] = msg;
  for (const auto& [key, value] : bound_.items()) {
    line[key] = value;
  }
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      line[key] = value;
    }
  }
  // `replace` keeps a log line valid JSON even when a field carries bytes
  // that are not UTF-8 (a malformed webhook body, say).
  sink_->log(level, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Logger::trace(std::string_view msg, const nlohmann::json& fields) const { log(spdlog::level::trace, msg, fields); }
void Logger::debug(std::string_view msg, const nlohmann::json& fields) const { log(spdlog::level::debug, msg, fields); }
void Logger::info(std::string_view msg, const nlohmann::json& fields) const { log(spdlog::level::info, msg, fields); }
void Logger::warn(std::string_view msg, const nlohmann::json& fields) const { log(spdlog::level::warn, msg, fields); }
void Logger::error(std::string_view msg, const nlohmann::json& fields) const { log(spdlog::level::err, msg, fields); }

} // namespace fte
