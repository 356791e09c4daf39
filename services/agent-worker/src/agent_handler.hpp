#pragma once

#include <string>

#include "escalation_policy.hpp"
#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/pg/pool.hpp"

namespace fte::agent {

struct AgentOptions {
  std::string group;
  kafka::TopicNames topics;
  /// Knowledge-base answers below this score are not sent; the message is
  /// escalated as low_confidence instead (FTE_KB_MIN_SCORE).
  double min_score = 0.5;
};

/// Processes one ticket message in one transaction, exactly once per event:
/// opens or continues the customer's conversation and ticket, stores the
/// inbound message, stores a knowledge-base reply (status `pending`: outbound
/// delivery comes later) or escalates, and publishes the escalation request
/// and a metric event. Those records are acknowledged before the transaction
/// commits; a failure rolls everything back and the runner retries.
class AgentHandler {
public:
  AgentHandler(AgentOptions options, pg::ConnectionPool& database, kafka::Producer& producer,
               const contracts::Validator& validator);

  kafka::HandleResult operator()(const kafka::Delivery& delivery) const;

  static constexpr std::string_view kTicketMessageType = "fte.ticket.message.received.v1";
  static constexpr std::string_view kEscalationType = "fte.escalation.requested.v1";
  static constexpr std::string_view kMetricType = "fte.agent.message.processed.v1";
  static constexpr std::string_view kSource = "/fte/agent-worker";

private:
  AgentOptions options_;
  pg::ConnectionPool& database_;
  kafka::Producer& producer_;
  const contracts::Validator& validator_;
  EscalationPolicy policy_;
};

} // namespace fte::agent
