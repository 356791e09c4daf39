// runtime::ExactlyOnceHandler against the real broker and database: the
// outbox path a crash between COMMIT and the acknowledgement takes, error
// classification, and pruning of the dedup state.
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/pg/pool.hpp"
#include "fte/pg/retention.hpp"
#include "fte/runtime/exactly_once.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

// Writes one row per event and one output per event to `topic`.
class RecordingDomain final : public runtime::DomainHandler {
public:
  explicit RecordingDomain(std::string topic) : topic_(std::move(topic)) {}
  void prepare(pqxx::connection& c) const override {
    c.prepare("test_effect", "INSERT INTO test_effects (event_id, value) VALUES ($1, $2)");
  }
  void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, runtime::Outputs& out) const override {
    for (const auto* d : fresh) {
      tx.exec_prepared("test_effect", d->event.id, d->event.data.value("value", 0));
      auto output =
          events::derive_event(d->event, "test", "out", "/fte/test", "fte.test.output.v1", {{"from", d->event.id}});
      out.add_event(d->event.id, topic_, d->record.key.value_or(""), output);
    }
  }

private:
  std::string topic_;
};

class ExactlyOnceTest : public ::testing::Test {
protected:
  void SetUp() override {
    require_kafka(stack);
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec("CREATE TABLE test_effects (event_id text PRIMARY KEY, value integer NOT NULL CHECK (value >= 0))");
    tx.commit();
  }

  struct Input {
    kafka::ConsumedRecord record;
    events::CloudEvent event;
  };
  static Input input(const std::string& name, int value) {
    Input in;
    in.event = events::make_origin_event(event_id_from_provider("test", name), "/fte/test", "fte.test.input.v1",
                                         {{"value", value}});
    in.record.topic = "in";
    in.record.partition = 0;
    in.record.key = "customer-" + name;
    return in;
  }
  void handle(const std::vector<const Input*>& inputs) {
    std::vector<kafka::Delivery> batch;
    for (const auto* in : inputs)
      batch.push_back(kafka::Delivery{in->record, in->event, 1, logger});
    handler(std::span<const kafka::Delivery>(batch));
  }
  long count(const std::string& sql) {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<long>();
  }

  StackAddresses stack = StackAddresses::from_env();
  ScratchDatabase db{stack};
  ScratchTopic out{stack, "eo-out", 3};
  Logger logger = test_logger("exactly-once");
  std::unique_ptr<kafka::Producer> producer = test_producer(stack);
  RecordingDomain domain{out.name()};
  pg::ConnectionPool pool{db.url(), 2, [this](pqxx::connection& c) {
                            runtime::ExactlyOnceHandler::prepare(c);
                            domain.prepare(c);
                          }};
  runtime::ExactlyOnceHandler handler{"test-group", pool, *producer, domain, logger};
};

TEST_F(ExactlyOnceTest, ABatchAppliesEachEventOncePublishesAfterCommitAndClearsTheOutbox) {
  const auto a = input("a", 1), b = input("b", 2);
  handle({&a, &b, &a}); // a second copy of `a` in the same batch is a duplicate
  handle({&b});         // a redelivery changes nothing and publishes nothing
  EXPECT_EQ(count("SELECT count(*) FROM test_effects"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM processed_messages WHERE consumer_group = 'test-group'"), 2);
  EXPECT_TRUE(eventually([&] { return count("SELECT count(*) FROM outbox") == 0; }, 5s)) << "cleared after publishing";
  EXPECT_EQ(read_whole_topic(stack, out.name()).size(), 2U);
}

TEST_F(ExactlyOnceTest, AnEventCommittedButNotAcknowledgedIsPublishedFromTheOutboxOnRedelivery) {
  // The state a consumer leaves when it dies between COMMIT and the broker's
  // acknowledgement: claimed, applied, its output only in the outbox.
  const auto a = input("crashed", 3);
  const auto output = events::derive_event(a.event, "test", "out", "/fte/test", "fte.test.output.v1", {{"x", 1}});
  const auto record = kafka::ProducerRecord::from_event(out.name(), "customer-crashed", output);
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO processed_messages (consumer_group, message_id) VALUES ('test-group', $1)", a.event.id);
    tx.exec_params("INSERT INTO test_effects (event_id, value) VALUES ($1, 3)", a.event.id);
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& h : record.headers)
      headers.push_back({h.name, h.value});
    tx.exec_params("INSERT INTO outbox (consumer_group, source_event_id, seq, topic, record_key, record_value, "
                   "headers) VALUES ('test-group', $1, 0, $2, $3, $4, $5)",
                   a.event.id, record.topic, *record.key, record.value, headers.dump());
    tx.commit();
  }
  handle({&a});
  EXPECT_EQ(count("SELECT count(*) FROM test_effects"), 1) << "applied once, not again";
  EXPECT_TRUE(eventually([&] { return count("SELECT count(*) FROM outbox") == 0; }, 5s));
  const auto records = read_whole_topic(stack, out.name());
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].value, record.value);
  EXPECT_EQ(records[0].key, record.key);
  EXPECT_EQ(events::find_header(records[0].headers, "correlation_id"), a.event.correlationid);
}

