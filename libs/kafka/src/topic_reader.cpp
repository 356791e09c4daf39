#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

#include <array>
#include <map>

#include "fte/common/ids.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/kafka/topic_admin.hpp"

namespace fte::kafka {

TopicReader::TopicReader(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout)
    : settings_(settings), logger_(std::move(logger)), timeout_(timeout) {}

void TopicReader::read_to_end(const std::string& topic, std::optional<std::chrono::system_clock::time_point> since,
                              const std::function<void(const ConsumedRecord&)>& visit) {
  TopicAdmin admin(settings_, logger_, timeout_);
  const auto description = admin.describe({topic})[0];
  if (!description.exists) {
    throw AdminError("topic " + topic + " does not exist");
  }
  // group.id is required by librdkafka's consumer API even for assign();
  // nothing is ever committed under it.
  auto conf = make_conf(settings_, {{"enable.partition.eof", "false"}},
                        {{"group.id", "fte-reader-" + random_uuid()}, {"enable.auto.commit", "false"}});
  std::array<char, 512> error{};
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  if (!consumer) throw ConfigError("kafka reader", error.data());
  (void)conf.release();

  const int timeout_ms = static_cast<int>(timeout_.count());
  std::map<int, std::int64_t> end;
  PartitionListHandle start(rd_kafka_topic_partition_list_new(description.partitions));
  for (int p = 0; p < description.partitions; ++p) {
    std::int64_t low = 0, high = 0;
    if (const auto err = rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), p, &low, &high, timeout_ms);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw AdminError("watermarks of " + topic + ": " + rd_kafka_err2str(err));
    }
    end[p] = high;
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
  }
  std::map<int, std::int64_t> remaining;
  for (int i = 0; i < start->cnt; ++i) {
    auto& elem = start->elems[i];
    if (elem.offset < 0) elem.offset = end[elem.partition]; // nothing since then
    if (elem.offset < end[elem.partition]) remaining[elem.partition] = end[elem.partition];
  }
  if (remaining.empty()) return;
  rd_kafka_assign(consumer.get(), start.get());
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (!remaining.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw AdminError("reading " + topic + " did not finish within " + std::to_string(timeout_.count()) + " ms");
    }
    MessageHandle msg(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!msg || msg->err) continue;
    const auto it = remaining.find(msg->partition);
    if (it == remaining.end()) continue;
    visit(copy_record(msg.get()));
    if (msg->offset + 1 >= it->second) remaining.erase(it);
  }
  rd_kafka_consumer_close(consumer.get());
}

} // namespace fte::kafka
