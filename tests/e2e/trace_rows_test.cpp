// `fte trace` after messages went through the four services: the topic
// records of a correlation id and, beside them, the rows the services
// stored (ticket, inbound message, reply or escalation); DLQ records with
// their reason and replayed records marked; the records alone when the
// database cannot be read.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "fte/testing/command.hpp"
#include "fte/testing/shared_suite.hpp"
#include "fte/testing/suite.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

class TraceRows : public SharedSuiteTest<TraceRows> {
protected:
  // Submits a form and waits until its reply or escalation is stored.
  static std::string processed(const std::string& email, const std::string& subject, const std::string& message) {
    const auto answer =
        suite->submit({{"name", "Trace Test"}, {"email", email}, {"subject", subject}, {"message", message}});
    EXPECT_EQ(answer.status, 202) << answer.body;
    const auto correlation = answer.json().value("correlation_id", std::string());
    const bool stored = eventually(
        [&] {
          return suite->count("SELECT count(*) FROM messages WHERE direction = 'outbound' AND correlation_id = '" +
                              correlation + "'") +
                     suite->count("SELECT count(*) FROM escalations WHERE correlation_id = '" + correlation + "'") >
                 0;
        },
        60s);
    EXPECT_TRUE(stored) << "nothing stored for " << correlation << "\n" << suite->logs();
    // The row commits before its outputs (the metric event, an escalation
    // request) are published from the outbox: wait until every group has
    // consumed to the end, so the trace sees the whole path.
    EXPECT_TRUE(suite->wait_until_drained(60s)) << suite->logs();
    return correlation;
  }

  // The suite's FTE_TOPIC_PREFIX, read back from one of its topic names.
  static std::string topic_prefix() {
    const auto& topic = suite->topics().tickets_incoming;
    return topic.substr(0, topic.size() - kafka::topics::kTicketsIncoming.size());
  }

  static CommandResult trace(const std::string& correlation, const std::string& flags,
                             const std::string& database_url) {
    return run_command(FTE_CLI_PATH, "trace " + shell_quote(correlation) + " --since-minutes 60 " + flags,
                       {{"FTE_DATABASE_URL", database_url},
                        {"FTE_KAFKA_BOOTSTRAP", suite->stack().kafka_bootstrap},
                        {"FTE_TOPIC_PREFIX", topic_prefix()}});
  }
  static CommandResult trace(const std::string& correlation, const std::string& flags = {}) {
    return trace(correlation, flags, suite->database_url());
  }

  static std::set<std::string> topics_of(const nlohmann::json& records) {
    std::set<std::string> out;
    for (const auto& r : records)
      out.insert(r["topic"].get<std::string>());
    return out;
  }
};

TEST_F(TraceRows, AnAnsweredMessageShowsItsRecordsTicketInboundAndReply) {
  const auto correlation = processed("trace-faq@example.com", "Password", "How do I reset my password?");
  const auto result = trace(correlation, "--json");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const auto out = result.json();
  EXPECT_EQ(out["correlation_id"], correlation);
  const auto topics = topics_of(out["records"]);
  EXPECT_TRUE(topics.contains(suite->topics().webform_inbound)) << out["records"].dump(2);
  EXPECT_TRUE(topics.contains(suite->topics().tickets_incoming)) << out["records"].dump(2);
  EXPECT_TRUE(topics.contains(suite->topics().metrics_agent)) << out["records"].dump(2);

  const auto& rows = out["rows"];
  EXPECT_FALSE(rows.contains("error")) << rows.dump(2);
  ASSERT_EQ(rows["messages"].size(), 1U) << rows.dump(2);
  const auto& m = rows["messages"][0];
  EXPECT_EQ(m["outcome"], "answered");
  EXPECT_EQ(m["ticket"]["status"], "answered");
  EXPECT_EQ(m["inbound"]["correlation_id"], correlation);
  EXPECT_EQ(m["inbound"]["channel"], "webform");
  EXPECT_EQ(m["inbound"]["sender"], "trace-faq@example.com");
  ASSERT_TRUE(m["outbound"].is_object()) << m.dump(2);
  EXPECT_EQ(m["outbound"]["kb_article"]["slug"], "reset-password");
  EXPECT_GE(m["outbound"]["kb_score"].get<double>(), 0.5);
  EXPECT_FALSE(m["outbound"]["status"].get<std::string>().empty());
  EXPECT_TRUE(m["escalations"].empty());
  // The ticket-message record's event id is the inbound row's source event.
  bool matched = false;
  for (const auto& r : out["records"])
    matched = matched || r.value("id", std::string()) == m["source_event_id"].get<std::string>();
  EXPECT_TRUE(matched) << out.dump(2);

  const auto text = trace(correlation);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Rows in PostgreSQL"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("): answered"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("    outbound    "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("kb=#"), std::string::npos) << text.out;
}

