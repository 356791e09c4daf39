#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "fte/runtime/outbox.hpp"
#include "fte/runtime/periodic_task.hpp"

namespace fte::runtime {
namespace {

using namespace std::chrono_literals;

events::CloudEvent event(const std::string& id) {
  return events::make_origin_event(EventId(id), "/fte/test", "fte.test.v1", {{"n", id}});
}

TEST(Outputs, NumbersEachSourcesOutputsWhereverTheyFall) {
  // The agent-worker adds ticket messages' outputs, then delivery statuses':
  // one source's outputs need not be next to each other.
  Outputs outputs;
  outputs.add_event("a", "t", "k", event("1"));
  outputs.add_event("b", "t", "k", event("2"));
  outputs.add_event("a", "t", "k", event("3"));
  outputs.add_event("a", "t", "k", event("4"));
  outputs.add_event("b", "t", "k", event("5"));
  std::vector<std::pair<std::string, int>> seen;
  for (const auto& item : outputs.items())
    seen.emplace_back(item.source_event_id, item.seq);
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, int>>{{"a", 0}, {"b", 0}, {"a", 1}, {"a", 2}, {"b", 1}}))
      << "(source, seq) is the outbox's key: never twice";
}

TEST(PeriodicTask, AWakeRunsTheWorkBeforeTheIntervalEnds) {
  std::atomic<int> runs{0};
  PeriodicTask task(1h, [&runs](bool stopping) {
    if (!stopping) ++runs;
  });
  task.wake();
  for (int i = 0; i < 200 && runs == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(runs, 1);
  task.wake();
  task.wake(); // wakes while idle or running are not lost, and do not pile up
  for (int i = 0; i < 200 && runs < 2; ++i)
    std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_GE(runs, 2);
  EXPECT_LE(runs, 3);
}

} // namespace
} // namespace fte::runtime
