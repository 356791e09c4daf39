#include "mock_kafka.hpp"

#include <array>
#include <map>

#include <gtest/gtest.h>

#include "fte/common/ids.hpp"
#include "fte/kafka/handles.hpp"

namespace fte::gateway::test_support {

kafka::ProducerOptions mock_producer_options(std::string client_id, std::chrono::milliseconds delivery_timeout) {
  kafka::ProducerOptions options;
  options.client.bootstrap = "";
  options.client.client_id = std::move(client_id);
  options.client.properties = {{"test.mock.num.brokers", "1"}};
  options.delivery_timeout = delivery_timeout;
  return options;
}

std::vector<Published> read_mock_topic(rd_kafka_mock_cluster_t* cluster, const std::string& topic,
                                       std::int32_t partitions) {
  using namespace std::chrono_literals;
  std::vector<Published> records;
  kafka::ConfHandle conf(rd_kafka_conf_new());
  std::array<char, 512> error{};
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster)},
                                          {"group.id", "mock-topic-reader-" + random_uuid()},
                                          {"enable.auto.commit", "false"}}) {
    EXPECT_EQ(rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), error.data(), error.size()), RD_KAFKA_CONF_OK)
        << error.data();
  }
  kafka::KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), error.data(), error.size()));
  EXPECT_TRUE(consumer) << error.data();
  if (!consumer) return records;
  kafka::PartitionListHandle assignment(rd_kafka_topic_partition_list_new(partitions));
  std::map<std::int32_t, std::int64_t> remaining;
  for (std::int32_t p = 0; p < partitions; ++p) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), p, &low, &high, 10'000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = low;
    if (high > low) remaining[p] = high;
  }
  rd_kafka_assign(consumer.get(), assignment.get());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!remaining.empty() && std::chrono::steady_clock::now() < deadline) {
    kafka::MessageHandle message(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!message || message->err) continue;
    const auto it = remaining.find(message->partition);
    if (it == remaining.end()) continue;
    records.push_back({message->key == nullptr ? std::string()
                                               : std::string(static_cast<const char*>(message->key), message->key_len),
                       std::string(static_cast<const char*>(message->payload), message->len)});
    if (message->offset + 1 >= it->second) remaining.erase(it);
  }
  EXPECT_TRUE(remaining.empty()) << "the topic was not read to its end";
  rd_kafka_consumer_close(consumer.get());
  return records;
}

} // namespace fte::gateway::test_support
