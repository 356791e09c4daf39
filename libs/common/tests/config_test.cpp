#include "fte/common/config.hpp"

#include <gtest/gtest.h>

namespace fte {
namespace {

Environment env(std::map<std::string, std::string, std::less<>> vars) { return Environment(std::move(vars)); }

TEST(Environment, ReturnsFallbackWhenUnsetOrEmpty) {
  const auto e = env({{"FTE_EMPTY", ""}});
  EXPECT_EQ(e.get_or("FTE_MISSING", "x"), "x");
  EXPECT_EQ(e.get_or("FTE_EMPTY", "y"), "y");
  EXPECT_FALSE(e.get("FTE_EMPTY").has_value());
}

TEST(Environment, RequireNamesTheMissingVariable) {
  try {
    (void)env({}).require("FTE_DATABASE_URL");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.variable(), "FTE_DATABASE_URL");
    EXPECT_NE(std::string(error.what()).find("FTE_DATABASE_URL"), std::string::npos);
  }
}

TEST(Environment, ParsesIntegersWithinBounds) {
  const auto e = env({{"A", "42"}, {"B", "-3"}, {"C", "12x"}, {"D", "100000"}});
  EXPECT_EQ(e.get_int("A", 0, 0, 100), 42);
  EXPECT_EQ(e.get_int("B", 0, -10, 10), -3);
  EXPECT_EQ(e.get_int("MISSING", 7, 0, 10), 7);
  EXPECT_THROW((void)e.get_int("C", 0, 0, 100), ConfigError);
  EXPECT_THROW((void)e.get_int("D", 0, 0, 100), ConfigError);
}

TEST(Environment, ParsesBooleans) {
  const auto e = env({{"T1", "true"}, {"T2", "YES"}, {"T3", "1"}, {"F1", "off"}, {"F2", "0"}, {"BAD", "maybe"}});
  EXPECT_TRUE(e.get_bool("T1", false));
  EXPECT_TRUE(e.get_bool("T2", false));
  EXPECT_TRUE(e.get_bool("T3", false));
  EXPECT_FALSE(e.get_bool("F1", true));
  EXPECT_FALSE(e.get_bool("F2", true));
  EXPECT_TRUE(e.get_bool("MISSING", true));
  EXPECT_THROW((void)e.get_bool("BAD", false), ConfigError);
}

TEST(Environment, ParsesDoubles) {
  const auto e = env({{"S", "0.25"}, {"BAD", "abc"}, {"BIG", "2"}});
  EXPECT_DOUBLE_EQ(e.get_double("S", 0.5, 0.0, 1.0), 0.25);
  EXPECT_DOUBLE_EQ(e.get_double("MISSING", 0.5, 0.0, 1.0), 0.5);
  EXPECT_THROW((void)e.get_double("BAD", 0.5, 0.0, 1.0), ConfigError);
  EXPECT_THROW((void)e.get_double("BIG", 0.5, 0.0, 1.0), ConfigError);
}

TEST(Environment, ParsesMilliseconds) {
  using std::chrono::milliseconds;
  const auto e = env({{"T", "250"}, {"NEG", "-1"}});
  EXPECT_EQ(e.get_millis("T", milliseconds(1), milliseconds(0), milliseconds(1000)), milliseconds(250));
  EXPECT_THROW((void)e.get_millis("NEG", milliseconds(1), milliseconds(0), milliseconds(1000)), ConfigError);
}

TEST(Environment, PassesLibrdkafkaPropertiesThrough) {
  const auto e = env({{"FTE_RDKAFKA_LINGER_MS", "2"},
                      {"FTE_RDKAFKA_SOCKET_NAGLE_DISABLE", "true"},
                      {"FTE_RDKAFKA_SASL_OAUTHBEARER_CLIENT__ID", "abc"},
                      {"FTE_RDKAFKA_", "ignored"},
                      {"FTE_KAFKA_BOOTSTRAP", "not-a-property"}});
  const auto props = e.rdkafka_properties();
  ASSERT_EQ(props.size(), 3U);
  EXPECT_EQ(props.at("linger.ms"), "2");
  EXPECT_EQ(props.at("socket.nagle.disable"), "true");
  EXPECT_EQ(props.at("sasl.oauthbearer.client_id"), "abc");
}

TEST(Environment, FromProcessSeesRealVariables) {
  ::setenv("FTE_TEST_FROM_PROCESS", "hello", 1);
  EXPECT_EQ(Environment::from_process().get_or("FTE_TEST_FROM_PROCESS", ""), "hello");
  ::unsetenv("FTE_TEST_FROM_PROCESS");
}

} // namespace
} // namespace fte
