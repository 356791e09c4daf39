#include "dispatch_plan.hpp"

#include <algorithm>

#include "reply_escalation.hpp"

namespace fte::agent {

NextStep after_send(const replies::SendResult& result, int attempts, const DispatchPolicy& policy,
                    std::mt19937_64& rng) {
  using replies::SendOutcome;
  switch (result.outcome) {
  case SendOutcome::sent: return {ReplyState::sent, {}, {}, "sent"};
  case SendOutcome::not_sent: {
    if (attempts >= policy.retry.max_attempts) return {ReplyState::failed, {}, kDeliveryFailed, "not_sent"};
    const auto backoff = policy.retry.delay(std::max(attempts, 1), rng);
    const auto asked = std::chrono::duration_cast<std::chrono::milliseconds>(result.retry_after);
    return {ReplyState::pending, std::max(backoff, asked), {}, "not_sent"};
  }
  case SendOutcome::rejected: return {ReplyState::failed, {}, kDeliveryFailed, "rejected"};
  case SendOutcome::ambiguous: break;
  }
  return {ReplyState::sending, policy.reconcile_delay, {}, "ambiguous"};
}

NextStep after_reconcile(const std::optional<replies::SendResult>& found) {
  if (found && found->outcome == replies::SendOutcome::sent && !found->provider_message_id.empty()) {
    return {ReplyState::sent, {}, {}, "found"};
  }
  if (found && found->outcome == replies::SendOutcome::not_sent) {
    // The provider proves it never took the reply: sending it is the only
    // way the customer gets it, and it cannot duplicate anything.
    return {ReplyState::pending, {}, {}, "absent"};
  }
  return {ReplyState::unknown, {}, kDeliveryUnknown, "cannot_tell"};
}

NextStep after_reconcile_error(int reconcile_attempts, const DispatchPolicy& policy, std::mt19937_64& rng) {
  if (reconcile_attempts >= policy.max_reconcile_attempts) {
    return {ReplyState::unknown, {}, kDeliveryUnknown, "error"};
  }
  return {ReplyState::sending, policy.retry.delay(std::max(reconcile_attempts, 1), rng), {}, "error"};
}

std::string_view to_string(ReplyState state) {
  switch (state) {
  case ReplyState::sent: return "sent";
  case ReplyState::pending: return "pending";
  case ReplyState::sending: return "sending";
  case ReplyState::failed: return "failed";
  case ReplyState::unknown: break;
  }
  return "unknown";
}

} // namespace fte::agent
