// A consumer killed with SIGKILL after applying records but before committing
// their offsets: on restart the records come again and are deduplicated.
#include <filesystem>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/testing/child_process.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

TEST(ConsumerRestart, KilledBeforeCommitIsReprocessedWithOneEffectEach) {
  const auto stack = StackAddresses::from_env();
  require_kafka(stack);
  ScratchTopic topic(stack, "restart", 3);
  ScratchTopic dlq(stack, "restart-dlq", 1);
  ScratchDatabase db(stack);
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec("CREATE TABLE test_effects (id bigserial PRIMARY KEY, event_id text NOT NULL)");
    tx.exec("CREATE TABLE test_attempts (id bigserial PRIMARY KEY, event_id text NOT NULL)");
    tx.commit();
  }
  constexpr int kRecords = 60;
  auto producer = test_producer(stack);
  for (int i = 0; i < kRecords; ++i) {
    const std::string key = "customer-" + std::to_string(i % 6);
    const auto event = events::make_origin_event(event_id_from_provider("test", topic.name() + std::to_string(i)),
                                                 "/fte/test", "fte.test.sequence.v1", {{"seq", i}});
    ASSERT_TRUE(producer->send(kafka::ProducerRecord::from_event(topic.name(), key, event)).ok());
  }

  const std::string group = unique_name("test-restart");
  auto count = [&](const char* table) {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    return tx.exec1(std::string("SELECT count(*) FROM ") + table)[0].as<long>();
  };
  const auto log_dir = std::filesystem::temp_directory_path();
  std::map<std::string, std::string> env = {
      {"FTE_KAFKA_BOOTSTRAP", stack.kafka_bootstrap},
      // A dead member's partitions are reassigned after its session times out.
      {"FTE_RDKAFKA_SESSION_TIMEOUT_MS", "6000"},
      {"FTE_RDKAFKA_HEARTBEAT_INTERVAL_MS", "1000"},
  };

  {
    env["FTE_COMMIT_INTERVAL_MS"] = "600000"; // never commits before it dies
    ChildProcess first(FTE_DEDUP_CONSUMER_PATH, {topic.name(), group, db.url(), dlq.name()}, env,
                       (log_dir / (group + ".first.log")).string());
    ASSERT_TRUE(eventually([&] { return count("test_effects") == kRecords; }, 60s))
        << "first consumer applied " << count("test_effects") << "\n"
        << first.log_tail();
    first.kill_hard();
  }
  for (const auto& [partition, offset] : committed_offsets(stack, group, topic.name(), 3)) {
    EXPECT_LT(offset, 0) << "partition " << partition << " was committed before the kill";
  }

  env["FTE_COMMIT_INTERVAL_MS"] = "100";
  ChildProcess second(FTE_DEDUP_CONSUMER_PATH, {topic.name(), group, db.url(), dlq.name()}, env,
                      (log_dir / (group + ".second.log")).string());
  ASSERT_TRUE(eventually([&] { return count("test_attempts") == 2 * kRecords; }, 90s))
      << "attempts: " << count("test_attempts") << "\n"
      << second.log_tail();
  const auto ends = end_offsets(stack, topic.name(), 3);
  auto all_committed = [&] {
    const auto committed = committed_offsets(stack, group, topic.name(), 3);
    for (const auto& [partition, end] : ends) {
      if (end > 0 && committed.at(partition) != end) return false;
    }
    return true;
  };
  ASSERT_TRUE(eventually(all_committed, 30s)) << second.log_tail();
  EXPECT_EQ(second.terminate(30s), 0) << "SIGTERM must drain and exit 0\n" << second.log_tail();

  EXPECT_EQ(count("test_effects"), kRecords) << "every record applied exactly once";
  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(DISTINCT event_id) FROM test_effects")[0].as<long>(), kRecords);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM processed_messages")[0].as<long>(), kRecords);
}

} // namespace
} // namespace fte::testing
