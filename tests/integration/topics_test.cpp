// `fte topics` and the admin client against the real broker.
#include <array>
#include <cstdio>
#include <memory>

#include <gtest/gtest.h>

#include "fte/kafka/topic_admin.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

struct CommandResult {
  int exit_code;
  std::string output;
};

CommandResult run_cli(const std::string& args, const StackAddresses& stack, const std::string& prefix = {}) {
  const std::string command = "FTE_KAFKA_BOOTSTRAP='" + stack.kafka_bootstrap + "' FTE_TOPIC_PREFIX='" + prefix + "' " +
                              FTE_CLI_PATH + " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), &pclose);
  std::string output;
  std::array<char, 4096> buffer{};
  while (pipe && fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr)
    output += buffer.data();
  const int status = pclose(pipe.release());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class TopicsTest : public ::testing::Test {
protected:
  void SetUp() override { require_kafka(stack); }
  StackAddresses stack = StackAddresses::from_env();
};

TEST_F(TopicsTest, CreatingTheContractTopicsTwiceChangesNothing) {
  // A fresh prefix, so the first run really creates all eight whatever the
  // broker already holds.
  const std::string prefix = unique_name("topics") + ".";
  struct Cleanup {
    const StackAddresses& stack;
    std::string prefix;
    ~Cleanup() {
      try {
        kafka::ClientSettings settings;
        settings.bootstrap = stack.kafka_bootstrap;
        kafka::TopicAdmin(settings, test_logger("admin"), 10s).remove(kafka::TopicNames::with_prefix(prefix).all());
      } catch (...) {
      }
    }
  } cleanup{stack, prefix};
  const auto first = run_cli("topics create", stack, prefix);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  for (const auto topic : kafka::topics::kAll) {
    EXPECT_NE(first.output.find(prefix + std::string(topic)), std::string::npos) << topic << "\n" << first.output;
  }
  EXPECT_NE(first.output.find("created"), std::string::npos) << first.output;
  const auto second = run_cli("topics create", stack, prefix);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output.find("created"), std::string::npos) << second.output;
  for (const auto topic : kafka::topics::kAll) {
    EXPECT_NE(second.output.find(prefix + std::string(topic)), std::string::npos) << topic;
  }

  const auto described = run_cli("topics describe --json", stack, prefix);
  ASSERT_EQ(described.exit_code, 0) << described.output;
  const auto topics = nlohmann::json::parse(described.output);
  ASSERT_EQ(topics.size(), 8U);
  for (const auto& t : topics) {
    EXPECT_TRUE(t["exists"].get<bool>()) << t.dump();
    EXPECT_EQ(t["partitions"], 12) << t.dump();
    EXPECT_EQ(t["configs"]["compression.type"], "lz4") << t.dump();
    EXPECT_EQ(t["configs"]["retention.ms"], "604800000") << t.dump();
  }
}

TEST_F(TopicsTest, ATopicWithFewerPartitionsIsReportedNotAccepted) {
  ScratchTopic small(stack, "small", 3);
  kafka::ClientSettings settings;
  settings.bootstrap = stack.kafka_bootstrap;
  kafka::TopicAdmin admin(settings, test_logger("admin"), 15s);
  kafka::TopicSpec spec;
  spec.name = small.name();
  spec.partitions = 12;
  const auto outcomes = admin.ensure({spec});
  ASSERT_EQ(outcomes.size(), 1U);
  EXPECT_EQ(outcomes[0].state, kafka::TopicOutcome::State::fewer_partitions);
  EXPECT_NE(outcomes[0].detail.find("3 partitions"), std::string::npos) << outcomes[0].detail;
  EXPECT_EQ(admin.describe({small.name()})[0].partitions, 3) << "fte must not change the topic";
}

TEST_F(TopicsTest, InvalidSettingsAreRejectedBeforeTouchingKafka) {
  const auto result = run_cli("topics create --replication-factor 1 --min-isr 2", stack);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("FTE_TOPIC_MIN_ISR"), std::string::npos) << result.output;
}

TEST_F(TopicsTest, UnreachableKafkaFailsWithinTheTimeout) {
  const auto started = std::chrono::steady_clock::now();
  StackAddresses nowhere = stack;
  nowhere.kafka_bootstrap = "127.0.0.1:1"; // nothing listens there
  const auto result = run_cli("topics describe --timeout-ms 2000", nowhere);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("127.0.0.1:1"), std::string::npos) << result.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
}

} // namespace
} // namespace fte::testing
