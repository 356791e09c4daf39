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
  /// The reply's words when a model wrote them (decide_with_model); empty:
  /// the article's body is the reply.
  std::string reply_text;

  [[nodiscard]] bool answered() const noexcept { return !escalation.has_value(); }
};

/// The agent's rule, in one place for the agent-worker and `fte eval`: what
/// the policy's phrases say (`policy.evaluate`: a person asked for, a
/// refund, a cancellation, legal action) hands over whatever the knowledge
/// says; otherwise the knowledge answers when its calibrated score reaches
/// the threshold, and hands over as low_confidence when it does not.
/// `by_policy` is passed in, not evaluated here, so a caller that skips
/// ranking what the policy hands over evaluates it once.
/// `requested_priority` (from the form) can raise a handover's priority,
/// never lower it.
[[nodiscard]] AgentDecision decide(std::optional<EscalationDecision> by_policy, std::string_view requested_priority,
                                   const knowledge::KnowledgeDecision& knowledge);

/// "0.42": a score as the person picking a handover up reads it.
[[nodiscard]] std::string two_decimals(double x);

} // namespace fte::agent
