#include "fte/kafka/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace fte::kafka {

RetryPolicy RetryPolicy::from_env(const Environment& env) {
  using std::chrono::milliseconds;
  RetryPolicy policy;
  policy.max_attempts = static_cast<int>(env.get_int("FTE_RETRY_MAX_ATTEMPTS", policy.max_attempts, 1, 100));
  policy.initial_backoff =
      env.get_millis("FTE_RETRY_INITIAL_BACKOFF_MS", policy.initial_backoff, milliseconds(1), milliseconds(60'000));
  policy.max_backoff =
      env.get_millis("FTE_RETRY_MAX_BACKOFF_MS", policy.max_backoff, milliseconds(1), milliseconds(600'000));
  if (policy.max_backoff < policy.initial_backoff) {
    throw ConfigError("FTE_RETRY_MAX_BACKOFF_MS", "must not be below FTE_RETRY_INITIAL_BACKOFF_MS");
  }
  return policy;
}

std::chrono::milliseconds RetryPolicy::ceiling(int attempt) const {
  const double exponent = std::max(0, attempt - 1);
  const double grown = static_cast<double>(initial_backoff.count()) * std::pow(multiplier, exponent);
  const double capped = std::min(grown, static_cast<double>(max_backoff.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

} // namespace fte::kafka
