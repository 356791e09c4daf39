// `fte lag` against the real broker, under load: records keep arriving and a
// consumer group keeps consuming and committing, slower than they arrive.
// What fte reports is compared with what the broker says when asked directly
// (OffsetFetch through rd_kafka_committed, ListOffsets through
// rd_kafka_query_watermark_offsets: tests/support, none of fte lag's code),
// read just before and just after fte lag runs, since offsets move between.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fte/common/time.hpp"
#include "fte/kafka/rdkafka_interop.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/testing/child_process.hpp"
#include "fte/testing/command.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;
using Offsets = std::map<int, std::int64_t>;

constexpr int kPartitions = 4;
constexpr std::int64_t kNone = -1001; // rd_kafka_committed: no committed offset

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

kafka::ClientSettings client(const StackAddresses& stack, const std::string& id) {
  kafka::ClientSettings settings;
  settings.bootstrap = stack.kafka_bootstrap;
  settings.client_id = id;
  return settings;
}

/// Produces to every partition in turn until destroyed, each record's value
/// the time it was sent (ms since the epoch), which is also its timestamp.
class SteadyProducer {
public:
  SteadyProducer(const StackAddresses& stack, std::string topic)
      : producer_(test_producer(stack)), topic_(std::move(topic)), thread_([this] { run(); }) {}
  ~SteadyProducer() { stop(); }
  SteadyProducer(const SteadyProducer&) = delete;
  SteadyProducer& operator=(const SteadyProducer&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    producer_->flush(10s);
  }
  [[nodiscard]] int failures() const { return failures_; }

private:
  void run() {
    for (int n = 0; !stop_; ++n) {
      kafka::ProducerRecord record{topic_, "key-" + std::to_string(n), std::to_string(now_ms()), {}, n % kPartitions};
      producer_->send_async(std::move(record), [this](const kafka::DeliveryReport& report) {
        if (!report.ok()) ++failures_;
      });
      std::this_thread::sleep_for(4ms); // about 250 records a second
    }
  }

  std::unique_ptr<kafka::Producer> producer_;
  std::string topic_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::thread thread_;
};

/// A group member that subscribes, handles about 100 records a second
/// (slower than they arrive) and commits what it handled every 250 ms.
class SlowConsumer {
public:
  SlowConsumer(const StackAddresses& stack, std::string group, std::string topic, std::string client_id)
      : stack_(stack), group_(std::move(group)), topic_(std::move(topic)), client_id_(std::move(client_id)),
        thread_([this] { run(); }) {}
  ~SlowConsumer() {
    stop_ = true;
    thread_.join();
  }
  SlowConsumer(const SlowConsumer&) = delete;
  SlowConsumer& operator=(const SlowConsumer&) = delete;

  [[nodiscard]] int assigned() const { return assigned_; }

private:
  void run() {
    auto conf =
        kafka::make_conf(client(stack_, client_id_),
                         {{"enable.auto.commit", "false"}, {"auto.offset.reset", "earliest"}}, {{"group.id", group_}});
    std::array<char, 512> error{};
    kafka::KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
    if (!consumer) return;
    (void)conf.release();
    rd_kafka_poll_set_consumer(consumer.get());
    kafka::PartitionListHandle subscription(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(subscription.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer.get(), subscription.get());
    Offsets next;
    auto last_commit = std::chrono::steady_clock::now();
    while (!stop_) {
      kafka::MessageHandle msg(rd_kafka_consumer_poll(consumer.get(), 50));
      if (msg && msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        next[msg->partition] = msg->offset + 1;
        std::this_thread::sleep_for(10ms);
      }
      if (std::chrono::steady_clock::now() - last_commit > 250ms && !next.empty()) {
        kafka::PartitionListHandle offsets(rd_kafka_topic_partition_list_new(kPartitions));
        for (const auto& [p, offset] : next)
          rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), p)->offset = offset;
        rd_kafka_commit(consumer.get(), offsets.get(), /*async=*/0);
        last_commit = std::chrono::steady_clock::now();
      }
      rd_kafka_topic_partition_list_t* assignment = nullptr;
      if (rd_kafka_assignment(consumer.get(), &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        assigned_ = assignment->cnt;
        rd_kafka_topic_partition_list_destroy(assignment);
      }
    }
    rd_kafka_consumer_close(consumer.get());
  }

