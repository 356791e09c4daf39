#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agent_events.hpp"
#include "delivery_updates.hpp"
#include "fte/agent_rules/escalation_policy.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/knowledge/knowledge_base.hpp"
#include "fte/runtime/exactly_once.hpp"
#include "llm_agent.hpp"

namespace fte::agent {

struct AgentOptions {
  kafka::TopicNames topics;
  /// What answers (required): the in-memory knowledge and its calibrated
  /// decision (ADR 0018), shared by every lane.
  std::shared_ptr<const knowledge::KnowledgeBase> knowledge;
  /// The LLM adapter (FTE_LLM=openai, ADR 0019); null: retrieval decides.
  std::shared_ptr<const LlmAgent> llm;
  /// Where the delivery-status counters go; none when null.
  std::shared_ptr<prometheus::Registry> metrics;
};

/// Processes a batch of ticket messages and delivery statuses in one
/// transaction, exactly once per event.
///
/// A ticket message opens or continues the customer's conversation (email:
/// the one of its Gmail thread, so a reply to our reply lands in it; other
/// channels: the customer's open one on that channel) and ticket, stores
/// the inbound message with its channel_metadata, and stores a
/// knowledge-base reply or escalates (agent::decide); the escalation request and a metric
/// event go to the outputs (published after COMMIT). The reply row (status
/// `pending`, the inbound's channel_metadata and the customer's address on
/// the channel) is the reply outbox: the dispatcher sends it after COMMIT,
/// woken by a NOTIFY that PostgreSQL delivers only if this commits (ADR 0010).
///
/// A delivery status (fte.message.delivery.updated.v1) moves its reply's
/// status forward, never back (DeliveryUpdates). A batch may mix both kinds.
///
/// A batch gives the same result as its messages one at a time in offset
/// order: the decisions are made here in that order (a chat message after
/// an escalated one opens a new ticket), and rows are written set-wise with
/// clock_timestamp() in that order. Row ids are derived from the event id,
/// so a retried batch writes the same ids.
class AgentHandler final : public runtime::DomainHandler {
public:
  explicit AgentHandler(AgentOptions options);
  ~AgentHandler() override;

  void prepare(pqxx::connection& connection) const override;
  void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, runtime::Outputs& outputs) const override;

  static constexpr std::string_view kTicketMessageType = agent::kTicketMessageType;
  static constexpr std::string_view kDeliveryUpdatedType = agent::kDeliveryUpdatedType;
  static constexpr std::string_view kEscalationType = agent::kEscalationType;
  static constexpr std::string_view kMetricType = agent::kMetricType;
  static constexpr std::string_view kSource = agent::kAgentSource;

private:
  void apply_messages(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, runtime::Outputs& outputs) const;

  AgentOptions options_;
  EscalationPolicy policy_;
  DeliveryUpdates deliveries_;
  struct Metrics;
  std::unique_ptr<Metrics> metrics_; ///< null without a registry
};

} // namespace fte::agent
