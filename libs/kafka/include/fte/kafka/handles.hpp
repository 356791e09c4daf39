#pragma once

#include <memory>

#include <librdkafka/rdkafka.h>

namespace fte::kafka {

// Every librdkafka handle is owned by one of these; nothing calls a destroy
// function by hand.
struct KafkaDeleter {
  void operator()(rd_kafka_t* p) const noexcept { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const noexcept { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const noexcept { rd_kafka_topic_partition_list_destroy(p); }
  void operator()(rd_kafka_message_t* p) const noexcept { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const noexcept { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_event_t* p) const noexcept { rd_kafka_event_destroy(p); }
  void operator()(rd_kafka_AdminOptions_t* p) const noexcept { rd_kafka_AdminOptions_destroy(p); }
  void operator()(rd_kafka_NewTopic_t* p) const noexcept { rd_kafka_NewTopic_destroy(p); }
  void operator()(rd_kafka_ConfigResource_t* p) const noexcept { rd_kafka_ConfigResource_destroy(p); }
  void operator()(rd_kafka_headers_t* p) const noexcept { rd_kafka_headers_destroy(p); }
  void operator()(const rd_kafka_metadata_t* p) const noexcept { rd_kafka_metadata_destroy(p); }
  void operator()(rd_kafka_error_t* p) const noexcept { rd_kafka_error_destroy(p); }
  void operator()(rd_kafka_DeleteTopic_t* p) const noexcept { rd_kafka_DeleteTopic_destroy(p); }
  void operator()(rd_kafka_DeleteGroup_t* p) const noexcept { rd_kafka_DeleteGroup_destroy(p); }
  void operator()(rd_kafka_DeleteRecords_t* p) const noexcept { rd_kafka_DeleteRecords_destroy(p); }
  void operator()(rd_kafka_ListConsumerGroupOffsets_t* p) const noexcept {
    rd_kafka_ListConsumerGroupOffsets_destroy(p);
  }
};

using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionListHandle = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using MessageHandle = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using QueueHandle = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using EventHandle = std::unique_ptr<rd_kafka_event_t, KafkaDeleter>;
using AdminOptionsHandle = std::unique_ptr<rd_kafka_AdminOptions_t, KafkaDeleter>;
using NewTopicHandle = std::unique_ptr<rd_kafka_NewTopic_t, KafkaDeleter>;
using ConfigResourceHandle = std::unique_ptr<rd_kafka_ConfigResource_t, KafkaDeleter>;
using HeadersHandle = std::unique_ptr<rd_kafka_headers_t, KafkaDeleter>;
using MetadataHandle = std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter>;
using ErrorHandle = std::unique_ptr<rd_kafka_error_t, KafkaDeleter>;
using DeleteTopicHandle = std::unique_ptr<rd_kafka_DeleteTopic_t, KafkaDeleter>;
using DeleteGroupHandle = std::unique_ptr<rd_kafka_DeleteGroup_t, KafkaDeleter>;
using DeleteRecordsHandle = std::unique_ptr<rd_kafka_DeleteRecords_t, KafkaDeleter>;
using ListGroupOffsetsHandle = std::unique_ptr<rd_kafka_ListConsumerGroupOffsets_t, KafkaDeleter>;

} // namespace fte::kafka
