#include "fte/kafka/dlq.hpp"

namespace fte::kafka {

ProducerRecord make_dlq_record(const ConsumedRecord& original, std::string_view error, int attempts,
                               std::string_view service, std::string dlq_topic) {
  ProducerRecord record;
  record.topic = std::move(dlq_topic);
  record.key = original.key;
  record.value = original.value;
  record.headers = original.headers;
  // A record that already went through the DLQ (a re-drive that failed
  // again) gets fresh dlq.* headers, not a second set.
  std::erase_if(record.headers, [](const events::Header& h) { return h.name.starts_with("dlq."); });
  record.headers.push_back({std::string(dlq_header::kOriginalTopic), original.topic});
  record.headers.push_back({std::string(dlq_header::kOriginalPartition), std::to_string(original.partition)});
  record.headers.push_back({std::string(dlq_header::kOriginalOffset), std::to_string(original.offset)});
  record.headers.push_back({std::string(dlq_header::kError), std::string(error)});
  record.headers.push_back({std::string(dlq_header::kAttempts), std::to_string(attempts)});
  record.headers.push_back({std::string(dlq_header::kService), std::string(service)});
  return record;
}

} // namespace fte::kafka
