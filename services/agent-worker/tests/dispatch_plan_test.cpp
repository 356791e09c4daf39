#include "dispatch_plan.hpp"

#include <gtest/gtest.h>

#include "reply_escalation.hpp"

namespace fte::agent {
namespace {

using namespace std::chrono_literals;
using replies::SendOutcome;

replies::SendResult answer(SendOutcome outcome, std::chrono::seconds retry_after = 0s) {
  replies::SendResult r;
  r.outcome = outcome;
  r.retry_after = retry_after;
  if (outcome == SendOutcome::sent) r.provider_message_id = "SM1";
  return r;
}

DispatchPolicy policy() {
  DispatchPolicy p;
  p.retry.max_attempts = 3;
  p.retry.initial_backoff = 1'000ms;
  p.retry.max_backoff = 60'000ms;
  p.reconcile_delay = 5'000ms;
  p.max_reconcile_attempts = 2;
  return p;
}

TEST(DispatchPlan, AcceptedIsSent) {
  std::mt19937_64 rng(1);
  const auto step = after_send(answer(SendOutcome::sent), 1, policy(), rng);
  EXPECT_EQ(step.state, ReplyState::sent);
  EXPECT_TRUE(step.escalation.empty());
  EXPECT_EQ(step.outcome, "sent");
}

TEST(DispatchPlan, NotAcceptedIsRetriedWithJitteredBackoffThenFailsAndEscalates) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50; ++i) {
    const auto first = after_send(answer(SendOutcome::not_sent), 1, policy(), rng);
    EXPECT_EQ(first.state, ReplyState::pending);
    EXPECT_GE(first.delay, 500ms);
    EXPECT_LE(first.delay, 1'000ms);
    const auto second = after_send(answer(SendOutcome::not_sent), 2, policy(), rng);
    EXPECT_GE(second.delay, 1'000ms);
    EXPECT_LE(second.delay, 2'000ms);
  }
  const auto last = after_send(answer(SendOutcome::not_sent), 3, policy(), rng);
  EXPECT_EQ(last.state, ReplyState::failed);
  EXPECT_EQ(last.escalation, kDeliveryFailed);
}

TEST(DispatchPlan, ALongerRetryAfterWins) {
  std::mt19937_64 rng(3);
  const auto step = after_send(answer(SendOutcome::not_sent, 30s), 1, policy(), rng);
  EXPECT_EQ(step.state, ReplyState::pending);
  EXPECT_EQ(step.delay, 30'000ms);
}

TEST(DispatchPlan, RejectedFailsAtOnce) {
  std::mt19937_64 rng(1);
  const auto step = after_send(answer(SendOutcome::rejected), 1, policy(), rng);
  EXPECT_EQ(step.state, ReplyState::failed);
  EXPECT_EQ(step.escalation, kDeliveryFailed);
  EXPECT_EQ(step.outcome, "rejected");
}

TEST(DispatchPlan, AmbiguousIsReconciledNeverResent) {
  std::mt19937_64 rng(1);
  const auto step = after_send(answer(SendOutcome::ambiguous), 1, policy(), rng);
  EXPECT_EQ(step.state, ReplyState::sending);
  EXPECT_EQ(step.delay, 5'000ms);
  EXPECT_TRUE(step.escalation.empty());
}

TEST(DispatchPlan, ReconciliationOutcomes) {
  EXPECT_EQ(after_reconcile(answer(SendOutcome::sent)).state, ReplyState::sent);
  EXPECT_EQ(after_reconcile(answer(SendOutcome::not_sent)).state, ReplyState::pending);
  const auto cannot_tell = after_reconcile(std::nullopt);
  EXPECT_EQ(cannot_tell.state, ReplyState::unknown);
  EXPECT_EQ(cannot_tell.escalation, kDeliveryUnknown);
  auto found_without_id = answer(SendOutcome::sent);
  found_without_id.provider_message_id.clear();
  EXPECT_EQ(after_reconcile(found_without_id).state, ReplyState::unknown) << "a find we cannot record is no find";
  EXPECT_EQ(after_reconcile(answer(SendOutcome::ambiguous)).state, ReplyState::unknown);
}

TEST(DispatchPlan, AReconciliationThatCannotAskIsRetriedThenUnknown) {
  std::mt19937_64 rng(1);
  const auto again = after_reconcile_error(1, policy(), rng);
  EXPECT_EQ(again.state, ReplyState::sending);
  EXPECT_GT(again.delay, 0ms);
  const auto given_up = after_reconcile_error(2, policy(), rng);
  EXPECT_EQ(given_up.state, ReplyState::unknown);
  EXPECT_EQ(given_up.escalation, kDeliveryUnknown);
}

} // namespace
} // namespace fte::agent
