#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fte/common/logging.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/record.hpp"

namespace fte::testing {

/// Where the real stack is, from the environment deploy/local/fte-local
/// exports (FTE_KAFKA_BOOTSTRAP, FTE_DATABASE_URL), with its defaults.
struct StackAddresses {
  std::string kafka_bootstrap;
  std::string database_url;
  static StackAddresses from_env();
};

/// A name no other test run uses: `<prefix>.<random>`.
[[nodiscard]] std::string unique_name(const std::string& prefix);

/// A logger for tests: warnings and errors only unless FTE_TEST_LOG_LEVEL says otherwise.
[[nodiscard]] Logger test_logger(const std::string& name);

/// Fails (gtest FAIL) with a message naming Kafka's address when the broker
/// does not answer within `timeout`: the first thing every broker test checks.
void require_kafka(const StackAddresses& stack, std::chrono::milliseconds timeout = std::chrono::seconds(15));

/// A topic created for one test and deleted afterwards.
class ScratchTopic {
public:
  ScratchTopic(const StackAddresses& stack, const std::string& prefix, int partitions);
  ~ScratchTopic();
  ScratchTopic(const ScratchTopic&) = delete;
  ScratchTopic& operator=(const ScratchTopic&) = delete;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
  StackAddresses stack_;
  std::string name_;
};

/// Reads every record of `topic` from the beginning until `predicate` holds
/// for what was read or `timeout` passes. Uses partition assignment, not a
/// group, so it never commits or disturbs a group.
/// @returns what was read; callers assert on it (and on the predicate).
std::vector<kafka::ConsumedRecord>
read_topic(const StackAddresses& stack, const std::string& topic,
           const std::function<bool(const std::vector<kafka::ConsumedRecord>&)>& predicate,
           std::chrono::milliseconds timeout);

/// Reads `topic` whole: every record below each partition's high watermark
/// as it was when called (so nothing already written can be missed, as a
/// count-based stop could). @throws when that takes longer than `timeout`.
std::vector<kafka::ConsumedRecord> read_whole_topic(const StackAddresses& stack, const std::string& topic,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// Committed offsets of `group` on `topic`, by partition (-1001 = none).
std::map<int, std::int64_t> committed_offsets(const StackAddresses& stack, const std::string& group,
                                              const std::string& topic, int partitions);
/// High watermarks of `topic`, by partition.
std::map<int, std::int64_t> end_offsets(const StackAddresses& stack, const std::string& topic, int partitions);

/// Waits until `group`'s committed offsets on `topic` reach the topic's end
/// offsets in every partition that has records; false after `timeout`.
bool wait_caught_up(const StackAddresses& stack, const std::string& group, const std::string& topic,
                    std::chrono::milliseconds timeout, int partitions = 12);

/// Polls `condition` every 50 ms until true or `timeout`; returns the last result.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

/// A producer for tests with a short delivery bound, so a dead broker fails fast.
[[nodiscard]] std::unique_ptr<kafka::Producer> test_producer(const StackAddresses& stack);

/// A scratch PostgreSQL database with fte's schema applied, dropped afterwards.
class ScratchDatabase {
public:
  explicit ScratchDatabase(const StackAddresses& stack, bool migrate = true);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
  StackAddresses stack_;
  std::string name_;
  std::string url_;
};

} // namespace fte::testing
