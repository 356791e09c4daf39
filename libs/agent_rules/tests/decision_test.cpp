#include "fte/agent_rules/decision.hpp"

#include <gtest/gtest.h>

namespace fte::agent {
namespace {

knowledge::KnowledgeDecision confident(bool answer, double score = 0.97) {
  knowledge::KnowledgeDecision k;
  k.article = knowledge::Article{7, "reset-password", "Reset your password", "Use the link."};
  k.score = score;
  k.threshold = 0.9;
  k.answer = answer;
  k.method = knowledge::Method::semantic;
  return k;
}

TEST(AgentDecision, AnswersWhenTheKnowledgeIsConfident) {
  const EscalationPolicy policy;
  const auto d = decide(policy.evaluate("how do I reset my password", "normal"), "normal", confident(true));
  EXPECT_TRUE(d.answered());
  EXPECT_EQ(d.knowledge.article->slug, "reset-password");
}

TEST(AgentDecision, ThePolicyWinsOverAConfidentAnswer) {
  const EscalationPolicy policy;
  const auto d =
      decide(policy.evaluate("I want a refund, and how do I reset my password", "low"), "low", confident(true));
  ASSERT_FALSE(d.answered());
  EXPECT_EQ(d.escalation->reason, "refund");
  EXPECT_EQ(d.escalation->priority, "high");
}

TEST(AgentDecision, BelowTheThresholdIsLowConfidenceWithTheEvidence) {
  const EscalationPolicy policy;
  const auto d = decide(policy.evaluate("something about passwords", "urgent"), "urgent", confident(false, 0.42));
  ASSERT_FALSE(d.answered());
  EXPECT_EQ(d.escalation->reason, "low_confidence");
  EXPECT_EQ(d.escalation->priority, "urgent"); // the form's priority raises it
  EXPECT_EQ(d.escalation->detail, "best article reset-password scored 0.42, below the threshold 0.90 (semantic)");
}

TEST(AgentDecision, NothingFoundIsLowConfidence) {
  const EscalationPolicy policy;
  const auto d = decide(policy.evaluate("zzz", "low"), "low", knowledge::KnowledgeDecision{});
  ASSERT_FALSE(d.answered());
  EXPECT_EQ(d.escalation->reason, "low_confidence");
  EXPECT_EQ(d.escalation->detail, "no knowledge-base article matches");
  EXPECT_EQ(d.escalation->priority, "normal");
}

} // namespace
} // namespace fte::agent
