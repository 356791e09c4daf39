#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "fte/kafka/backoff.hpp"
#include "fte/replies/reply_sender.hpp"

namespace fte::agent {

/// How the dispatcher retries and reconciles (ADR 0010).
struct DispatchPolicy {
  /// Sends in all for a reply the provider keeps refusing as not accepted
  /// (429, connection refused), and the backoff between them (exponential,
  /// equal jitter; a longer Retry-After wins). Past the last: failed and
  /// escalated.
  kafka::RetryPolicy retry{8, std::chrono::milliseconds(2'000), std::chrono::milliseconds(600'000), 2.0};
  /// After an ambiguous answer (or a dead dispatcher's claim), how long
  /// before the provider is asked: Gmail's search needs a moment to find a
  /// message it has just accepted.
  std::chrono::milliseconds reconcile_delay{10'000};
  /// Reconciliations that fail (the provider cannot be reached to ask)
  /// before the reply is marked unknown and escalated.
  int max_reconcile_attempts = 5;
};

/// Where a reply goes after a provider call.
enum class ReplyState {
  sent,    ///< accepted: record the provider's ids
  pending, ///< provably not accepted: send again after `delay`
  sending, ///< may have been accepted: reconcile after `delay`, never resend blindly
  failed,  ///< refused for good, or out of attempts: escalate
  unknown  ///< the provider cannot tell whether it has it: escalate
};

struct NextStep {
  ReplyState state = ReplyState::unknown;
  std::chrono::milliseconds delay{0};
  std::string_view escalation; ///< empty, kDeliveryFailed or kDeliveryUnknown
  std::string_view outcome;    ///< reply_attempts.outcome
};

/// After send attempt number `attempts` (1-based) answered `result`.
[[nodiscard]] NextStep after_send(const replies::SendResult& result, int attempts, const DispatchPolicy& policy,
                                  std::mt19937_64& rng);
/// After the provider was asked whether it has the reply: `sent` (found),
/// `not_sent` (provably absent: send it again now), nullopt or anything else
/// (it cannot tell: unknown).
[[nodiscard]] NextStep after_reconcile(const std::optional<replies::SendResult>& found);
/// After asking failed (an exception, the provider unreachable), for the
/// `reconcile_attempts`-th time.
[[nodiscard]] NextStep after_reconcile_error(int reconcile_attempts, const DispatchPolicy& policy,
                                             std::mt19937_64& rng);

[[nodiscard]] std::string_view to_string(ReplyState state);

} // namespace fte::agent
