#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "fte/common/logging.hpp"
#include "fte/kafka/client_config.hpp"
#include "fte/kafka/record.hpp"

namespace fte::kafka {

/// Reads topics outside any consumer group (assign, never commit): what an
/// engineer's tool does to look at a topic without disturbing its consumers.
class TopicReader {
public:
  /// @throws ConfigError
  TopicReader(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout);

  /// Calls `visit` for every record of `topic` written at or after `since`
  /// (from the beginning when nullopt) up to the end of each partition as it
  /// was when the call started. @throws AdminError when Kafka does not answer.
  void read_to_end(const std::string& topic, std::optional<std::chrono::system_clock::time_point> since,
                   const std::function<void(const ConsumedRecord&)>& visit);

private:
  ClientSettings settings_;
  Logger logger_;
  std::chrono::milliseconds timeout_;
};

} // namespace fte::kafka
