#include "fte/agent_rules/decision.hpp"

#include <cstdio>

namespace fte::agent {

std::string two_decimals(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", x);
  return text;
}

AgentDecision decide(std::optional<EscalationDecision> by_policy, std::string_view requested_priority,
                     const knowledge::KnowledgeDecision& knowledge) {
  AgentDecision decision;
  decision.knowledge = knowledge;
  decision.escalation = std::move(by_policy);
  if (decision.escalation) return decision;
  if (knowledge.answer && knowledge.article) return decision;
  // What the person picking it up sees: how close the agent came.
  std::string detail = knowledge.article
                           ? "best article " + knowledge.article->slug + " scored " + two_decimals(knowledge.score) +
                                 ", below the threshold " + two_decimals(knowledge.threshold) + " (" +
                                 knowledge::method_name(knowledge.method) + ")"
                           : "no knowledge-base article matches";
  decision.escalation =
      EscalationDecision{"low_confidence", std::move(detail), max_priority("normal", requested_priority)};
  return decision;
}

} // namespace fte::agent
