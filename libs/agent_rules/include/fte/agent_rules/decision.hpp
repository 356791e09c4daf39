#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fte/agent_rules/escalation_policy.hpp"
#include "fte/knowledge/knowledge_base.hpp"

namespace fte::agent {

/// What the agent does with one customer message: answer it with an
/// article, or hand it to a person with a reason and a priority.
struct AgentDecision {
  /// Set when the message goes to a person; otherwise the agent answers
  /// with knowledge.article.
  std::optional<EscalationDecision> escalation;
  knowledge::KnowledgeDecision knowledge;

  [[nodiscard]] bool answered() const noexcept { return !escalation.has_value(); }
};

/// The agent's rule, in one place for the agent-worker and `fte eval`: the
/// policy's phrases (a person asked for, a refund, a cancellation, legal
/// action) hand over whatever the knowledge says; otherwise the knowledge
/// answers when its calibrated score reaches the threshold, and hands over
/// as low_confidence when it does not. `requested_priority` (from the form)
/// can raise a handover's priority, never lower it.
[[nodiscard]] AgentDecision decide(const EscalationPolicy& policy, std::string_view text,
                                   std::string_view requested_priority, const knowledge::KnowledgeDecision& knowledge);

} // namespace fte::agent
