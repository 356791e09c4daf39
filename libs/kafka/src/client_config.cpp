#include "fte/kafka/client_config.hpp"

#include <array>

namespace fte::kafka {

ClientSettings ClientSettings::from_env(const Environment& env, std::string client_id) {
  ClientSettings settings;
  settings.bootstrap = env.get_or("FTE_KAFKA_BOOTSTRAP", settings.bootstrap);
  settings.client_id = std::move(client_id);
  settings.properties = env.rdkafka_properties();
  return settings;
}

void set_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  std::array<char, 512> error{};
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error.data(), error.size()) != RD_KAFKA_CONF_OK) {
    throw ConfigError("librdkafka property " + name, std::string(error.data()));
  }
}

ConfHandle make_conf(const ClientSettings& settings, const std::map<std::string, std::string>& defaults,
                     const std::map<std::string, std::string>& overrides) {
  ConfHandle conf(rd_kafka_conf_new());
  set_property(conf.get(), "bootstrap.servers", settings.bootstrap);
  set_property(conf.get(), "client.id", settings.client_id);
  for (const auto& [name, value] : defaults) {
    set_property(conf.get(), name, value);
  }
  for (const auto& [name, value] : settings.properties) {
    if (!overrides.contains(name)) {
      set_property(conf.get(), name, value);
    }
  }
  for (const auto& [name, value] : overrides) {
    set_property(conf.get(), name, value);
  }
  return conf;
}

} // namespace fte::kafka
