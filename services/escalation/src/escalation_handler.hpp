#pragma once

#include <string>

#include "fte/kafka/consumer_runner.hpp"
#include "fte/pg/pool.hpp"

namespace fte::escalation {

/// Records one escalation per request, exactly once: the row and the dedup
/// key commit together, and the ticket is marked escalated.
class EscalationHandler {
public:
  EscalationHandler(std::string group, pg::ConnectionPool& database);

  kafka::HandleResult operator()(const kafka::Delivery& delivery) const;

  static constexpr std::string_view kEscalationType = "fte.escalation.requested.v1";

private:
  std::string group_;
  pg::ConnectionPool& database_;
};

} // namespace fte::escalation
