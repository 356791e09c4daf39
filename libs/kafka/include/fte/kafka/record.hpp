#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fte/events/cloud_event.hpp"

namespace fte::kafka {

/// A record as a consumer received it, copied out of librdkafka's buffers so
/// it can outlive the poll that returned it.
struct ConsumedRecord {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::optional<std::string> key;
  std::string value;
  events::Headers headers;
  std::int64_t timestamp_ms = -1;
};

} // namespace fte::kafka
