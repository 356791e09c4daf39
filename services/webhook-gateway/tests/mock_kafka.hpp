#pragma once

// librdkafka's in-process mock cluster for the gateway's handler tests: a
// real producer with no Kafka process, and the topic read back to prove what
// was (and was not) published.
#include <librdkafka/rdkafka.h>
// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fte/kafka/producer.hpp"

namespace fte::gateway::test_support {

/// A producer configured for a mock cluster of one broker of its own.
[[nodiscard]] kafka::ProducerOptions
mock_producer_options(std::string client_id,
                      std::chrono::milliseconds delivery_timeout = std::chrono::milliseconds(1500));

struct Published {
  std::string key;
  std::string value;
};

/// Everything in `topic` (its `partitions` partitions) in offset order per
/// partition, read with a plain consumer: the mock cluster answers no
/// DescribeConfigs, which kafka::TopicReader needs. Fails the test when the
/// topic cannot be read to its end.
[[nodiscard]] std::vector<Published> read_mock_topic(rd_kafka_mock_cluster_t* cluster, const std::string& topic,
                                                     std::int32_t partitions);

} // namespace fte::gateway::test_support
