#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace fte::runtime {

/// Runs `work` on its own thread every `interval` (the first run one
/// interval after construction) until destroyed, and sooner when woken.
/// Destruction wakes the thread; `work` then runs once more with `stopping`
/// true (a last chance to flush), and the thread is joined. `work` must not
/// throw.
class PeriodicTask {
public:
  using Work = std::function<void(bool stopping)>;

  PeriodicTask(std::chrono::milliseconds interval, Work work) : interval_(interval), work_(std::move(work)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~PeriodicTask() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  /// Runs `work` as soon as the thread is free instead of at the end of the
  /// interval (a notification said there is work); wakes during a run are
  /// remembered, so none is lost. Then the interval starts again.
  void wake() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    wake_.notify_all();
  }

private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait_for(lock, interval_, [this] { return stopping_ || woken_; });
      const bool stopping = stopping_;
      woken_ = false;
      lock.unlock();
      work_(stopping);
      lock.lock();
      if (stopping) return;
    }
  }

  std::chrono::milliseconds interval_;
  Work work_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_; // last: started once everything above exists
};

} // namespace fte::runtime
