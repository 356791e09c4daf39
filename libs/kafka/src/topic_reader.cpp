#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

#include <algorithm>
#include <array>
#include <tuple>

#include "fte/common/ids.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/kafka/topic_admin.hpp"

namespace fte::kafka {
namespace {

// A consumer that is never subscribed and never commits. librdkafka's
// consumer API requires a group.id even for assign(); a random one is used
// unless `group` names the group whose committed offsets are wanted.
KafkaHandle make_reader(const ClientSettings& settings, const std::string& group) {
  auto conf =
      make_conf(settings, {{"enable.partition.eof", "true"}},
                {{"group.id", group.empty() ? "fte-reader-" + random_uuid() : group}, {"enable.auto.commit", "false"}});
  std::array<char, 512> error{};
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  if (!consumer) throw ConfigError("kafka reader", error.data());
  (void)conf.release();
  return consumer;
}

int partitions_of(const ClientSettings& settings, const Logger& logger, std::chrono::milliseconds timeout,
                  const std::string& topic) {
  TopicAdmin admin(settings, logger, timeout);
  const auto description = admin.describe({topic})[0];
  if (!description.exists) {
    throw AdminError("topic " + topic + " does not exist");
  }
  return description.partitions;
}

std::pair<std::int64_t, std::int64_t> query_watermarks(rd_kafka_t* consumer, const std::string& topic, int partition,
                                                       std::chrono::milliseconds timeout) {
  std::int64_t low = 0, high = 0;
  if (const auto err = rd_kafka_query_watermark_offsets(consumer, topic.c_str(), partition, &low, &high,
                                                        static_cast<int>(timeout.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw AdminError("watermarks of " + topic + "/" + std::to_string(partition) + ": " + rd_kafka_err2str(err));
  }
  return {low, high};
}

// Reads from the assigned starts until every partition in `end` has reached
// its end offset (or the broker says it is at the end).
void consume(rd_kafka_t* consumer, const std::string& topic, rd_kafka_topic_partition_list_t* start,
             std::map<int, std::int64_t> end, std::chrono::milliseconds timeout,
             const std::function<void(const ConsumedRecord&)>& visit) {
  if (end.empty()) return;
  rd_kafka_assign(consumer, start);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!end.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw AdminError("reading " + topic + " did not finish within " + std::to_string(timeout.count()) + " ms");
    }
    MessageHandle msg(rd_kafka_consumer_poll(consumer, 100));
    if (!msg) continue;
    const auto it = end.find(msg->partition);
    if (it == end.end()) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // Nothing more to read there: the end may lie past the last record
      // (transaction markers, a compacted tail).
      end.erase(it);
      continue;
    }
    if (msg->err) continue;
    if (msg->offset < it->second) visit(copy_record(msg.get()));
    if (msg->offset + 1 >= it->second) end.erase(it);
  }
  // Unassigned, so the next span of one of these partitions can be assigned.
  rd_kafka_assign(consumer, nullptr);
}

} // namespace

TopicReader::TopicReader(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout)
    : settings_(settings), logger_(std::move(logger)), timeout_(timeout) {}

void TopicReader::read_to_end(const std::string& topic, std::optional<std::chrono::system_clock::time_point> since,
                              const std::function<void(const ConsumedRecord&)>& visit) {
  const int partitions = partitions_of(settings_, logger_, timeout_, topic);
  auto consumer = make_reader(settings_, {});
  std::map<int, std::int64_t> end;
  PartitionListHandle start(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    const auto [low, high] = query_watermarks(consumer.get(), topic, p, timeout_);
    end[p] = high;
    auto* elem = rd_kafka_topic_partition_list_add(start.get(), topic.c_str(), p);
    elem->offset =
        since ? std::chrono::duration_cast<std::chrono::milliseconds>(since->time_since_epoch()).count() : low;
  }
  if (since) {
    // Turns timestamps into the first offset at or after them (-1: none).
    if (const auto err = rd_kafka_offsets_for_times(consumer.get(), start.get(), static_cast<int>(timeout_.count()));
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw AdminError("offsets for times of " + topic + ": " + rd_kafka_err2str(err));
    }
  }
  std::map<int, std::int64_t> remaining;
  for (int i = 0; i < start->cnt; ++i) {
    auto& elem = start->elems[i];
    if (elem.offset < 0) elem.offset = end[elem.partition]; // nothing since then
    if (elem.offset < end[elem.partition]) remaining[elem.partition] = end[elem.partition];
  }
  consume(consumer.get(), topic, start.get(), std::move(remaining), timeout_, visit);
  rd_kafka_consumer_close(consumer.get());
}

