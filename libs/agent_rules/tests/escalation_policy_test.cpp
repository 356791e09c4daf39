#include "fte/agent_rules/escalation_policy.hpp"

#include <gtest/gtest.h>

namespace fte::agent {
namespace {

TEST(EscalationPolicy, EscalatesWhatAPersonMustHandle) {
  const EscalationPolicy policy;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"I want a REFUND for order 1234", "refund"},
      {"Please cancel my subscription", "cancellation"},
      {"My lawyer will contact you", "legal"},
      {"Can I talk to a human please?", "human_requested"},
      {"I'd like my money back and I will sue you", "legal"},
  };
  for (const auto& [text, reason] : cases) {
    const auto decision = policy.evaluate(text, "normal");
    ASSERT_TRUE(decision) << text;
    EXPECT_EQ(decision->reason, reason) << text;
  }
  EXPECT_EQ(policy.evaluate("My lawyer will call", "low")->priority, "urgent");
  EXPECT_EQ(policy.evaluate("refund please", "normal")->priority, "high");
  EXPECT_EQ(policy.evaluate("talk to a human", "urgent")->priority, "urgent");
}

TEST(EscalationPolicy, LeavesOrdinaryQuestionsToTheKnowledgeBase) {
  const EscalationPolicy policy;
  for (const char* text : {"How do I reset my password?", "Where are my invoices?", "Is the suede jacket in stock?",
                           "Our humane society account", "When does the courtyard open?"}) {
    EXPECT_FALSE(policy.evaluate(text, "normal")) << text;
  }
}

TEST(EscalationPolicy, PrioritiesAndTruncation) {
  EXPECT_EQ(max_priority("low", "high"), "high");
  EXPECT_EQ(max_priority("urgent", "normal"), "urgent");
  EXPECT_EQ(max_priority("bogus", "low"), "normal");
  EXPECT_EQ(truncate_utf8("héllo", 2), "hé");
  EXPECT_EQ(truncate_utf8("€€€", 2), "€€");
  EXPECT_EQ(truncate_utf8("abc", 10), "abc");
}

} // namespace
} // namespace fte::agent
