// The consumer runner against the real broker and database.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "fte/pg/dedup.hpp"
#include "fte/pg/pool.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

// Runs a ConsumerRunner on its own thread for the scope of a test.
class RunningConsumer {
public:
  RunningConsumer(kafka::ConsumerOptions options, kafka::RecordHandler handler, kafka::Producer& dlq)
      : runner_(std::move(options), std::move(handler), dlq, test_logger("consumer")) {}
  ~RunningConsumer() { stop(); }
  void start() {
    thread_ = std::thread([this] { runner_.run(); });
  }
  void stop() {
    runner_.stop();
    if (thread_.joinable()) thread_.join();
  }
  kafka::ConsumerRunner& runner() { return runner_; }

private:
  kafka::ConsumerRunner runner_;
  std::thread thread_;
};

class ConsumerRunnerTest : public ::testing::Test {
protected:
  void SetUp() override {
    require_kafka(stack);
    producer = test_producer(stack);
  }

  kafka::ConsumerOptions options(const std::string& topic, const std::string& dlq_topic) const {
    kafka::ConsumerOptions o;
    o.client.bootstrap = stack.kafka_bootstrap;
    o.client.client_id = "consumer-runner-test";
    o.group_id = unique_name("test-group");
    o.topics = {topic};
    o.service_name = "test-service";
    o.lanes = 4;
    o.commit_interval = 200ms;
    o.shutdown_timeout = 10s;
    o.retry.initial_backoff = 20ms;
    o.retry.max_backoff = 200ms;
    o.dlq_topic = dlq_topic;
    return o;
  }

  events::CloudEvent sequence_event(const std::string& topic, const std::string& key, int seq) const {
    return events::make_origin_event(event_id_from_provider("test", topic + "/" + key + "/" + std::to_string(seq)),
                                     "/fte/test", "fte.test.sequence.v1", {{"key", key}, {"seq", seq}});
  }

  void produce(const std::string& topic, const std::string& key, const events::CloudEvent& event) {
    const auto report = producer->send(kafka::ProducerRecord::from_event(topic, key, event));
    ASSERT_TRUE(report.ok()) << "produce to " << topic << " failed: " << report.error.message() << " " << report.detail;
  }

  void expect_all_committed(const std::string& group, const std::string& topic, int partitions) {
    const auto ends = end_offsets(stack, topic, partitions);
    const bool done = eventually(
        [&] {
          const auto committed = committed_offsets(stack, group, topic, partitions);
          for (const auto& [p, end] : ends) {
            if (end > 0 && committed.at(p) != end) return false;
          }
          return true;
        },
        15s);
    EXPECT_TRUE(done) << "offsets of " << group << " never reached the end of " << topic;
  }

  StackAddresses stack = StackAddresses::from_env();
  std::unique_ptr<kafka::Producer> producer;
};

TEST_F(ConsumerRunnerTest, KeepsPerKeyOrderWhileKeysRunInParallel) {
  ScratchTopic topic(stack, "order", 12);
  ScratchTopic dlq(stack, "order-dlq", 1);
  constexpr int kKeys = 10, kPerKey = 30;
  for (int seq = 0; seq < kPerKey; ++seq) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = "customer-" + std::to_string(k);
      producer->send_async(kafka::ProducerRecord::from_event(topic.name(), key, sequence_event(topic.name(), key, seq)),
                           [](const kafka::DeliveryReport& r) { ASSERT_TRUE(r.ok()) << r.detail; });
    }
  }
  ASSERT_TRUE(producer->flush(20s));

  std::mutex mutex;
  std::map<std::string, std::vector<int>> seen;
  std::atomic<int> running{0}, max_running{0}, total{0};
  auto opts = options(topic.name(), dlq.name());
  RunningConsumer consumer(
      opts,
      [&](const kafka::Delivery& d) {
        const int now = ++running;
        int previous = max_running.load();
        while (now > previous && !max_running.compare_exchange_weak(previous, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + d.record.offset % 3));
        {
          std::lock_guard lock(mutex);
          seen[*d.record.key].push_back(d.event.data["seq"].get<int>());
        }
        --running;
        ++total;
        return kafka::HandleResult::done();
      },
      *producer);
  consumer.start();

  ASSERT_TRUE(eventually([&] { return total.load() >= kKeys * kPerKey; }, 60s))
      << "handled " << total.load() << " of " << kKeys * kPerKey << " records";
  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [key, seqs] : seen) {
    std::vector<int> expected(kPerKey);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(seqs, expected) << "records of " << key << " out of order or repeated";
  }
  EXPECT_GE(max_running.load(), 2) << "different keys should be handled concurrently";
  expect_all_committed(opts.group_id, topic.name(), 12);
}

class ConsumerRunnerWithDatabase : public ConsumerRunnerTest {
protected:
  void SetUp() override {
    ConsumerRunnerTest::SetUp();
    database = std::make_unique<ScratchDatabase>(stack);
    pqxx::connection c(database->url());
    pqxx::work tx(c);
    // Deliberately no unique constraint: only run_once keeps effects single.
    tx.exec("CREATE TABLE test_effects (id bigserial PRIMARY KEY, event_id text NOT NULL)");
    tx.commit();
    pool = std::make_unique<pg::ConnectionPool>(database->url(), 4);
  }

