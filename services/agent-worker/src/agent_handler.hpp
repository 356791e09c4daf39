#pragma once

#include <string>
#include <string_view>

#include "escalation_policy.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/runtime/exactly_once.hpp"

namespace fte::agent {

struct AgentOptions {
  kafka::TopicNames topics;
  /// Knowledge-base answers below this score are not sent; the message is
  /// escalated as low_confidence instead (FTE_KB_MIN_SCORE).
  double min_score = 0.5;
};

/// Processes a batch of ticket messages in one transaction, exactly once per
/// event: opens or continues each customer's conversation and ticket, stores
/// the inbound message, stores a knowledge-base reply (status `pending`:
/// outbound delivery comes later) or escalates, and adds the escalation
/// request and a metric event to the outputs (published after COMMIT).
///
/// A batch gives the same result as its messages one at a time in offset
/// order: the decisions are made here in that order (a chat message after
/// an escalated one opens a new ticket), and rows are written set-wise with
/// clock_timestamp() in that order. Row ids are derived from the event id,
/// so a retried batch writes the same ids.
class AgentHandler final : public runtime::DomainHandler {
public:
  explicit AgentHandler(AgentOptions options);

  void prepare(pqxx::connection& connection) const override;
  void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, runtime::Outputs& outputs) const override;

  static constexpr std::string_view kTicketMessageType = "fte.ticket.message.received.v1";
  static constexpr std::string_view kEscalationType = "fte.escalation.requested.v1";
  static constexpr std::string_view kMetricType = "fte.agent.message.processed.v1";
  static constexpr std::string_view kSource = "/fte/agent-worker";

private:
  AgentOptions options_;
  EscalationPolicy policy_;
};

} // namespace fte::agent
