// The real producer against librdkafka's built-in mock cluster: checks what
// only a running client can show (the partitioner's choice, delivery reports,
// typed errors when the broker goes away) without a Kafka process.
#include <librdkafka/rdkafka.h>
// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

#include <chrono>

#include <gtest/gtest.h>

#include "fte/kafka/murmur2.hpp"
#include "fte/kafka/producer.hpp"

namespace fte::kafka {
namespace {

using namespace std::chrono_literals;

Logger quiet() { return Logger::to_stderr("producer-test", spdlog::level::err); }

ProducerOptions mock_options(std::chrono::milliseconds timeout = 5000ms) {
  ProducerOptions options;
  options.client.bootstrap = "";
  options.client.client_id = "producer-test";
  options.client.properties = {{"test.mock.num.brokers", "1"}};
  options.delivery_timeout = timeout;
  return options;
}

TEST(ProducerMock, PartitionerIsJavaCompatibleMurmur2) {
  Producer producer(mock_options(), quiet());
  auto* cluster = rd_kafka_handle_mock_cluster(producer.native());
  ASSERT_NE(cluster, nullptr);
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster, "t12", 12, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster, "t3", 3, 1), RD_KAFKA_RESP_ERR_NO_ERROR);

  const auto kafka12 = producer.send({"t12", std::string("kafka"), "v", {}});
  ASSERT_TRUE(kafka12.ok()) << kafka12.detail;
  EXPECT_EQ(kafka12.partition, 4);
  const auto kafka3 = producer.send({"t3", std::string("kafka"), "v", {}});
  ASSERT_TRUE(kafka3.ok()) << kafka3.detail;
  EXPECT_EQ(kafka3.partition, 1);
  for (const char* key : {"1234", "234", "34", "4", "giberish123456789", "ada@example.com"}) {
    const auto report = producer.send({"t12", std::string(key), "v", {}});
    ASSERT_TRUE(report.ok()) << report.detail;
    EXPECT_EQ(report.partition, partition_for_key(key, 12)) << key;
    EXPECT_GE(report.offset, 0);
  }
}

TEST(ProducerMock, DeliveryHandlerRunsOncePerRecord) {
  Producer producer(mock_options(), quiet());
  auto* cluster = rd_kafka_handle_mock_cluster(producer.native());
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster, "many", 12, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::atomic<int> reports{0};
  std::atomic<int> failures{0};
  for (int i = 0; i < 200; ++i) {
    producer.send_async({"many", "k" + std::to_string(i), "v", {{"h", "1"}}}, [&](const DeliveryReport& r) {
      ++reports;
      if (!r.ok()) ++failures;
    });
  }
  ASSERT_TRUE(producer.flush(10s));
  EXPECT_EQ(reports.load(), 200);
  EXPECT_EQ(failures.load(), 0);
}

TEST(ProducerMock, BrokerDownGivesARetryableErrorWithinTheBound) {
  Producer producer(mock_options(1500ms), quiet());
  auto* cluster = rd_kafka_handle_mock_cluster(producer.native());
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster, "down", 12, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(producer.send({"down", std::string("warm-up"), "v", {}}).ok());

  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto started = std::chrono::steady_clock::now();
  const auto report = producer.send({"down", std::string("k"), "v", {}});
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(report.retryable()) << report.error.message();
  EXPECT_LT(waited, 10s) << "the delivery timeout must bound the wait";
}

TEST(ProducerMock, EnqueueFailureReportsOnTheCallersThread) {
  Producer producer(mock_options(), quiet());
  ProducerRecord huge{"t", std::string("k"), std::string(2 * 1024 * 1024, 'x'), {}};
  const auto report = producer.send(std::move(huge));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error, make_error_code(errc::message_too_large));
  EXPECT_FALSE(report.retryable());
}

} // namespace
} // namespace fte::kafka