TEST_F(ExactlyOnceTest, APermanentSqlErrorIsPoisonAndLeavesNothingBehind) {
  const auto good = input("good", 1), bad = input("bad", -1); // violates the CHECK constraint
  EXPECT_THROW(handle({&good, &bad}), kafka::PoisonError);
  EXPECT_EQ(count("SELECT count(*) FROM test_effects"), 0) << "a batch is all or nothing";
  EXPECT_EQ(count("SELECT count(*) FROM processed_messages"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);
  handle({&good}); // as the runner does after a failed batch: one record at a time
  EXPECT_THROW(handle({&bad}), kafka::PoisonError);
  EXPECT_EQ(count("SELECT count(*) FROM test_effects"), 1);
}

TEST_F(ExactlyOnceTest, AnUnreachableDatabaseIsUnavailableNotTheRecordsFault) {
  pg::ConnectionPool nowhere("postgresql://fte@127.0.0.1:1/none?connect_timeout=2", 1);
  runtime::ExactlyOnceHandler lost("test-group", nowhere, *producer, domain, logger);
  const auto a = input("a", 1);
  const kafka::Delivery d{a.record, a.event, 1, logger};
  EXPECT_THROW(lost(std::span<const kafka::Delivery>(&d, 1)), kafka::UnavailableError);
}

TEST_F(ExactlyOnceTest, PruningDeletesOnlyIdsOlderThanTheWindowInSmallBatches) {
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec("INSERT INTO processed_messages (consumer_group, message_id, processed_at) "
            "SELECT 'g', 'old-' || i, now() - interval '9 days' FROM generate_series(1, 2500) i");
    tx.exec("INSERT INTO processed_messages (consumer_group, message_id, processed_at) "
            "SELECT 'g', 'new-' || i, now() - interval '1 day' FROM generate_series(1, 100) i");
    tx.exec("INSERT INTO processed_messages (consumer_group, message_id, processed_at) "
            "SELECT 'other', 'old-' || i, now() - interval '9 days' FROM generate_series(1, 10) i");
    tx.exec("INSERT INTO outbox (consumer_group, source_event_id, seq, topic, record_value, headers, created_at) "
            "VALUES ('g', 'old-1', 0, 't', 'v', '[]', now() - interval '9 days'), "
            "('g', 'new-1', 0, 't', 'v', '[]', now())");
    tx.commit();
  }
  pqxx::connection c(db.url());
  const auto report = pg::prune_dedup_state(c, "g", std::chrono::hours(24 * 8), /*batch_rows=*/1000);
  EXPECT_EQ(report.processed_messages, 2500);
  EXPECT_EQ(report.outbox, 1);
  EXPECT_EQ(count("SELECT count(*) FROM processed_messages WHERE consumer_group = 'g'"), 100);
  EXPECT_EQ(count("SELECT count(*) FROM processed_messages WHERE consumer_group = 'other'"), 10)
      << "another group's ids are its own business";
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 1);
}

} // namespace
} // namespace fte::testing