  long count_effects(const std::string& event_id = "") {
    pqxx::connection c(database->url());
    pqxx::read_transaction tx(c);
    if (event_id.empty()) return tx.exec1("SELECT count(*) FROM test_effects")[0].as<long>();
    return tx.exec_params1("SELECT count(*) FROM test_effects WHERE event_id = $1", event_id)[0].as<long>();
  }

  pg::DedupOutcome apply(const std::string& group, const std::string& event_id) {
    auto connection = pool->acquire();
    return pg::run_once(*connection, GroupId(group), EventId(event_id), [&](pqxx::work& tx) {
      tx.exec_params("INSERT INTO test_effects (event_id) VALUES ($1)", event_id);
    });
  }

  std::unique_ptr<ScratchDatabase> database;
  std::unique_ptr<pg::ConnectionPool> pool;
};

TEST_F(ConsumerRunnerWithDatabase, TransientFailuresRetryInPlaceThenApplyOnce) {
  ScratchTopic topic(stack, "transient", 3);
  ScratchTopic dlq(stack, "transient-dlq", 1);
  const auto event = sequence_event(topic.name(), "customer-1", 0);
  produce(topic.name(), "customer-1", event);

  std::atomic<int> attempts{0};
  auto opts = options(topic.name(), dlq.name());
  RunningConsumer consumer(
      opts,
      [&](const kafka::Delivery& d) {
        if (++attempts <= 3) return kafka::HandleResult::retry("database hiccup");
        apply(opts.group_id, d.event.id);
        return kafka::HandleResult::done();
      },
      *producer);
  consumer.start();

  ASSERT_TRUE(eventually([&] { return consumer.runner().counters().handled == 1; }, 20s));
  EXPECT_EQ(attempts.load(), 4);
  EXPECT_EQ(count_effects(event.id), 1);
  EXPECT_EQ(consumer.runner().counters().dead_lettered, 0U);
  expect_all_committed(opts.group_id, topic.name(), 3);
}

TEST_F(ConsumerRunnerWithDatabase, DuplicateEventIdHasOneEffect) {
  ScratchTopic topic(stack, "dup", 3);
  ScratchTopic dlq(stack, "dup-dlq", 1);
  const auto event = sequence_event(topic.name(), "customer-1", 0);
  const auto other = sequence_event(topic.name(), "customer-1", 1);
  produce(topic.name(), "customer-1", event);
  produce(topic.name(), "customer-1", event); // a provider retry: same id
  produce(topic.name(), "customer-1", other);

  std::atomic<int> applied{0}, duplicates{0};
  auto opts = options(topic.name(), dlq.name());
  RunningConsumer consumer(
      opts,
      [&](const kafka::Delivery& d) {
        (apply(opts.group_id, d.event.id) == pg::DedupOutcome::applied ? applied : duplicates)++;
        return kafka::HandleResult::done();
      },
      *producer);
  consumer.start();

  ASSERT_TRUE(eventually([&] { return consumer.runner().counters().handled == 3; }, 20s));
  EXPECT_EQ(applied.load(), 2);
  EXPECT_EQ(duplicates.load(), 1);
  EXPECT_EQ(count_effects(event.id), 1);
  EXPECT_EQ(count_effects(other.id), 1);
}

TEST_F(ConsumerRunnerTest, AlwaysFailingRecordGoesToTheDlqAfterFiveAttempts) {
  ScratchTopic topic(stack, "failing", 3);
  ScratchTopic dlq(stack, "failing-dlq", 3);
  const auto event = sequence_event(topic.name(), "customer-9", 0);
  const auto sent = producer->send(kafka::ProducerRecord::from_event(topic.name(), "customer-9", event));
  ASSERT_TRUE(sent.ok());
  const auto after = sequence_event(topic.name(), "customer-9", 1);
  produce(topic.name(), "customer-9", after);

  std::atomic<int> attempts{0};
  std::atomic<int> after_handled{0};
  auto opts = options(topic.name(), dlq.name());
  RunningConsumer consumer(
      opts,
      [&](const kafka::Delivery& d) {
        if (d.event.id == after.id) {
          ++after_handled;
          return kafka::HandleResult::done();
        }
        ++attempts;
        return kafka::HandleResult::retry("downstream unavailable");
      },
      *producer);
  consumer.start();

  const auto records = read_topic(
      stack, dlq.name(), [](const auto& r) { return !r.empty(); }, 30s);
  ASSERT_EQ(records.size(), 1U) << "no DLQ record within 30 s";
  const auto& dead = records[0];
  EXPECT_EQ(attempts.load(), 5);
  EXPECT_EQ(dead.key, "customer-9");
  EXPECT_EQ(dead.value, events::serialize(event));
  EXPECT_EQ(events::find_header(dead.headers, "dlq.original.topic"), topic.name());
  EXPECT_EQ(events::find_header(dead.headers, "dlq.original.partition"), std::to_string(sent.partition));
  EXPECT_EQ(events::find_header(dead.headers, "dlq.original.offset"), std::to_string(sent.offset));
  EXPECT_EQ(events::find_header(dead.headers, "dlq.attempts"), "5");
  EXPECT_EQ(events::find_header(dead.headers, "dlq.service"), "test-service");
  EXPECT_EQ(events::find_header(dead.headers, "dlq.group"), opts.group_id);
  EXPECT_EQ(events::find_header(dead.headers, "dlq.reason"), "retries_exhausted");
  EXPECT_NE(events::find_header(dead.headers, "dlq.error").value_or("").find("downstream unavailable"),
            std::string::npos);
  // The original headers travel with it.
  EXPECT_EQ(events::find_header(dead.headers, "correlation_id"), event.correlationid);
  EXPECT_EQ(events::find_header(dead.headers, "ce_type"), event.type);
  EXPECT_EQ(events::find_header(dead.headers, "traceparent"), event.trace.to_header());
  EXPECT_TRUE(events::find_header(dead.headers, "content-type").has_value());
  // The same customer's next record waited for the DLQ write, then ran.
  ASSERT_TRUE(eventually([&] { return after_handled.load() == 1; }, 10s));
  expect_all_committed(opts.group_id, topic.name(), 3);
  EXPECT_EQ(read_whole_topic(stack, dlq.name()).size(), 1U) << "exactly one DLQ record, nothing more";
}

