#include "fte/kafka/dlq.hpp"

#include <gtest/gtest.h>

namespace fte::kafka {
namespace {

int count_headers(const events::Headers& headers, std::string_view name) {
  int n = 0;
  for (const auto& h : headers)
    n += h.name == name ? 1 : 0;
  return n;
}

ConsumedRecord ticket_record() {
  ConsumedRecord original;
  original.topic = "fte.tickets.incoming";
  original.partition = 7;
  original.offset = 1234;
  original.key = "customer-1";
  original.value = R"({"specversion":"1.0"})";
  original.headers = {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                      {"correlation_id", "c-1"}};
  return original;
}

TEST(Dlq, KeepsTheOriginalAndAddsTheContractHeaders) {
  const auto original = ticket_record();
  const auto record = make_dlq_record(
      original, DeadLetter{DlqReason::retries_exhausted, "db down", 5, "agent-worker", "fte.agent-worker"}, "fte.dlq");
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
  EXPECT_EQ(events::find_header(record.headers, "dlq.group"), "fte.agent-worker");
  EXPECT_EQ(events::find_header(record.headers, "dlq.reason"), "retries_exhausted");
}

TEST(Dlq, WritesEachReasonAsItsStableCode) {
  const auto original = ticket_record();
  for (const auto& [reason, code] :
       {std::pair{DlqReason::invalid_event, "invalid_event"}, std::pair{DlqReason::poison, "poison"},
        std::pair{DlqReason::retries_exhausted, "retries_exhausted"}}) {
    const auto record = make_dlq_record(original, DeadLetter{reason, "x", 1, "svc", "g"}, "fte.dlq");
    EXPECT_EQ(events::find_header(record.headers, "dlq.reason"), code);
    EXPECT_EQ(parse_dlq_reason(code), reason);
  }
  EXPECT_FALSE(parse_dlq_reason("Poison").has_value());
  EXPECT_FALSE(parse_dlq_reason("").has_value());
}

TEST(Dlq, ReplacesStaleDlqHeadersOnASecondFailure) {
  ConsumedRecord original;
  original.topic = "fte.escalations";
  original.headers = {{"dlq.error", "old"},       {"dlq.attempts", "5"},   {"dlq.reason", "poison"},
                      {"dlq.group", "old-group"}, {"correlation_id", "c"}, {"redrive.count", "2"}};
  const auto record = make_dlq_record(
      original, DeadLetter{DlqReason::retries_exhausted, "new", 1, "escalation", "fte.escalation"}, "fte.dlq");
  for (const auto* name : {"dlq.error", "dlq.attempts", "dlq.reason", "dlq.group", "dlq.original.topic"})
    EXPECT_EQ(count_headers(record.headers, name), 1) << name;
  EXPECT_EQ(events::find_header(record.headers, "dlq.error"), "new");
  EXPECT_EQ(events::find_header(record.headers, "dlq.reason"), "retries_exhausted");
  EXPECT_EQ(events::find_header(record.headers, "dlq.group"), "fte.escalation");
  // The re-drive count survives the second trip to the DLQ.
  EXPECT_EQ(events::find_header(record.headers, "redrive.count"), "2");
}

TEST(Dlq, WritesTheErrorOnOneLine) {
  const auto record = make_dlq_record(ticket_record(),
                                      DeadLetter{DlqReason::retries_exhausted,
                                                 "ERROR:  refused\nCONTEXT:  PL/pgSQL function f() line 3 at RAISE\r\n",
                                                 5, "agent-worker", "g"},
                                      "fte.dlq");
  EXPECT_EQ(events::find_header(record.headers, "dlq.error"),
            "ERROR:  refused CONTEXT:  PL/pgSQL function f() line 3 at RAISE");
}

TEST(Dlq, KeepsANullKeyNull) {
  ConsumedRecord original;
  const auto record = make_dlq_record(original, DeadLetter{}, "fte.dlq");
  EXPECT_FALSE(record.key.has_value());
}

// The DLQ record of a re-driven ticket record that failed again as poison.
ProducerRecord failed_again(const std::string& redrive_count, const std::string& redrive_id, int attempts) {
  auto original = ticket_record();
  original.headers.push_back({"redrive.count", redrive_count});
  original.headers.push_back({"redrive.id", redrive_id});
  return make_dlq_record(
      original, DeadLetter{DlqReason::poison, "poison: bad", attempts, "agent-worker", "fte.agent-worker"}, "fte.dlq");
}

TEST(Dlq, ReadsItsOwnHeadersBack) {
  const auto record = failed_again("3", "r-1", 2);
  const auto read = read_dlq_headers(record.headers);
  EXPECT_EQ(read.original_topic, "fte.tickets.incoming");
  EXPECT_EQ(read.original_partition, 7);
  EXPECT_EQ(read.original_offset, 1234);
  EXPECT_EQ(read.error, "poison: bad");
  EXPECT_EQ(read.attempts, 2);
  EXPECT_EQ(read.service, "agent-worker");
  EXPECT_EQ(read.group, "fte.agent-worker");
  EXPECT_EQ(read.reason, DlqReason::poison);
  EXPECT_FALSE(read.reason_inferred);
  EXPECT_EQ(read.redrive_count, 3);
  EXPECT_EQ(read.redrive_id, "r-1");
}

TEST(Dlq, InfersTheReasonOfRecordsWrittenBeforeDlqReasonExisted) {
  const auto reason_of = [](const std::string& error) {
    const auto read = read_dlq_headers({{"dlq.error", error}, {"dlq.original.offset", "x12"}});
    EXPECT_TRUE(read.reason_inferred);
    EXPECT_FALSE(read.original_offset.has_value()) << "not a number";
    EXPECT_TRUE(read.group.empty());
    return read.reason;
  };
  EXPECT_EQ(reason_of("poison: invalid envelope: value is not valid JSON"), DlqReason::invalid_event);
  EXPECT_EQ(reason_of("poison: schema violation: /data: required"), DlqReason::invalid_event);
  EXPECT_EQ(reason_of("poison: agent-worker does not handle event type 'x.v1'"), DlqReason::invalid_event);
  EXPECT_EQ(reason_of("poison: permanent database error (SQLSTATE 23514): ..."), DlqReason::poison);
  EXPECT_EQ(reason_of("connection reset"), DlqReason::retries_exhausted);
}

TEST(Dlq, ARedriveGoesBackToItsPlaceWithoutDlqHeaders) {
  const auto original = ticket_record();
  const auto dead = failed_again("1", "old-run", 1);
  ConsumedRecord in_dlq;
  in_dlq.topic = "fte.dlq";
  in_dlq.partition = 7;
  in_dlq.offset = 40;
  in_dlq.key = dead.key;
  in_dlq.value = dead.value;
  in_dlq.headers = dead.headers;

  const auto redriven = make_redrive_record(in_dlq, 2, "run-2");
  EXPECT_EQ(redriven.topic, "fte.tickets.incoming");
  EXPECT_EQ(redriven.partition, 7);
  EXPECT_EQ(redriven.key, original.key);
  EXPECT_EQ(redriven.value, original.value);
  for (const auto& h : redriven.headers)
    EXPECT_FALSE(h.name.starts_with("dlq.")) << h.name;
  EXPECT_EQ(events::find_header(redriven.headers, "traceparent"), original.headers[0].value);
  EXPECT_EQ(events::find_header(redriven.headers, "correlation_id"), "c-1");
  EXPECT_EQ(count_headers(redriven.headers, "redrive.count"), 1);
  EXPECT_EQ(events::find_header(redriven.headers, "redrive.count"), "2");
  EXPECT_EQ(count_headers(redriven.headers, "redrive.id"), 1);
  EXPECT_EQ(events::find_header(redriven.headers, "redrive.id"), "run-2");
}

TEST(Dlq, RefusesToRedriveARecordWithoutAnOrigin) {
  ConsumedRecord stray;
  stray.topic = "fte.dlq";
  stray.headers = {{"dlq.error", "x"}};
  EXPECT_THROW((void)make_redrive_record(stray, 1, "r"), std::invalid_argument);
}

} // namespace
} // namespace fte::kafka