TEST_F(TraceRows, AnEscalatedMessageShowsItsEscalationRow) {
  const auto correlation =
      processed("trace-refund@example.com", "Refund", "I was charged twice, I want a refund please.");
  const auto result = trace(correlation, "--json");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const auto out = result.json();
  EXPECT_TRUE(topics_of(out["records"]).contains(suite->topics().escalations)) << out["records"].dump(2);
  ASSERT_EQ(out["rows"]["messages"].size(), 1U) << out["rows"].dump(2);
  const auto& m = out["rows"]["messages"][0];
  EXPECT_EQ(m["outcome"], "escalated");
  EXPECT_EQ(m["ticket"]["status"], "escalated");
  EXPECT_TRUE(m["outbound"].is_null()) << m.dump(2);
  ASSERT_EQ(m["escalations"].size(), 1U) << m.dump(2);
  EXPECT_EQ(m["escalations"][0]["reason"], "refund");
  EXPECT_EQ(m["escalations"][0]["by_agent"], true);

  const auto text = trace(correlation);
  EXPECT_NE(text.out.find("    escalation  "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("reason=refund"), std::string::npos) << text.out;
}

TEST_F(TraceRows, WithoutTheDatabaseTheRecordsAreStillShown) {
  const auto correlation = processed("trace-nodb@example.com", "Invoices", "Where can I download my invoices?");
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  const auto unreachable = "postgresql://fte@127.0.0.1:1/fte";
  const auto result = trace(correlation, "--json", unreachable);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const auto out = result.json();
  EXPECT_FALSE(out["records"].empty());
  ASSERT_TRUE(out["rows"].contains("error")) << out["rows"].dump(2);
  EXPECT_NE(out["rows"]["error"].get<std::string>().find("127.0.0.1"), std::string::npos) << out["rows"].dump(2);

  const auto text = trace(correlation, "", unreachable);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find(suite->topics().tickets_incoming), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("could not be read"), std::string::npos) << text.out;
}

TEST_F(TraceRows, DlqRecordsStandOutAndReplayedRecordsAreMarked) {
  const auto correlation = "trace-dlq-" + random_uuid();
  const auto producer = test_producer(suite->stack());
  // Not an event at all: the agent-worker sends it to the DLQ at once.
  kafka::ProducerRecord broken;
  broken.topic = suite->topics().tickets_incoming;
  broken.key = random_uuid();
  broken.value = "{not json";
  broken.headers = {{"correlation_id", correlation}, {"ce_type", "fte.ticket.message.received.v1"}};
  ASSERT_TRUE(producer->send(broken).ok());
  // A record as a live replay re-publishes it (nobody consumes metrics).
  kafka::ProducerRecord replayed;
  replayed.topic = suite->topics().metrics_agent;
  replayed.key = random_uuid();
  replayed.value = "{}";
  replayed.headers = {{"correlation_id", correlation}, {"replay.of", "original-event-1"}, {"replay.id", "replay-1"}};
  ASSERT_TRUE(producer->send(replayed).ok());

  const auto in_dlq = read_topic(
      suite->stack(), suite->topics().dlq,
      [&](const std::vector<kafka::ConsumedRecord>& records) {
        return std::any_of(records.begin(), records.end(), [&](const kafka::ConsumedRecord& r) {
          return events::find_header(r.headers, "correlation_id") == correlation;
        });
      },
      60s);
  ASSERT_TRUE(std::any_of(in_dlq.begin(), in_dlq.end(), [&](const kafka::ConsumedRecord& r) {
    return events::find_header(r.headers, "correlation_id") == correlation;
  })) << suite->logs();

  const auto result = trace(correlation, "--json");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const auto out = result.json();
  bool dlq = false, replay = false;
  for (const auto& r : out["records"]) {
    if (r["topic"] == suite->topics().dlq) {
      dlq = true;
      EXPECT_FALSE(r["dlq"]["error"].get<std::string>().empty()) << r.dump(2);
      EXPECT_EQ(r["dlq"]["original_topic"], suite->topics().tickets_incoming) << r.dump(2);
      EXPECT_EQ(r["dlq_error"], r["dlq"]["error"]) << "the field --json always had stays";
    }
    if (r.contains("replay")) {
      replay = true;
      EXPECT_EQ(r["replay"]["of"], "original-event-1");
      EXPECT_EQ(r["replay"]["id"], "replay-1");
    }
  }
  EXPECT_TRUE(dlq) << out.dump(2);
  EXPECT_TRUE(replay) << out.dump(2);
  EXPECT_TRUE(out["rows"]["messages"].empty()) << "nothing was stored for it";

  const auto text = trace(correlation);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("    !! DLQ reason="), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("       error: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("[REPLAY of original-event-1, replay replay-1]"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("record(s) of this correlation id are in the DLQ"), std::string::npos) << text.out;
}

TEST_F(TraceRows, NothingFoundIsAFailure) {
  const auto result = trace("trace-nothing-" + random_uuid());
  EXPECT_EQ(result.exit_code, 1) << result.out;
  EXPECT_NE(result.err.find("no record with correlation id"), std::string::npos) << result.err;
}

} // namespace
} // namespace fte::testing