  StackAddresses stack_;
  std::string group_;
  std::string topic_;
  std::string client_id_;
  std::atomic<bool> stop_{false};
  std::atomic<int> assigned_{0};
  std::thread thread_;
};

/// Commits `offsets` for `group` without joining it (a simple group): the
/// partitions left out never get a committed offset.
void commit_without_joining(const StackAddresses& stack, const std::string& group, const std::string& topic,
                            const Offsets& offsets) {
  auto conf = kafka::make_conf(client(stack, "fte-lag-test-committer"), {{"enable.auto.commit", "false"}},
                               {{"group.id", group}});
  std::array<char, 512> error{};
  kafka::KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  ASSERT_TRUE(consumer) << error.data();
  (void)conf.release();
  kafka::PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [p, offset] : offsets)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = offset;
  ASSERT_EQ(rd_kafka_commit(consumer.get(), list.get(), /*async=*/0), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/// The broker's own answer for one group on one topic, read directly.
struct BrokerView {
  Offsets committed;
  Offsets end;
};

BrokerView read_broker(const StackAddresses& stack, const std::string& group, const std::string& topic) {
  BrokerView view;
  view.committed = committed_offsets(stack, group, topic, kPartitions);
  view.end = end_offsets(stack, topic, kPartitions);
  return view;
}

const nlohmann::json* find_group(const nlohmann::json& report, const std::string& group) {
  for (const auto& g : report.at("groups")) {
    if (g.at("group") == group) return &g;
  }
  return nullptr;
}

const nlohmann::json* find_topic(const nlohmann::json& group, const std::string& topic) {
  for (const auto& t : group.at("topics")) {
    if (t.at("topic") == topic) return &t;
  }
  return nullptr;
}

class LagTest : public ::testing::Test {
protected:
  void SetUp() override {
    require_kafka(stack);
    if (HasFatalFailure()) return;
    const auto created = run_fte("topics create --partitions " + std::to_string(kPartitions));
    ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
    // Leaders are elected asynchronously even on one broker.
    ASSERT_TRUE(eventually(
        [&] {
          try {
            return end_offsets(stack, topic, kPartitions).size() == kPartitions;
          } catch (const std::exception&) {
            return false;
          }
        },
        15s));
  }

  void TearDown() override {
    try {
      kafka::TopicAdmin(client(stack, "fte-lag-test-admin"), test_logger("admin"), 10s)
          .remove(kafka::TopicNames::with_prefix(prefix).all());
    } catch (...) {
      // The topic names are unique to this run; a leftover harms nobody.
    }
  }

  [[nodiscard]] std::map<std::string, std::string> cli_env() const {
    return {{"FTE_KAFKA_BOOTSTRAP", stack.kafka_bootstrap}, {"FTE_TOPIC_PREFIX", prefix}};
  }

  CommandResult run_fte(const std::string& args, const std::string& bootstrap = {}) const {
    return run_command(
        FTE_CLI_PATH, args,
        {{"FTE_KAFKA_BOOTSTRAP", bootstrap.empty() ? stack.kafka_bootstrap : bootstrap}, {"FTE_TOPIC_PREFIX", prefix}});
  }

  nlohmann::json lag_json(const std::string& args) const {
    const auto result = run_fte("lag --json " + args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out);
  }

  StackAddresses stack = StackAddresses::from_env();
  std::string prefix = unique_name("lag") + ".";
  std::string topic = prefix + std::string(kafka::topics::kTicketsIncoming);
  std::string slow_group = unique_name("fte-lag-test.slow");
  std::string partial_group = unique_name("fte-lag-test.partial");
};

// One partition of fte's report against the broker's answers before and
// after: each offset within them, and the lag KEDA's way.
void expect_within(const nlohmann::json& partition, const BrokerView& before, const BrokerView& after,
                   const std::string& context) {
  const int p = partition.at("partition");
  const std::int64_t end = partition.at("end_offset");
  EXPECT_GE(end, before.end.at(p)) << context;
  EXPECT_LE(end, after.end.at(p)) << context;
  const auto& committed = partition.at("committed_offset");
  if (committed.is_null()) {
    EXPECT_EQ(after.committed.at(p), kNone) << context << ": fte saw no commit, the broker has one";
    EXPECT_EQ(partition.at("lag"), 1) << context << ": KEDA's latest policy counts a partition without a commit as 1";
    return;
  }
  EXPECT_GE(committed.get<std::int64_t>(), before.committed.at(p)) << context;
  EXPECT_LE(committed.get<std::int64_t>(), after.committed.at(p)) << context;
  EXPECT_EQ(partition.at("lag").get<std::int64_t>(), end - committed.get<std::int64_t>()) << context;
}

TEST_F(LagTest, EqualsTheBrokersCommittedAndEndOffsetsUnderLoad) {
  const auto started_ms = now_ms();
  SteadyProducer producer(stack, topic);
  ASSERT_TRUE(eventually(
      [&] {
        const auto ends = end_offsets(stack, topic, kPartitions);
        return std::all_of(ends.begin(), ends.end(), [](const auto& e) { return e.second >= 2; });
      },
      15s))
      << "the producer did not reach every partition";
  // The partial group committed partitions 0 and 1 at offset 1 and never
  // anything on 2 and 3.
  commit_without_joining(stack, partial_group, topic, {{0, 1}, {1, 1}});
  ASSERT_FALSE(HasFatalFailure());

  SlowConsumer consumer(stack, slow_group, topic, "fte-lag-test-slow");
  ASSERT_TRUE(eventually(
      [&] {
        const auto committed = committed_offsets(stack, slow_group, topic, kPartitions);
        return consumer.assigned() == kPartitions &&
               std::all_of(committed.begin(), committed.end(), [](const auto& c) { return c.second >= 0; });
      },
      30s))
      << "the slow consumer did not join and commit on every partition";

  std::vector<nlohmann::json> reports;
  bool saw_the_end_move = false;
  for (int round = 0; round < 4; ++round) {
    const auto slow_before = read_broker(stack, slow_group, topic);
    const auto partial_before = read_broker(stack, partial_group, topic);
    const auto report = lag_json(""); // every group with offsets on this run's topics
    const auto slow_after = read_broker(stack, slow_group, topic);
    const auto partial_after = read_broker(stack, partial_group, topic);
    const std::string context = "round " + std::to_string(round) + "\n" + report.dump(2);
    for (int p = 0; p < kPartitions; ++p)
      saw_the_end_move = saw_the_end_move || slow_after.end.at(p) > slow_before.end.at(p);

    ASSERT_EQ(report.at("groups").size(), 2U) << "only this test's two groups commit on its topics\n" << context;
    const auto* slow = find_group(report, slow_group);
    const auto* partial = find_group(report, partial_group);
    ASSERT_TRUE(slow && partial) << context;

    // The slow group: a member with all four partitions, offsets within the
    // broker's, lag growing because it consumes slower than records arrive.
    EXPECT_EQ(slow->at("state"), "Stable") << context;
    ASSERT_EQ(slow->at("members").size(), 1U) << context;
    const auto& member = slow->at("members")[0];
    EXPECT_EQ(member.at("client_id"), "fte-lag-test-slow") << context;
    EXPECT_FALSE(member.at("member_id").get<std::string>().empty()) << context;
    EXPECT_TRUE(member.at("group_instance_id").is_null()) << context;
    std::set<int> assigned;
    for (const auto& tp : member.at("assignment")) {
      EXPECT_EQ(tp.at("topic"), topic) << context;
      assigned.insert(tp.at("partition").get<int>());
    }
    EXPECT_EQ(assigned, (std::set<int>{0, 1, 2, 3})) << context;
    const auto* slow_topic = find_topic(*slow, topic);
    ASSERT_TRUE(slow_topic) << context;
    ASSERT_EQ(slow_topic->at("partitions").size(), static_cast<std::size_t>(kPartitions)) << context;
    std::int64_t total = 0;
    for (const auto& partition : slow_topic->at("partitions")) {
      expect_within(partition, slow_before, slow_after, "slow group, " + context);
      EXPECT_EQ(partition.at("member_id"), member.at("member_id")) << context;
      total += partition.at("lag").get<std::int64_t>();
    }
    EXPECT_EQ(slow_topic->at("total_lag"), total) << context;
    EXPECT_EQ(slow->at("total_lag"), total) << context;
    EXPECT_GT(total, 0) << "the consumer is slower than the producer\n" << context;
    // KEDA with lagThreshold 100 on 4 partitions: the metric is capped at
    // 400 once total/100 exceeds 4; the HPA asks for ceil(metric/100).
    const auto metric = total / 100 > kPartitions ? kPartitions * 100 : total;
    EXPECT_EQ(slow_topic->at("keda_metric"), metric) << context;
    EXPECT_EQ(slow_topic->at("keda_replicas"), (metric + 99) / 100) << context;

    // The partial group: no members, two partitions without a commit.
    EXPECT_EQ(partial->at("state"), "Empty") << context;
    EXPECT_TRUE(partial->at("members").empty()) << context;
    const auto* partial_topic = find_topic(*partial, topic);
    ASSERT_TRUE(partial_topic) << context;
    for (const auto& partition : partial_topic->at("partitions")) {
      expect_within(partition, partial_before, partial_after, "partial group, " + context);
      const int p = partition.at("partition");
      EXPECT_EQ(partition.at("committed_offset").is_null(), p >= 2) << context;
    }
    reports.push_back(report);
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_TRUE(saw_the_end_move) << "records kept arriving while fte lag ran";

  // KEDA's other rules for a partition without a commit, on the partial group.
  const auto before = read_broker(stack, partial_group, topic);
  const auto earliest = lag_json("--group " + partial_group + " --offset-reset-policy earliest");
  const auto after = read_broker(stack, partial_group, topic);
  for (const auto& partition : find_topic(*find_group(earliest, partial_group), topic)->at("partitions")) {
    const int p = partition.at("partition");
    if (p < 2) continue;
    EXPECT_GE(partition.at("lag"), before.end.at(p)) << "earliest: the whole end offset\n" << earliest.dump(2);
    EXPECT_LE(partition.at("lag"), after.end.at(p)) << earliest.dump(2);
    EXPECT_EQ(partition.at("lag"), partition.at("end_offset")) << earliest.dump(2);
  }
  const auto to_zero = lag_json("--group " + partial_group + " --scale-to-zero-on-invalid-offset");
  for (const auto& partition : find_topic(*find_group(to_zero, partial_group), topic)->at("partitions")) {
    if (partition.at("partition").get<int>() >= 2) {
      EXPECT_EQ(partition.at("lag"), 0) << to_zero.dump(2);
    }
  }

  // The age of the oldest unconsumed record: the timestamp fte reports is
  // that of the record at the committed offset, and the age is measured
  // from it to the report's time.
  producer.stop();
  EXPECT_EQ(producer.failures(), 0);
  std::map<std::pair<int, std::int64_t>, std::int64_t> sent_at; // (partition, offset) -> ms in the value
  std::map<std::pair<int, std::int64_t>, std::int64_t> timestamp;
  for (const auto& record : read_whole_topic(stack, topic)) {
    sent_at[{record.partition, record.offset}] = std::stoll(record.value);
    timestamp[{record.partition, record.offset}] = record.timestamp_ms;
  }
  int ages_checked = 0;
  for (const auto& report : reports) {
    const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(
                        parse_rfc3339(report.at("at").get<std::string>())->time_since_epoch())
                        .count();
    for (const auto* group : {find_group(report, slow_group), find_group(report, partial_group)}) {
      for (const auto& partition : find_topic(*group, topic)->at("partitions")) {
        if (partition.at("committed_offset").is_null() || partition.at("lag") == 0) continue;
        const std::pair<int, std::int64_t> position{partition.at("partition"), partition.at("committed_offset")};
        ASSERT_FALSE(partition.at("oldest_unconsumed_timestamp").is_null()) << partition.dump();
        const auto reported =
            std::chrono::duration_cast<std::chrono::milliseconds>(
                parse_rfc3339(partition.at("oldest_unconsumed_timestamp").get<std::string>())->time_since_epoch())
                .count();
        EXPECT_EQ(reported, timestamp.at(position)) << partition.dump();
        EXPECT_NEAR(static_cast<double>(reported), static_cast<double>(sent_at.at(position)), 1000.0)
            << "librdkafka stamps a record when it is produced";
        EXPECT_GE(reported, started_ms - 1000) << partition.dump();
        EXPECT_EQ(partition.at("oldest_unconsumed_age_ms"), std::max<std::int64_t>(0, at - reported))
            << partition.dump();
        ++ages_checked;
      }
    }
  }
  EXPECT_GT(ages_checked, 0);
  // The partial group's partition 0 has been waiting at offset 1 since the
  // start: its age is the oldest of the group's.
  const auto& last = reports.back();
  const auto* partial = find_group(last, partial_group);
  EXPECT_EQ(partial->at("oldest_unconsumed_age_ms"), find_topic(*partial, topic)->at("oldest_unconsumed_age_ms"));
  EXPECT_GT(partial->at("oldest_unconsumed_age_ms").get<std::int64_t>(), 1000) << partial->dump(2);
}

TEST_F(LagTest, WatchPrintsOneReportPerRefresh) {
  commit_without_joining(stack, partial_group, topic, {{0, 0}});
  ASSERT_FALSE(HasFatalFailure());
  const auto dir = std::filesystem::temp_directory_path();
  const auto json_log = (dir / (unique_name("fte-lag-watch-json") + ".log")).string();
  const auto text_log = (dir / (unique_name("fte-lag-watch-text") + ".log")).string();
  const auto lines_in = [](const std::string& path, const std::string& start) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(start)) lines.push_back(line);
    }
    return lines;
  };
  {
    ChildProcess json_watch(FTE_CLI_PATH, {"lag", "--watch", "--json", "--interval", "0.3"}, cli_env(), json_log);
    ChildProcess text_watch(FTE_CLI_PATH, {"lag", "--watch", "--interval", "0.3", "--group", partial_group}, cli_env(),
                            text_log);
    EXPECT_TRUE(eventually([&] { return lines_in(json_log, "{").size() >= 3; }, 20s)) << json_watch.log_tail();
    EXPECT_TRUE(eventually([&] { return lines_in(text_log, "group ").size() >= 3; }, 20s)) << text_watch.log_tail();
    EXPECT_TRUE(json_watch.running()) << "--watch runs until stopped";
    json_watch.terminate(5s);
    text_watch.terminate(5s);
  }
  for (const auto& line : lines_in(json_log, "{")) {
    const auto report = nlohmann::json::parse(line); // one whole document a line
    ASSERT_EQ(report.at("groups").size(), 1U) << line;
    EXPECT_EQ(report.at("groups")[0].at("group"), partial_group) << line;
  }
  std::ifstream text(text_log);
  const std::string all((std::istreambuf_iterator<char>(text)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all.find("\x1b["), std::string::npos) << "no terminal escapes when stdout is not a terminal";
  EXPECT_NE(all.find("group " + partial_group), std::string::npos) << all;
  std::filesystem::remove(json_log);
  std::filesystem::remove(text_log);
}

