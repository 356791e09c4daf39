#include "fte/kafka/group_offsets.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

#include <array>

#include "fte/kafka/handles.hpp"
#include "fte/kafka/topic_admin.hpp"

namespace fte::kafka {

std::map<std::int32_t, std::int64_t> committed_offsets(const ClientSettings& settings, const std::string& group,
                                                       const std::string& topic,
                                                       const std::vector<std::int32_t>& partitions,
                                                       std::chrono::milliseconds timeout) {
  // A consumer handle configured with the group but never subscribed:
  // rd_kafka_committed() asks the group's coordinator without joining.
  auto conf = make_conf(settings, {}, {{"group.id", group}, {"enable.auto.commit", "false"}});
  std::array<char, 512> error{};
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  if (!consumer) throw ConfigError("kafka group offsets", error.data());
  (void)conf.release();
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()) + 1));
  for (const auto p : partitions)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  if (const auto err = rd_kafka_committed(consumer.get(), list.get(), static_cast<int>(timeout.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw AdminError("committed offsets of group " + group + " on " + topic + ": " + rd_kafka_err2str(err));
  }
  std::map<std::int32_t, std::int64_t> out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& elem = list->elems[i];
    out[elem.partition] = elem.offset >= 0 ? elem.offset : kNoCommittedOffset;
  }
  rd_kafka_consumer_close(consumer.get());
  return out;
}

} // namespace fte::kafka