void TopicReader::read_spans(const std::string& topic, const std::vector<PartitionSpan>& spans,
                             const std::function<void(const ConsumedRecord&)>& visit) {
  const int partitions = partitions_of(settings_, logger_, timeout_, topic);
  auto consumer = make_reader(settings_, {});
  // One read per round: a partition can be assigned at one offset at a
  // time, so spans of the same partition are read one after the other.
  std::vector<PartitionSpan> left(spans);
  std::sort(left.begin(), left.end(), [](const auto& a, const auto& b) {
    return std::tie(a.partition, a.first) < std::tie(b.partition, b.first);
  });
  while (!left.empty()) {
    std::vector<PartitionSpan> round;
    std::vector<PartitionSpan> later;
    for (const auto& span : left) {
      const bool taken =
          std::any_of(round.begin(), round.end(), [&](const auto& s) { return s.partition == span.partition; });
      (taken ? later : round).push_back(span);
    }
    left = std::move(later);
    PartitionListHandle start(rd_kafka_topic_partition_list_new(static_cast<int>(round.size())));
    std::map<int, std::int64_t> end;
    for (const auto& span : round) {
      if (span.partition < 0 || span.partition >= partitions) {
        throw AdminError("topic " + topic + " has no partition " + std::to_string(span.partition) + " (it has " +
                         std::to_string(partitions) + ")");
      }
      const auto [low, high] = query_watermarks(consumer.get(), topic, span.partition, timeout_);
      const auto first = std::max(span.first, low);
      const auto stop = std::min(span.end.value_or(high), high);
      if (first >= stop) continue;
      rd_kafka_topic_partition_list_add(start.get(), topic.c_str(), span.partition)->offset = first;
      end[span.partition] = stop;
    }
    consume(consumer.get(), topic, start.get(), std::move(end), timeout_, visit);
  }
  rd_kafka_consumer_close(consumer.get());
}

std::vector<PartitionWatermarks> TopicReader::watermarks(const std::string& topic) {
  const int partitions = partitions_of(settings_, logger_, timeout_, topic);
  auto consumer = make_reader(settings_, {});
  std::vector<PartitionWatermarks> out;
  for (int p = 0; p < partitions; ++p) {
    const auto [low, high] = query_watermarks(consumer.get(), topic, p, timeout_);
    out.push_back({p, low, high});
  }
  return out;
}

std::map<std::int32_t, std::int64_t> TopicReader::committed_offsets(const std::string& group,
                                                                    const std::string& topic) {
  const int partitions = partitions_of(settings_, logger_, timeout_, topic);
  auto consumer = make_reader(settings_, group);
  PartitionListHandle list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  if (const auto err = rd_kafka_committed(consumer.get(), list.get(), static_cast<int>(timeout_.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw AdminError("committed offsets of group " + group + " on " + topic + ": " + rd_kafka_err2str(err));
  }
  std::map<std::int32_t, std::int64_t> out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& elem = list->elems[i];
    if (elem.err == RD_KAFKA_RESP_ERR_NO_ERROR && elem.offset >= 0) out[elem.partition] = elem.offset;
  }
  return out;
}

} // namespace fte::kafka