TEST_F(ConsumerRunnerTest, PoisonAndSchemaViolationsGoToTheDlqAtOnce) {
  ScratchTopic topic(stack, "poison", 3);
  ScratchTopic dlq(stack, "poison-dlq", 1);
  {
    const auto report = producer->send({topic.name(), std::string("customer-2"), "this is {not json", {}});
    ASSERT_TRUE(report.ok());
  }
  auto invalid = events::make_origin_event(event_id_from_provider("test", topic.name() + "/invalid"), "/fte/test",
                                           "fte.ticket.message.received.v1", {{"body", 42}});
  produce(topic.name(), "customer-3", invalid);

  std::atomic<int> calls{0};
  auto opts = options(topic.name(), dlq.name());
  contracts::Validator validator;
  RunningConsumer consumer(
      opts,
      [&](const kafka::Delivery&) {
        ++calls;
        return kafka::HandleResult::done();
      },
      *producer);
  consumer.runner().set_validator([&](const nlohmann::json& e) { return validator.validate_received(e); });
  consumer.start();

  const auto records = read_topic(
      stack, dlq.name(), [](const auto& r) { return r.size() >= 2; }, 30s);
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(calls.load(), 0) << "the handler must never see poison";
  std::set<std::string> errors;
  for (const auto& r : records) {
    EXPECT_EQ(events::find_header(r.headers, "dlq.attempts"), "1");
    EXPECT_EQ(events::find_header(r.headers, "dlq.reason"), "invalid_event");
    EXPECT_EQ(events::find_header(r.headers, "dlq.group"), opts.group_id);
    errors.insert(events::find_header(r.headers, "dlq.error").value_or(""));
  }
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                          [](const auto& e) { return e.starts_with("poison: invalid envelope"); }));
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                          [](const auto& e) { return e.starts_with("poison: schema violation"); }));
  expect_all_committed(opts.group_id, topic.name(), 3);
  EXPECT_EQ(read_whole_topic(stack, dlq.name()).size(), 2U) << "exactly the two bad records, nothing more";
}

TEST_F(ConsumerRunnerTest, AHandlersPoisonVerdictIsDeadLetteredAsPoison) {
  ScratchTopic topic(stack, "handler-poison", 3);
  ScratchTopic dlq(stack, "handler-poison-dlq", 1);
  const auto event = sequence_event(topic.name(), "customer-4", 0);
  produce(topic.name(), "customer-4", event);

  std::atomic<int> calls{0};
  auto opts = options(topic.name(), dlq.name());
  RunningConsumer consumer(
      opts,
      [&](const kafka::Delivery&) {
        ++calls;
        return kafka::HandleResult::poison("refers to a ticket that cannot exist");
      },
      *producer);
  consumer.start();

  const auto records = read_topic(
      stack, dlq.name(), [](const auto& r) { return !r.empty(); }, 30s);
  ASSERT_EQ(records.size(), 1U) << "no DLQ record within 30 s";
  EXPECT_EQ(calls.load(), 1) << "a poison verdict is not retried";
  EXPECT_EQ(events::find_header(records[0].headers, "dlq.reason"), "poison");
  EXPECT_EQ(events::find_header(records[0].headers, "dlq.attempts"), "1");
  EXPECT_EQ(events::find_header(records[0].headers, "dlq.group"), opts.group_id);
  EXPECT_EQ(events::find_header(records[0].headers, "dlq.error"), "poison: refers to a ticket that cannot exist");
  expect_all_committed(opts.group_id, topic.name(), 3);
}

} // namespace
} // namespace fte::testing
