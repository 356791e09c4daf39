#include "fte/testing/stack.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

#include <algorithm>
#include <array>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/common/config.hpp"
#include "fte/common/ids.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/pg/migrator.hpp"
#include "fte/schema/migrations.hpp"

namespace fte::testing {

using namespace std::chrono_literals;

StackAddresses StackAddresses::from_env() {
  const auto env = Environment::from_process();
  return {env.get_or("FTE_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
          env.get_or("FTE_DATABASE_URL", "postgresql://fte@127.0.0.1:15432/fte")};
}

std::string unique_name(const std::string& prefix) { return prefix + "." + random_uuid().substr(0, 8); }

Logger test_logger(const std::string& name) {
  const auto level = Environment::from_process().get_or("FTE_TEST_LOG_LEVEL", "warn");
  return Logger::to_stderr(name, Logger::parse_level(level));
}

namespace {

kafka::ClientSettings settings(const StackAddresses& stack, const std::string& client) {
  kafka::ClientSettings s;
  s.bootstrap = stack.kafka_bootstrap;
  s.client_id = client;
  return s;
}

kafka::KafkaHandle make_consumer(const StackAddresses& stack, const std::string& group) {
  auto conf =
      kafka::make_conf(settings(stack, "fte-test-reader"),
                       {{"enable.auto.commit", "false"}, {"enable.partition.eof", "false"}}, {{"group.id", group}});
  std::array<char, 512> error{};
  kafka::KafkaHandle handle(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  if (!handle) throw std::runtime_error(std::string("test consumer: ") + error.data());
  (void)conf.release();
  return handle;
}

} // namespace

void require_kafka(const StackAddresses& stack, std::chrono::milliseconds timeout) {
  try {
    kafka::TopicAdmin admin(settings(stack, "fte-test-probe"), test_logger("probe"), timeout);
    (void)admin.describe({});
  } catch (const std::exception& e) {
    FAIL() << "Kafka at " << stack.kafka_bootstrap << " is not answering (" << e.what()
           << "); start the stack with deploy/local/fte-local up";
  }
}

ScratchTopic::ScratchTopic(const StackAddresses& stack, const std::string& prefix, int partitions)
    : stack_(stack), name_(unique_name("test." + prefix)) {
  kafka::TopicAdmin admin(settings(stack, "fte-test-admin"), test_logger("admin"), 15s);
  kafka::TopicSpec spec;
  spec.name = name_;
  spec.partitions = partitions;
  const auto outcomes = admin.ensure({spec});
  if (outcomes.size() != 1 || outcomes[0].state != kafka::TopicOutcome::State::created) {
    throw std::runtime_error("could not create scratch topic " + name_ + ": " +
                             (outcomes.empty() ? "no outcome" : outcomes[0].detail));
  }
  // Metadata propagates asynchronously even on one broker.
  eventually([&] { return admin.describe({name_})[0].partitions == partitions; }, 10s);
}

ScratchTopic::~ScratchTopic() {
  try {
    kafka::TopicAdmin admin(settings(stack_, "fte-test-admin"), test_logger("admin"), 5s);
    admin.remove({name_});
  } catch (...) {
    // A test that killed the broker cannot clean up; the topic name is unique anyway.
  }
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

std::vector<kafka::ConsumedRecord>
read_topic(const StackAddresses& stack, const std::string& topic,
           const std::function<bool(const std::vector<kafka::ConsumedRecord>&)>& predicate,
           std::chrono::milliseconds timeout) {
  auto consumer = make_consumer(stack, unique_name("fte-test-reader"));
  kafka::TopicAdmin admin(settings(stack, "fte-test-admin"), test_logger("admin"), timeout);
  const auto description = admin.describe({topic})[0];
  if (!description.exists) throw std::runtime_error("read_topic: no topic " + topic);
  kafka::PartitionListHandle assignment(rd_kafka_topic_partition_list_new(description.partitions));
  for (int p = 0; p < description.partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer.get(), assignment.get());
  std::vector<kafka::ConsumedRecord> records;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate(records) && std::chrono::steady_clock::now() < deadline) {
    kafka::MessageHandle msg(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!msg || msg->err) continue;
    records.push_back(kafka::copy_record(msg.get()));
  }
  rd_kafka_consumer_close(consumer.get());
  return records;
}

std::vector<kafka::ConsumedRecord> read_whole_topic(const StackAddresses& stack, const std::string& topic,
                                                    std::chrono::milliseconds timeout) {
  kafka::TopicAdmin admin(settings(stack, "fte-test-admin"), test_logger("admin"), timeout);
  const auto description = admin.describe({topic})[0];
  if (!description.exists) throw std::runtime_error("read_whole_topic: no topic " + topic);
  const auto ends = end_offsets(stack, topic, description.partitions);
  std::map<int, std::int64_t> next; // per partition: the next offset still to read
  std::size_t expected = 0;
  for (const auto& [p, end] : ends) {
    next[p] = 0;
    expected += static_cast<std::size_t>(end);
  }
  auto records = read_topic(
      stack, topic,
      [&](const std::vector<kafka::ConsumedRecord>& rs) {
        for (auto i = rs.size() - std::min(rs.size(), std::size_t{1}); i < rs.size(); ++i)
          next[rs[i].partition] = std::max(next[rs[i].partition], rs[i].offset + 1);
        return std::all_of(ends.begin(), ends.end(), [&](const auto& e) { return next[e.first] >= e.second; });
      },
      timeout);
  for (const auto& [p, end] : ends) {
    if (next[p] < end) {
      throw std::runtime_error("read_whole_topic: " + topic + " partition " + std::to_string(p) + " read to " +
                               std::to_string(next[p]) + " of " + std::to_string(end) + " within " +
                               std::to_string(timeout.count()) + " ms (" + std::to_string(expected) + " expected)");
    }
  }
  return records;
}

bool wait_caught_up(const StackAddresses& stack, const std::string& group, const std::string& topic,
                    std::chrono::milliseconds timeout, int partitions) {
  return eventually(
      [&] {
        const auto ends = end_offsets(stack, topic, partitions);
        const auto committed = committed_offsets(stack, group, topic, partitions);
        for (const auto& [p, end] : ends) {
          if (end == 0) continue;
          const auto it = committed.find(p);
          if (it == committed.end() || it->second < end) return false;
        }
        return true;
      },
      timeout);
}

std::map<int, std::int64_t> committed_offsets(const StackAddresses& stack, const std::string& group,
                                              const std::string& topic, int partitions) {
  auto consumer = make_consumer(stack, group);
  kafka::PartitionListHandle list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  const auto err = rd_kafka_committed(consumer.get(), list.get(), 10'000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("committed offsets of ") + group + ": " + rd_kafka_err2str(err));
  }
  std::map<int, std::int64_t> result;
  for (int i = 0; i < list->cnt; ++i)
    result[list->elems[i].partition] = list->elems[i].offset;
  return result;
}

std::map<int, std::int64_t> end_offsets(const StackAddresses& stack, const std::string& topic, int partitions) {
  auto consumer = make_consumer(stack, unique_name("fte-test-watermarks"));
  std::map<int, std::int64_t> result;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    const auto err = rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), p, &low, &high, 10'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("watermarks of " + topic + ": " + rd_kafka_err2str(err));
    }
    result[p] = high;
  }
  return result;
}

