#include "fte/common/signals.hpp"

#include <csignal>
#include <ctime>

#include <pthread.h>

namespace fte {

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal) : on_signal_(std::move(on_signal)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this, set] {
    // A bounded wait, so the destructor can end the thread without a signal.
    const timespec tick{0, 200'000'000};
    while (!stopping_.load()) {
      const int signal = sigtimedwait(&set, nullptr, &tick);
      if (signal > 0) {
        int expected = 0;
        received_.compare_exchange_strong(expected, signal);
        on_signal_(signal);
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  stopping_ = true;
  thread_.join();
}

} // namespace fte
