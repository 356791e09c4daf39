#include "fte/kafka/client_config.hpp"

#include <gtest/gtest.h>

namespace fte::kafka {
namespace {

TEST(ClientConfig, ReadsBootstrapAndPassThroughProperties) {
  const auto settings =
      ClientSettings::from_env(Environment(std::map<std::string, std::string, std::less<>>{
                                   {"FTE_KAFKA_BOOTSTRAP", "k1:9092,k2:9092"}, {"FTE_RDKAFKA_LINGER_MS", "3"}}),
                               "svc");
  EXPECT_EQ(settings.bootstrap, "k1:9092,k2:9092");
  EXPECT_EQ(settings.client_id, "svc");
  EXPECT_EQ(settings.properties.at("linger.ms"), "3");
}

TEST(ClientConfig, OverridesBeatThePassThrough) {
  ClientSettings settings;
  settings.properties = {{"acks", "0"}, {"linger.ms", "7"}};
  const auto conf = make_conf(settings, {{"linger.ms", "1"}}, {{"acks", "all"}});
  char value[64];
  size_t size = sizeof value;
  ASSERT_EQ(rd_kafka_conf_get(conf.get(), "acks", value, &size), RD_KAFKA_CONF_OK);
  EXPECT_STREQ(value, "-1");
  size = sizeof value;
  ASSERT_EQ(rd_kafka_conf_get(conf.get(), "linger.ms", value, &size), RD_KAFKA_CONF_OK);
  EXPECT_STREQ(value, "7");
}

TEST(ClientConfig, RejectedPropertiesNameTheProperty) {
  ClientSettings settings;
  settings.properties = {{"no.such.property", "1"}};
  try {
    (void)make_conf(settings, {}, {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("no.such.property"), std::string::npos);
  }
}

} // namespace
} // namespace fte::kafka
