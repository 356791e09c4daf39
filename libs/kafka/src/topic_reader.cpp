#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

#include <array>
#include <map>

#include "fte/common/ids.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/kafka/topic_admin.hpp"

namespace fte::kafka {
namespace {

// group.id is required by librdkafka's consumer API even for assign();
// nothing is ever committed under it.
KafkaHandle make_reader(const ClientSettings& settings) {
  auto conf = make_conf(settings, {{"enable.partition.eof", "false"}},
                        {{"group.id", "fte-reader-" + random_uuid()}, {"enable.auto.commit", "false"}});
  std::array<char, 512> error{};
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  if (!consumer) throw ConfigError("kafka reader", error.data());
  (void)conf.release();
  return consumer;
}

} // namespace

TopicReader::TopicReader(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout)
    : settings_(settings), logger_(std::move(logger)), timeout_(timeout) {}

int TopicReader::partition_count(const std::string& topic) {
  TopicAdmin admin(settings_, logger_, timeout_);
  const auto description = admin.describe({topic})[0];
  if (!description.exists) throw AdminError("topic " + topic + " does not exist");
  return description.partitions;
}

std::vector<PartitionSpan> TopicReader::spans(const std::string& topic,
                                              std::optional<std::chrono::system_clock::time_point> since,
                                              const std::vector<std::int32_t>& partitions) {
  const int count = partition_count(topic);
  std::vector<std::int32_t> wanted = partitions;
  if (wanted.empty()) {
    for (int p = 0; p < count; ++p)
      wanted.push_back(p);
  }
  auto consumer = make_reader(settings_);
  const int timeout_ms = static_cast<int>(timeout_.count());
  std::vector<PartitionSpan> out;
  PartitionListHandle start(rd_kafka_topic_partition_list_new(static_cast<int>(wanted.size())));
  for (const auto p : wanted) {
    if (p < 0 || p >= count) {
      throw AdminError("topic " + topic + " has no partition " + std::to_string(p) + " (it has " +
                       std::to_string(count) + ")");
    }
    std::int64_t low = 0, high = 0;
    if (const auto err = rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), p, &low, &high, timeout_ms);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw AdminError("watermarks of " + topic + ": " + rd_kafka_err2str(err));
    }
    out.push_back({p, low, high});
    auto* elem = rd_kafka_topic_partition_list_add(start.get(), topic.c_str(), p);
    elem->offset =
        since ? std::chrono::duration_cast<std::chrono::milliseconds>(since->time_since_epoch()).count() : low;
  }
  if (since) {
    // Turns timestamps into the first offset at or after them (-1: none).
    if (const auto err = rd_kafka_offsets_for_times(consumer.get(), start.get(), timeout_ms);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw AdminError("offsets for times of " + topic + ": " + rd_kafka_err2str(err));
    }
    for (int i = 0; i < start->cnt; ++i) {
      auto& span = out[static_cast<std::size_t>(i)];
      const auto offset = start->elems[i].offset;
      span.begin = offset < 0 ? span.end : std::max(span.begin, std::min(offset, span.end));
    }
  }
  rd_kafka_consumer_close(consumer.get());
  return out;
}

void TopicReader::read(const std::string& topic, const std::vector<PartitionSpan>& spans,
                       const std::function<ReadOn(const ConsumedRecord&)>& visit) {
  std::map<int, std::int64_t> remaining; // partition -> end
  PartitionListHandle start(rd_kafka_topic_partition_list_new(static_cast<int>(spans.size()) + 1));
  for (const auto& span : spans) {
    if (span.size() == 0) continue;
    remaining[span.partition] = span.end;
    rd_kafka_topic_partition_list_add(start.get(), topic.c_str(), span.partition)->offset = span.begin;
  }
  if (remaining.empty()) return;
  auto consumer = make_reader(settings_);
  rd_kafka_assign(consumer.get(), start.get());
  // The bound is on silence, not on the whole read: a long replay keeps
  // going as long as records keep coming.
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (!remaining.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw AdminError("reading " + topic + " stalled: no record within " + std::to_string(timeout_.count()) + " ms");
    }
    MessageHandle msg(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!msg || msg->err) continue;
    deadline = std::chrono::steady_clock::now() + timeout_;
    const auto it = remaining.find(msg->partition);
    if (it == remaining.end() || msg->offset >= it->second) continue;
    const bool last = msg->offset + 1 >= it->second;
    const auto partition = msg->partition;
    // A stopped partition's later records still arrive; they are skipped.
    if (visit(copy_record(msg.get())) == ReadOn::stop_partition || last) remaining.erase(partition);
  }
  rd_kafka_consumer_close(consumer.get());
}

void TopicReader::read_to_end(const std::string& topic, std::optional<std::chrono::system_clock::time_point> since,
                              const std::function<void(const ConsumedRecord&)>& visit) {
  read(topic, spans(topic, since), [&visit](const ConsumedRecord& record) {
    visit(record);
    return ReadOn::next;
  });
}

} // namespace fte::kafka
