#include "fte/common/logging.hpp"

#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include "fte/common/config.hpp"

namespace fte {
namespace {

TEST(Logging, WritesOneJsonObjectPerLineWithBoundFields) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto spd = std::make_shared<spdlog::logger>("test", sink);
  spd->set_pattern("%v");
  const Logger logger("agent-worker", spd);
  logger.with({{"correlation_id", "c-1"}}).info("processed", {{"offset", 7}});

  const auto line = nlohmann::json::parse(out.str());
  EXPECT_EQ(line["service"], "agent-worker");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["msg"], "processed");
  EXPECT_EQ(line["correlation_id"], "c-1");
  EXPECT_EQ(line["offset"], 7);
  EXPECT_TRUE(line.contains("ts"));
}

TEST(Logging, KeepsLinesValidWithInvalidUtf8) {
  std::ostringstream out;
  auto spd = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  spd->set_pattern("%v");
  Logger("svc", spd).warn("bad body", {{"body", std::string("\xff\xfe")}});
  EXPECT_TRUE(nlohmann::json::accept(out.str()));
}

TEST(Logging, ParsesLevels) {
  EXPECT_EQ(Logger::parse_level("debug"), spdlog::level::debug);
  EXPECT_EQ(Logger::parse_level("off"), spdlog::level::off);
  EXPECT_THROW((void)Logger::parse_level("loud"), ConfigError);
}

} // namespace
} // namespace fte
