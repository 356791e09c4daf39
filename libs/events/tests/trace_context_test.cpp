#include "fte/events/trace_context.hpp"

#include <gtest/gtest.h>

namespace fte::events {
namespace {

TEST(TraceParent, ParsesTheW3cExample) {
  const auto tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(tp->span_id, "00f067aa0ba902b7");
  EXPECT_TRUE(tp->sampled);
  EXPECT_EQ(tp->to_header(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(TraceParent, RejectsInvalidHeaders) {
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    EXPECT_FALSE(TraceParent::parse(bad)) << bad;
  }
}

TEST(TraceParent, ChildKeepsTraceAndChangesSpan) {
  const auto root = TraceParent::new_root();
  const auto child = root.child();
  EXPECT_EQ(child.trace_id, root.trace_id);
  EXPECT_NE(child.span_id, root.span_id);
  EXPECT_TRUE(TraceParent::parse(child.to_header()));
}

} // namespace
} // namespace fte::events
