#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>

namespace fte {

/// Stops calling a dependency that keeps failing, so a batch does not wait
/// out its timeouts message after message. Closed: calls go through;
/// `failures_to_open` failures in a row open it. Open: calls are refused
/// for `cooldown`; then one trial call goes through (half-open) and its
/// outcome closes or reopens it. Time is passed in, so the rule is testable
/// without waiting. Thread-safe.
class CircuitBreaker {
public:
  using Clock = std::chrono::steady_clock;

  CircuitBreaker(std::size_t failures_to_open, Clock::duration cooldown)
      : failures_to_open_(failures_to_open == 0 ? 1 : failures_to_open), cooldown_(cooldown) {}

  /// Whether a call may go out at `now`. In half-open, only one caller is
  /// let through until it reports.
  [[nodiscard]] bool allow(Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    if (!open_) return true;
    if (trial_out_ || now < open_until_) return false;
    trial_out_ = true;
    return true;
  }

  void record_success() {
    const std::lock_guard lock(mutex_);
    open_ = trial_out_ = false;
    failures_ = 0;
  }

  void record_failure(Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    if (open_ || ++failures_ >= failures_to_open_) {
      open_ = true;
      trial_out_ = false;
      open_until_ = now + cooldown_;
    }
  }

  [[nodiscard]] bool is_open() const {
    const std::lock_guard lock(mutex_);
    return open_;
  }

private:
  const std::size_t failures_to_open_;
  const Clock::duration cooldown_;
  mutable std::mutex mutex_;
  std::size_t failures_ = 0;
  bool open_ = false;
  bool trial_out_ = false;
  Clock::time_point open_until_{};
};

} // namespace fte
