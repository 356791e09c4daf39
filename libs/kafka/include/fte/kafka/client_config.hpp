#pragma once

#include <chrono>
#include <map>
#include <string>

#include "fte/common/config.hpp"
#include "fte/kafka/handles.hpp"

namespace fte::kafka {

/// What every Kafka client of a service shares: where the brokers are and any
/// librdkafka properties the operator passed through (FTE_RDKAFKA_*).
struct ClientSettings {
  std::string bootstrap = "127.0.0.1:19092";
  std::string client_id = "fte";
  std::map<std::string, std::string> properties;

  /// FTE_KAFKA_BOOTSTRAP and FTE_RDKAFKA_*; `client_id` is the service name.
  /// @throws ConfigError
  static ClientSettings from_env(const Environment& env, std::string client_id);
};

/// Builds a librdkafka configuration: `defaults` first, then the operator's
/// pass-through properties, then `overrides` (settings fte's guarantees
/// depend on and that must not be changed).
/// @throws ConfigError naming the property librdkafka rejected.
ConfHandle make_conf(const ClientSettings& settings, const std::map<std::string, std::string>& defaults,
                     const std::map<std::string, std::string>& overrides);

/// Sets one property. @throws ConfigError with librdkafka's reason.
void set_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);

} // namespace fte::kafka