std::unique_ptr<kafka::Producer> test_producer(const StackAddresses& stack) {
  kafka::ProducerOptions options;
  options.client = settings(stack, "fte-test-producer");
  options.delivery_timeout = 10s;
  return std::make_unique<kafka::Producer>(options, test_logger("producer"));
}

namespace {

std::string with_database(const std::string& url, const std::string& database) {
  // postgresql://user@host:port/db[?params] -> replace db
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const auto query = url.find('?', slash == std::string::npos ? 0 : slash);
  const std::string base = slash == std::string::npos ? url : url.substr(0, slash);
  const std::string params = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + database + params;
}

} // namespace

ScratchDatabase::ScratchDatabase(const StackAddresses& stack, bool migrate)
    : stack_(stack), name_("fte_test_" + random_uuid().substr(0, 8)), url_(with_database(stack.database_url, name_)) {
  {
    pqxx::connection admin(stack.database_url);
    pqxx::nontransaction tx(admin);
    tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  }
  if (migrate) {
    pqxx::connection connection(url_);
    pg::Migrator(schema::migrations(), test_logger("migrate")).run(connection);
  }
}

ScratchDatabase::~ScratchDatabase() {
  try {
    pqxx::connection admin(stack_.database_url);
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (...) {
    // Best effort: a test that stopped PostgreSQL cannot clean up.
  }
}

} // namespace fte::testing
