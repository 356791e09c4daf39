#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "fte/kafka/record.hpp"

namespace fte::kafka::detail {

/// A worker thread with a FIFO queue that hands its work over in batches.
/// Records of one key always land on the same lane, which is what keeps a
/// customer's messages in order; a batch is a run of queued records, so
/// order within it is queue order.
class BatchLane {
public:
  using Work = std::function<void(std::vector<ConsumedRecord>& batch)>;

  BatchLane(Work work, std::size_t max_records, std::chrono::milliseconds max_wait)
      : work_(std::move(work)), max_records_(max_records == 0 ? 1 : max_records), max_wait_(max_wait) {
    thread_ = std::thread([this] { loop(); });
  }
  ~BatchLane() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }
  BatchLane(const BatchLane&) = delete;
  BatchLane& operator=(const BatchLane&) = delete;

  void push(ConsumedRecord record) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(record));
      // The lane waits for the first record, then (with a wait) for a full
      // batch: a notification per record would only wake it to go back to sleep.
      wake = queue_.size() == 1 || queue_.size() >= max_records_;
    }
    if (wake) ready_.notify_one();
  }

private:
  void loop() {
    std::vector<ConsumedRecord> batch;
    for (;;) {
      batch.clear();
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) {
          return; // closing and nothing left
        }
        if (max_wait_.count() > 0 && queue_.size() < max_records_ && !closing_) {
          ready_.wait_for(lock, max_wait_, [this] { return closing_ || queue_.size() >= max_records_; });
        }
        const std::size_t n = std::min(queue_.size(), max_records_);
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      work_(batch);
    }
  }

  Work work_;
  const std::size_t max_records_;
  const std::chrono::milliseconds max_wait_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<ConsumedRecord> queue_;
  bool closing_ = false;
  std::thread thread_;
};

} // namespace fte::kafka::detail