TEST_F(LagTest, BadInputAndAnUnreachableBrokerFailClearly) {
  const auto unknown_topic = run_fte("lag --topic fte.nonsense");
  EXPECT_EQ(unknown_topic.exit_code, 2) << unknown_topic.err;
  EXPECT_NE(unknown_topic.err.find("unknown topic 'fte.nonsense'"), std::string::npos) << unknown_topic.err;

  const auto unknown_group = run_fte("lag --group " + unique_name("fte-lag-test.nobody"));
  EXPECT_EQ(unknown_group.exit_code, 2) << unknown_group.err;
  EXPECT_NE(unknown_group.err.find("no consumer group"), std::string::npos) << unknown_group.err;

  const auto started = std::chrono::steady_clock::now();
  const auto unreachable = run_fte("lag --timeout-ms 2000", "127.0.0.1:1");
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.err;
  EXPECT_NE(unreachable.err.find("Kafka at 127.0.0.1:1 is not answering"), std::string::npos) << unreachable.err;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);

  const auto help = run_fte("lag --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("KEDA"), std::string::npos) << help.out;

  // A topic named with or without the prefix; a group named with nothing on
  // it still shows, with KEDA's count for a partition without a commit.
  commit_without_joining(stack, partial_group, topic, {{0, 0}});
  ASSERT_FALSE(HasFatalFailure());
  for (const auto& name : {topic, std::string(kafka::topics::kTicketsIncoming)}) {
    const auto report = lag_json("--group " + partial_group + " --topic " + name);
    ASSERT_EQ(report.at("groups").size(), 1U) << report.dump(2);
    const auto& topics = report.at("groups")[0].at("topics");
    ASSERT_EQ(topics.size(), 1U) << report.dump(2);
    EXPECT_EQ(topics[0].at("topic"), topic);
    EXPECT_EQ(topics[0].at("total_lag"), 0 + 1 + 1 + 1) << "empty partitions; three without a commit count 1 each";
  }
}

} // namespace
} // namespace fte::testing
