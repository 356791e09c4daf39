#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "fte/common/config.hpp"

namespace fte::kafka {

/// How a consumer retries a failing record in place: `max_attempts` calls in
/// all, waiting between them an exponentially growing delay with "equal
/// jitter" (half fixed, half random), so retries of many consumers spread out
/// but never shrink to zero.
struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10'000};
  double multiplier = 2.0;

  /// FTE_RETRY_MAX_ATTEMPTS, FTE_RETRY_INITIAL_BACKOFF_MS, FTE_RETRY_MAX_BACKOFF_MS.
  /// @throws ConfigError
  static RetryPolicy from_env(const Environment& env);

  /// The ceiling of the delay after failed attempt `attempt` (1-based):
  /// min(max_backoff, initial_backoff * multiplier^(attempt-1)).
  [[nodiscard]] std::chrono::milliseconds ceiling(int attempt) const;

  /// The delay to wait after failed attempt `attempt`: uniform in
  /// [ceiling/2, ceiling].
  template <class Rng> [[nodiscard]] std::chrono::milliseconds delay(int attempt, Rng& rng) const {
    const auto top = ceiling(attempt).count();
    std::uniform_int_distribution<std::int64_t> jitter(top / 2, top);
    return std::chrono::milliseconds(jitter(rng));
  }
};

} // namespace fte::kafka
