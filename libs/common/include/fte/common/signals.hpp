#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace fte {

/// Turns SIGTERM and SIGINT into a call on an ordinary thread, where it is
/// safe to lock, log and start a graceful shutdown (a signal handler can do
/// none of that). Construct it first thing in main(), before any other thread
/// starts: it blocks the signals in the calling thread, and threads created
/// afterwards inherit the mask, so only this watcher ever receives them.
class SignalWatcher {
public:
  explicit SignalWatcher(std::function<void(int signal)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  /// The first signal received, or 0.
  [[nodiscard]] int received() const noexcept { return received_.load(); }

private:
  std::function<void(int)> on_signal_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

} // namespace fte
