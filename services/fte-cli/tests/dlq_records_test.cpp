#include "dlq_records.hpp"

#include <gtest/gtest.h>

#include "dlq_command.hpp"
#include "fte/common/time.hpp"

namespace fte::cli::dlq {
namespace {

using Vars = std::map<std::string, std::string, std::less<>>;

constexpr const char* kGroup = "fte.agent-worker";
constexpr const char* kOrigin = "fte.tickets.incoming";

std::string event_value(const std::string& id, const std::string& customer_id) {
  auto event = events::make_origin_event(EventId(id), "/fte/test", "fte.ticket.message.received.v1",
                                         {{"body", "hello"}}, "corr-" + id);
  event.customerid = customer_id;
  return events::serialize(event);
}

// A DLQ record of `key` that failed at origin `partition`:`origin_offset`,
// written to the DLQ at `dlq_offset` and `at_ms`.
kafka::ConsumedRecord dlq_record(const std::string& id, const std::string& key, std::int32_t partition,
                                 std::int64_t origin_offset, std::int64_t dlq_offset, std::int64_t at_ms,
                                 kafka::DlqReason reason = kafka::DlqReason::retries_exhausted,
                                 const std::string& group = kGroup) {
  kafka::ConsumedRecord original;
  original.topic = kOrigin;
  original.partition = partition;
  original.offset = origin_offset;
  original.key = key;
  original.value = event_value(id, key);
  const auto produced =
      kafka::make_dlq_record(original, kafka::DeadLetter{reason, "boom", 5, "agent-worker", group}, "fte.dlq");
  kafka::ConsumedRecord in_dlq;
  in_dlq.topic = "fte.dlq";
  in_dlq.partition = partition;
  in_dlq.offset = dlq_offset;
  in_dlq.key = produced.key;
  in_dlq.value = produced.value;
  in_dlq.headers = produced.headers;
  in_dlq.timestamp_ms = at_ms;
  return in_dlq;
}

LaterRecord later(std::int32_t partition, std::int64_t offset, const std::string& key, const std::string& id) {
  return LaterRecord{kOrigin, partition, offset, key, id};
}

Context test_context(Vars vars = {}) {
  return Context{Environment(std::move(vars)), Logger::to_stderr("test", spdlog::level::off)};
}

// Selection flags as typed, by name.
SelectionFlags flags(const std::map<std::string, std::string>& typed) {
  SelectionFlags f;
  const std::map<std::string, std::string*> fields = {
      {"reason", &f.reason}, {"group", &f.group}, {"customer", &f.customer}, {"topic", &f.topic},
      {"from", &f.from},     {"to", &f.to},       {"offsets", &f.offsets},   {"event_id", &f.event_id}};
  for (const auto& [name, value] : typed)
    *fields.at(name) = value;
  return f;
}

// ------------------------------------------------------------ entries

TEST(DlqEntry, ReadsTheEventAndTheDlqHeaders) {
  const auto id = "0b9c6a0e-6a5e-4b43-a3c4-7d0d2b7d1f10";
  const auto e = to_entry(dlq_record(id, "c-1", 3, 40, 7, 1000, kafka::DlqReason::poison));
  EXPECT_EQ(e.event_id, id);
  EXPECT_EQ(e.customer_id, "c-1");
  EXPECT_EQ(e.customer, "c-1");
  EXPECT_EQ(e.correlation_id, std::string("corr-") + id);
  EXPECT_EQ(e.event_type, "fte.ticket.message.received.v1");
  EXPECT_EQ(e.group, kGroup);
  EXPECT_EQ(e.dlq.reason, kafka::DlqReason::poison);
  EXPECT_EQ(e.dlq.original_topic, kOrigin);
  EXPECT_EQ(e.dlq.original_partition, 3);
  EXPECT_EQ(e.dlq.original_offset, 40);
  EXPECT_EQ(e.place(), "3:7");
  EXPECT_FALSE(e.resolved);
}

TEST(DlqEntry, ARecordThatIsNotACloudEventKeepsItsKeyAndHeaders) {
  kafka::ConsumedRecord r;
  r.partition = 0;
  r.offset = 1;
  r.key = "alice@example.com";
  r.value = "this is {not json";
  r.headers = {{"correlation_id", "c-9"},
               {"dlq.error", "poison: invalid envelope: value is not valid JSON"},
               {"dlq.service", "channel-normalizer"}};
  const auto e = to_entry(r);
  EXPECT_TRUE(e.event_id.empty());
  EXPECT_EQ(e.customer, "alice@example.com") << "no customerid: the key";
  EXPECT_EQ(e.correlation_id, "c-9");
  // Written before dlq.group: the service's default group.
  EXPECT_EQ(e.group, "fte.channel-normalizer");
  EXPECT_EQ(e.dlq.reason, kafka::DlqReason::invalid_event);
}

TEST(DlqEntry, ASchemaViolationStillHasItsId) {
  kafka::ConsumedRecord r;
  r.value = R"({"id":"e-1","type":"fte.x.v1","customerid":"c-2"})";
  const auto e = to_entry(r);
  EXPECT_EQ(e.event_id, "e-1");
  EXPECT_EQ(e.customer, "c-2");
}

// ------------------------------------------------------------ selection

TEST(DlqSelection, EveryCriterionMustHold) {
  const auto e = to_entry(dlq_record("11111111-1111-4111-8111-111111111111", "c-1", 2, 10, 5, 10'000));
  Selection none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.matches(e));

  Selection by_reason;
  by_reason.reason = kafka::DlqReason::retries_exhausted;
  EXPECT_FALSE(by_reason.empty());
  EXPECT_TRUE(by_reason.matches(e));
  by_reason.reason = kafka::DlqReason::poison;
  EXPECT_FALSE(by_reason.matches(e));

  Selection by_group;
  by_group.group = "fte.escalation";
  EXPECT_FALSE(by_group.matches(e));

  Selection by_topic;
  by_topic.topic = kOrigin;
  EXPECT_TRUE(by_topic.matches(e));
  by_topic.topic = "fte.escalations";
  EXPECT_FALSE(by_topic.matches(e));

  Selection by_time;
  by_time.from = std::chrono::system_clock::time_point(std::chrono::milliseconds(10'000));
  by_time.to = std::chrono::system_clock::time_point(std::chrono::milliseconds(10'000));
  EXPECT_TRUE(by_time.matches(e)) << "both ends included";
  by_time.from = std::chrono::system_clock::time_point(std::chrono::milliseconds(10'001));
  EXPECT_FALSE(by_time.matches(e));

  Selection by_offsets;
  by_offsets.offsets = parse_offset_ranges("2:0-4,2:6-");
  EXPECT_FALSE(by_offsets.matches(e));
  by_offsets.offsets = parse_offset_ranges("1:5,2:5");
  EXPECT_TRUE(by_offsets.matches(e));

  Selection by_id;
  by_id.event_id = "11111111-1111-4111-8111-111111111111";
  EXPECT_TRUE(by_id.matches(e));
  by_id.event_id = "other";
  EXPECT_FALSE(by_id.matches(e));
}

TEST(DlqSelection, ACustomerMatchesByAnyOfItsKeysOrItsId) {
  Selection by_customer;
  by_customer.customer = CustomerKeys{"c-1", {"ada@example.com"}, {"+15551234567"}};
  EXPECT_TRUE(by_customer.matches(to_entry(dlq_record("e1", "c-1", 0, 1, 1, 1))));
  auto by_email = dlq_record("e2", "ada@example.com", 0, 1, 1, 1);
  by_email.value = R"({"id":"e2"})";
  EXPECT_TRUE(by_customer.matches(to_entry(by_email)));
  EXPECT_TRUE(by_customer.matches(to_entry(dlq_record("e3", "+15551234567", 0, 1, 1, 1))));
  EXPECT_FALSE(by_customer.matches(to_entry(dlq_record("e4", "c-2", 0, 1, 1, 1))));
}

TEST(DlqSelection, RejectsBadInputAsUsageErrors) {
  const auto context = test_context();
  const auto usage_error = [&](const SelectionFlags& typed) {
    try {
      (void)make_selection(context, typed, nullptr);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(usage_error(flags({{"reason", "broken"}})).find("invalid_event, poison or retries_exhausted"),
            std::string::npos);
  EXPECT_NE(usage_error(flags({{"topic", "fte.nowhere"}})).find("unknown topic 'fte.nowhere'"), std::string::npos);
  EXPECT_NE(usage_error(flags({{"from", "-1h"}, {"to", "-2h"}})).find("time range is inverted"), std::string::npos);
  EXPECT_NE(usage_error(flags({{"from", "yesterday"}})).find("--from"), std::string::npos);
  EXPECT_NE(usage_error(flags({{"offsets", "3:9-1"}})).find("--offsets"), std::string::npos);
}

TEST(DlqSelection, NamesTheOriginTopicAsDeployed) {
  const auto context = test_context({{"FTE_TOPIC_PREFIX", "t1."}});
  EXPECT_EQ(make_selection(context, flags({{"topic", "fte.tickets.incoming"}}), nullptr).topic,
            "t1.fte.tickets.incoming");
  EXPECT_EQ(make_selection(context, flags({{"topic", "t1.fte.tickets.incoming"}}), nullptr).topic,
            "t1.fte.tickets.incoming");
  const auto json =
      make_selection(context, flags({{"reason", "poison"}, {"from", "2026-11-24T09:00:00Z"}}), nullptr).to_json();
  EXPECT_EQ(json, (nlohmann::json{{"reason", "poison"}, {"from", "2026-11-24T09:00:00.000Z"}}));
}

// ------------------------------------------------------------ overtaking

class Overtaking : public ::testing::Test {
protected:
  // The customer's record at origin 0:10 waits in the DLQ; the group has
  // committed up to 20 on partition 0.
  void SetUp() override {
    entries.push_back(to_entry(dlq_record("waiting", "k", 0, 10, 0, 1000)));
    progress.committed[{kGroup, kOrigin, 0}] = 20;
  }
  std::vector<Entry> entries;
  GroupProgress progress;
};

TEST_F(Overtaking, ALaterRecordOfTheKeyBelowTheCommitOvertook) {
  const auto found = find_overtaken(entries, entries, {later(0, 15, "k", "next")}, progress);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found.at(0), std::vector<LaterRecord>{later(0, 15, "k", "next")});
}

TEST_F(Overtaking, ALaterRecordPastTheCommitCountsOnlyWhenProcessed) {
  EXPECT_TRUE(find_overtaken(entries, entries, {later(0, 25, "k", "next")}, progress).empty());
  progress.processed.insert({kGroup, "next"});
  EXPECT_EQ(find_overtaken(entries, entries, {later(0, 25, "k", "next")}, progress).size(), 1U);
}

TEST_F(Overtaking, OtherKeysPartitionsGroupsAndEarlierRecordsDoNot) {
  const std::vector<LaterRecord> others = {later(0, 15, "other-key", "a"), later(1, 15, "k", "b"),
                                           later(0, 5, "k", "c"), later(0, 10, "k", "d")};
  EXPECT_TRUE(find_overtaken(entries, entries, others, progress).empty());
  // Another group's progress says nothing about this group.
  GroupProgress elsewhere;
  elsewhere.committed[{"fte.escalation", kOrigin, 0}] = 20;
  elsewhere.processed.insert({"fte.escalation", "next"});
  EXPECT_TRUE(find_overtaken(entries, entries, {later(0, 15, "k", "next")}, elsewhere).empty());
}

TEST_F(Overtaking, ALaterRecordWaitingInTheDlqTooDidNotOvertake) {
  entries.push_back(to_entry(dlq_record("also-waiting", "k", 0, 15, 1, 2000)));
  const auto found = find_overtaken(entries, entries, {later(0, 15, "k", "also-waiting")}, progress);
  EXPECT_TRUE(found.empty()) << "below the commit, but dead-lettered, not processed";
  // Once that one was re-driven and processed (resolved), it did overtake.
  entries[1].resolved = true;
  EXPECT_EQ(find_overtaken(entries, entries, {later(0, 15, "k", "also-waiting")}, progress).size(), 1U);
}

TEST_F(Overtaking, ARedriveOfTheRecordItselfIsNotALaterMessage) {
  EXPECT_TRUE(find_overtaken(entries, entries, {later(0, 15, "k", "waiting")}, progress).empty());
}

TEST_F(Overtaking, AResolvedRecordIsNeverFlagged) {
  entries[0].resolved = true;
  EXPECT_TRUE(find_overtaken(entries, entries, {later(0, 15, "k", "next")}, progress).empty());
}

// ------------------------------------------------------------ list rows

TEST(DlqSummary, GroupsByTopicGroupReasonCustomerAndCountsOvertakers) {
  std::vector<Entry> entries;
  entries.push_back(to_entry(dlq_record("a1", "cust-a", 0, 10, 0, 3000)));
  entries.push_back(to_entry(dlq_record("a2", "cust-a", 0, 11, 1, 1000)));
  entries.push_back(to_entry(dlq_record("a3", "cust-a", 0, 12, 2, 2000, kafka::DlqReason::poison)));
  entries.push_back(to_entry(dlq_record("b1", "cust-b", 1, 10, 0, 500)));
  entries.push_back(to_entry(dlq_record("c1", "cust-c", 2, 10, 0, 700)));
  entries.back().resolved = true;
  // cust-a's later record 0:20 overtook both a1 and a2 (counted once);
  // cust-b's 1:30 and 1:31 overtook b1.
  const std::map<std::size_t, std::vector<LaterRecord>> overtaken = {
      {0, {later(0, 20, "cust-a", "x")}},
      {1, {later(0, 20, "cust-a", "x")}},
      {3, {later(1, 30, "cust-b", "y"), later(1, 31, "cust-b", "z")}}};
  const auto summary = summarize(entries, overtaken);
  ASSERT_EQ(summary.rows.size(), 4U);
  const auto& a = summary.rows[0];
  EXPECT_EQ(a.customer, "cust-a");
  EXPECT_EQ(a.reason, "poison");
  EXPECT_EQ(a.count, 1U);
  EXPECT_EQ(a.overtaken_by, 0U);
  const auto& a_retries = summary.rows[1];
  EXPECT_EQ(a_retries.reason, "retries_exhausted");
  EXPECT_EQ(a_retries.count, 2U);
  EXPECT_EQ(a_retries.oldest_ms, 1000);
  EXPECT_EQ(a_retries.newest_ms, 3000);
  EXPECT_EQ(a_retries.oldest_place, "0:1");
  EXPECT_EQ(a_retries.overtaken_by, 1U);
  EXPECT_EQ(a_retries.origin_topic, kOrigin);
  EXPECT_EQ(a_retries.group, kGroup);
  EXPECT_EQ(summary.rows[2].customer, "cust-b");
  EXPECT_EQ(summary.rows[2].overtaken_by, 2U);
  EXPECT_EQ(summary.rows[3].customer, "cust-c");
  EXPECT_TRUE(summary.rows[3].resolved);
  EXPECT_EQ(summary.records, 5U);
  EXPECT_EQ(summary.resolved_records, 1U);
  EXPECT_EQ(summary.overtaken_customers, 2U);
  EXPECT_EQ(summary.overtaking_records, 3U);
}

// ------------------------------------------------------------ payloads

TEST(DlqPayload, JsonIsIndentedAndTextIsEscaped) {
  const auto json = pretty_payload(R"({"a":[1,2],"b":"x"})");
  EXPECT_TRUE(json.is_json);
  EXPECT_EQ(json.text, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"x\"\n}");
  const auto text = pretty_payload("line 1\nta\tb\\ \x01 \xff caf\xc3\xa9 \xe2\x82");
  EXPECT_FALSE(text.is_json);
  EXPECT_EQ(text.text, "line 1\nta\\tb\\\\ \\x01 \\xff caf\xc3\xa9 \\xe2\\x82");
}

TEST(DlqPayload, AHeaderIsShownOnOneLine) {
  EXPECT_EQ(escape_text("ERROR: x\nCONTEXT: y", /*one_line=*/true), "ERROR: x\\nCONTEXT: y");
  EXPECT_EQ(escape_text("ERROR: x\nCONTEXT: y"), "ERROR: x\nCONTEXT: y");
}

TEST(DlqPayload, OverlongAndSurrogateSequencesAreEscaped) {
  EXPECT_EQ(escape_text("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(escape_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(escape_text("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
}

} // namespace
} // namespace fte::cli::dlq
