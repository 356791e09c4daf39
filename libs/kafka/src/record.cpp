#include "fte/kafka/record.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

namespace fte::kafka {

ConsumedRecord copy_record(const rd_kafka_message_t* msg) {
  ConsumedRecord record;
  record.topic = rd_kafka_topic_name(msg->rkt);
  record.partition = msg->partition;
  record.offset = msg->offset;
  if (msg->key != nullptr) {
    record.key = std::string(static_cast<const char*>(msg->key), msg->key_len);
  }
  if (msg->payload != nullptr) {
    record.value.assign(static_cast<const char*>(msg->payload), msg->len);
  }
  rd_kafka_timestamp_type_t ts_type;
  record.timestamp_ms = rd_kafka_message_timestamp(msg, &ts_type);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      record.headers.push_back({name, value ? std::string(static_cast<const char*>(value), size) : std::string()});
    }
  }
  return record;
}

} // namespace fte::kafka
