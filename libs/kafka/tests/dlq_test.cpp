#include "fte/kafka/dlq.hpp"

#include <gtest/gtest.h>

namespace fte::kafka {
namespace {

TEST(Dlq, KeepsTheOriginalAndAddsTheContractHeaders) {
  ConsumedRecord original;
  original.topic = "fte.tickets.incoming";
  original.partition = 7;
  original.offset = 1234;
  original.key = "customer-1";
  original.value = R"({"specversion":"1.0"})";
  original.headers = {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                      {"correlation_id", "c-1"}};

  const auto record = make_dlq_record(original, "db down", 5, "agent-worker", "fte.dlq");
  EXPECT_EQ(record.topic, "fte.dlq");
  EXPECT_EQ(record.key, original.key);
  EXPECT_EQ(record.value, original.value);
  EXPECT_EQ(events::find_header(record.headers, "traceparent"), original.headers[0].value);
  EXPECT_EQ(events::find_header(record.headers, "correlation_id"), "c-1");
  EXPECT_EQ(events::find_header(record.headers, "dlq.original.topic"), "fte.tickets.incoming");
  EXPECT_EQ(events::find_header(record.headers, "dlq.original.partition"), "7");
  EXPECT_EQ(events::find_header(record.headers, "dlq.original.offset"), "1234");
  EXPECT_EQ(events::find_header(record.headers, "dlq.error"), "db down");
  EXPECT_EQ(events::find_header(record.headers, "dlq.attempts"), "5");
  EXPECT_EQ(events::find_header(record.headers, "dlq.service"), "agent-worker");
}

TEST(Dlq, ReplacesStaleDlqHeadersOnASecondFailure) {
  ConsumedRecord original;
  original.topic = "fte.escalations";
  original.headers = {{"dlq.error", "old"}, {"dlq.attempts", "5"}, {"correlation_id", "c"}};
  const auto record = make_dlq_record(original, "new", 1, "escalation", "fte.dlq");
  int errors = 0;
  for (const auto& h : record.headers)
    errors += h.name == "dlq.error" ? 1 : 0;
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(events::find_header(record.headers, "dlq.error"), "new");
}

TEST(Dlq, KeepsANullKeyNull) {
  ConsumedRecord original;
  const auto record = make_dlq_record(original, "x", 1, "svc", "fte.dlq");
  EXPECT_FALSE(record.key.has_value());
}

} // namespace
} // namespace fte::kafka
