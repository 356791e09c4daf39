// `fte dlq` against the four services on the real stack (issue 9): a message
// the agent-worker cannot store (a trigger in the suite's database refuses
// it) fails on every attempt and lands in the DLQ while the customer's later
// message goes through; `fte dlq list` shows and flags it; a re-drive while
// the cause is still there lands in the DLQ again with its redrive.count;
// once the trigger is dropped a re-drive is processed exactly once, and a
// forced second re-drive changes nothing; dlq_redrives audits every one.
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/kafka/producer.hpp"
#include "fte/testing/command.hpp"
#include "fte/testing/shared_suite.hpp"
#include "fte/testing/suite.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAda = "dlq-ada@example.com";
constexpr const char* kBob = "dlq-bob@example.com";
constexpr const char* kActor = "dlq-e2e-test";

// What breaks on purpose: the agent-worker's insert of an inbound message
// whose body says BREAK-ME raises (SQLSTATE P0001: neither transient nor
// permanent, so every attempt fails and the record runs out of retries).
constexpr const char* kInstallTrigger = R"sql(
CREATE FUNCTION dlq_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refused on purpose by the DLQ test';
END $$;
CREATE TRIGGER dlq_test_refuse BEFORE INSERT ON messages FOR EACH ROW
  WHEN (NEW.direction = 'inbound' AND NEW.body LIKE '%BREAK-ME%') EXECUTE FUNCTION dlq_test_refuse();
)sql";
constexpr const char* kDropTrigger = "DROP TRIGGER dlq_test_refuse ON messages; DROP FUNCTION dlq_test_refuse();";

struct Cli {
  int exit_code = -1;
  std::string out;
  std::string err;
  [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(out, nullptr, false); }
};

std::ostream& operator<<(std::ostream& os, const Cli& cli) {
  return os << "exit " << cli.exit_code << "\nstdout:\n" << cli.out << "\nstderr:\n" << cli.err;
}

class DlqRedrive : public SharedSuiteTest<DlqRedrive> {
public:
  // Few, quick retries: a record that cannot succeed reaches the DLQ in well
  // under a second.
  static std::map<std::string, std::string> suite_env() {
    return {
        {"FTE_RETRY_MAX_ATTEMPTS", "3"}, {"FTE_RETRY_INITIAL_BACKOFF_MS", "20"}, {"FTE_RETRY_MAX_BACKOFF_MS", "100"}};
  }

  static std::string prefix() {
    const auto& dlq = suite->topics().dlq;
    return dlq.substr(0, dlq.size() - std::string("fte.dlq").size());
  }

  static Cli fte(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    std::map<std::string, std::string> base = {{"FTE_KAFKA_BOOTSTRAP", suite->stack().kafka_bootstrap},
                                               {"FTE_DATABASE_URL", suite->database_url()},
                                               {"FTE_TOPIC_PREFIX", prefix()},
                                               {"FTE_ACTOR", kActor}};
    env.insert(base.begin(), base.end()); // the caller's values win
    // stdin from /dev/null: no terminal to confirm on, as in a script.
    std::string line;
    for (const auto& arg : args)
      line += shell_quote(arg) + " ";
    const auto result = run_command(FTE_CLI_PATH, line + "< /dev/null", env);
    return Cli{result.exit_code, result.out, result.err};
  }

  static void sql(const std::string& statements) {
    pqxx::connection c(suite->database_url());
    pqxx::work tx(c);
    tx.exec(statements);
    tx.commit();
  }

  static std::string accepted(const std::string& email, const std::string& message) {
    const auto answer =
        suite->submit({{"name", "DLQ Test"}, {"email", email}, {"subject", "Password"}, {"message", message}});
    EXPECT_EQ(answer.status, 202) << answer.body;
    return answer.json().value("correlation_id", std::string());
  }

  static long outcomes_of(const std::string& correlation) {
    return suite->count("SELECT count(*) FROM messages WHERE direction = 'outbound' AND correlation_id = '" +
                        correlation + "'") +
           suite->count("SELECT count(*) FROM escalations WHERE correlation_id = '" + correlation + "'");
  }

  static std::vector<kafka::ConsumedRecord> dlq_records(std::size_t at_least) {
    std::vector<kafka::ConsumedRecord> records;
    eventually(
        [&] {
          records = read_whole_topic(suite->stack(), suite->topics().dlq);
          return records.size() >= at_least;
        },
        60s);
    return records;
  }
};

TEST_F(DlqRedrive, APoisonRecordRedrivenAfterItsCauseIsFixedIsProcessedOnceAndAudited) {
  sql(kInstallTrigger);
  const auto broken = accepted(kAda, "BREAK-ME How do I reset my password?");
  auto dead = dlq_records(1);
  ASSERT_EQ(dead.size(), 1U) << suite->logs();
  const auto first = dead[0]; // a copy: `dead` is read again below
  EXPECT_EQ(events::find_header(first.headers, "dlq.reason"), "retries_exhausted");
  EXPECT_EQ(events::find_header(first.headers, "dlq.attempts"), "3");
  EXPECT_EQ(events::find_header(first.headers, "dlq.group"), suite->group("agent-worker"));
  EXPECT_EQ(events::find_header(first.headers, "dlq.original.topic"), suite->topics().tickets_incoming);
  const auto first_place = std::to_string(first.partition) + ":" + std::to_string(first.offset);

  // The same customer's next message, and another customer's, go through.
  const auto later = accepted(kAda, "How do I reset my password?");
  const auto other = accepted(kBob, "How do I reset my password?");
  ASSERT_TRUE(eventually([&] { return outcomes_of(later) == 1 && outcomes_of(other) == 1; }, 60s)) << suite->logs();
  ASSERT_TRUE(suite->wait_until_drained(60s)) << suite->logs();
  EXPECT_EQ(outcomes_of(broken), 0);

  pqxx::connection db(suite->database_url());
  const auto ada_id = [&] {
    pqxx::read_transaction tx(db);
    return tx.exec_params1("SELECT customer_id::text FROM customer_identifiers WHERE value = $1", kAda)[0]
        .as<std::string>();
  }();
  const auto event_id = [&] {
    const auto parsed = events::parse_event(first.value, first.headers);
    return std::get<events::CloudEvent>(parsed).id;
  }();

  // list: one unresolved record, and the customer is flagged as overtaken.
  auto listed = fte({"dlq", "list", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed;
  auto list = listed.json();
  ASSERT_EQ(list["rows"].size(), 1U) << listed;
  EXPECT_EQ(list["rows"][0]["origin_topic"], suite->topics().tickets_incoming);
  EXPECT_EQ(list["rows"][0]["group"], suite->group("agent-worker"));
  EXPECT_EQ(list["rows"][0]["reason"], "retries_exhausted");
  EXPECT_EQ(list["rows"][0]["customer"], ada_id);
  EXPECT_EQ(list["rows"][0]["count"], 1);
  EXPECT_EQ(list["rows"][0]["oldest_place"], first_place);
  EXPECT_EQ(list["rows"][0]["overtaken"], true);
  EXPECT_EQ(list["rows"][0]["overtaken_by"], 1);
  EXPECT_EQ(list["overtaken_customers"], 1);
  EXPECT_EQ(list["overtaking_records"], 1);
  const auto table = fte({"dlq", "list"});
  EXPECT_NE(table.out.find("1 customer has later messages processed while an earlier one waits in the DLQ"),
            std::string::npos)
      << table;
  const auto bob_only = fte({"dlq", "list", "--customer", kBob, "--json"});
  EXPECT_EQ(bob_only.json()["rows"].size(), 0U) << bob_only;
  const auto by_email = fte({"dlq", "list", "--customer", kAda, "--reason", "retries_exhausted", "--json"});
  EXPECT_EQ(by_email.json()["rows"].size(), 1U) << by_email;

  // show: why, where from, the payload.
  const auto shown = fte({"dlq", "show", first_place, "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown;
  const auto record = shown.json();
  EXPECT_EQ(record["event_id"], event_id);
  EXPECT_EQ(record["dlq"]["reason"], "retries_exhausted");
  EXPECT_EQ(record["dlq"]["attempts"], 3);
  EXPECT_NE(record["dlq"]["error"].get<std::string>().find("refused on purpose"), std::string::npos) << shown;
  EXPECT_EQ(record["dlq"]["original"]["topic"], suite->topics().tickets_incoming);
  EXPECT_EQ(record["resolved"], false);
  EXPECT_EQ(record["redrive_count"], 0);
  EXPECT_TRUE(record["payload_is_json"].get<bool>());
  EXPECT_NE(record["payload"]["data"].dump().find("BREAK-ME"), std::string::npos) << shown;
  const auto by_id = fte({"dlq", "show", event_id});
  EXPECT_EQ(by_id.exit_code, 0) << by_id;
  EXPECT_NE(by_id.out.find("retries_exhausted"), std::string::npos) << by_id;

  // Scripts must say --yes; a dry run sends nothing.
  const auto unconfirmed = fte({"dlq", "redrive", "--customer", kAda});
  EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed;
  EXPECT_NE(unconfirmed.err.find("--yes"), std::string::npos) << unconfirmed;
  const auto dry = fte({"dlq", "redrive", "--customer", kAda, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry;
  EXPECT_NE(dry.out.find("Dry run"), std::string::npos) << dry;
  EXPECT_EQ(suite->count("SELECT count(*) FROM dlq_redrives"), 0);

  // A re-drive while the cause is still there fails again: back in the DLQ
  // with its redrive.count.
  const auto again = fte({"dlq", "redrive", "--customer", kAda, "--yes", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again;
  ASSERT_EQ(again.json()["redriven"], 1) << again;
  const auto first_run = again.json()["redrive_id"].get<std::string>();
  dead = dlq_records(2);
  ASSERT_EQ(dead.size(), 2U) << suite->logs();
  const auto& second = dead[0].offset > dead[1].offset ? dead[0] : dead[1];
  EXPECT_EQ(events::find_header(second.headers, "redrive.count"), "1");
  EXPECT_EQ(events::find_header(second.headers, "redrive.id"), first_run);
  EXPECT_EQ(events::find_header(second.headers, "dlq.reason"), "retries_exhausted");
  EXPECT_EQ(std::count_if(second.headers.begin(), second.headers.end(),
                          [](const auto& h) { return h.name == "dlq.original.topic"; }),
            1);
  EXPECT_EQ(second.key, first.key);
  EXPECT_EQ(second.value, first.value) << "the original event, id and all";
  EXPECT_EQ(suite->count("SELECT count(*) FROM messages WHERE direction = 'inbound' AND source_event_id = '" +
                         event_id + "'"),
            0);

  // The cause is fixed; the re-drive is processed once.
  sql(kDropTrigger);
  const auto fixed = fte({"dlq", "redrive", "--event-id", event_id, "--yes", "--json"});
  ASSERT_EQ(fixed.exit_code, 0) << fixed;
  EXPECT_EQ(fixed.json()["redriven"], 1) << "one copy per event: " << fixed;
  EXPECT_EQ(fixed.json()["records"][0]["redrive_count"], 2) << fixed;
  ASSERT_TRUE(eventually([&] { return outcomes_of(broken) == 1; }, 60s)) << suite->logs();
  ASSERT_TRUE(suite->wait_until_drained(60s)) << suite->logs();
  const auto inbound_rows =
      "SELECT count(*) FROM messages WHERE direction = 'inbound' AND source_event_id = '" + event_id + "'";
  EXPECT_EQ(suite->count(inbound_rows), 1);
  EXPECT_EQ(outcomes_of(broken), 1);

  // Resolved now: list hides it unless --all, and says so then.
  EXPECT_EQ(fte({"dlq", "list", "--json"}).json()["rows"].size(), 0U);
  const auto all = fte({"dlq", "list", "--all", "--json"}).json();
  ASSERT_EQ(all["rows"].size(), 1U) << all.dump(2);
  EXPECT_EQ(all["rows"][0]["resolved"], true);
  EXPECT_EQ(all["rows"][0]["count"], 2);
  EXPECT_EQ(all["resolved_records"], 2);
  const auto resolved = fte({"dlq", "show", first_place, "--json"}).json();
  EXPECT_EQ(resolved["resolved"], true);
  EXPECT_EQ(resolved["redrives"].size(), 1U) << "re-driven once from the first DLQ record";

  // A second re-drive: skipped as processed, or with --force harmless.
  const auto skipped = fte({"dlq", "redrive", "--event-id", event_id, "--yes"});
  EXPECT_EQ(skipped.exit_code, 0) << skipped;
  EXPECT_NE(skipped.out.find("Already processed: 1"), std::string::npos) << skipped;
  EXPECT_NE(skipped.out.find("Nothing to re-drive"), std::string::npos) << skipped;
  const auto forced = fte({"dlq", "redrive", "--event-id", event_id, "--force", "--yes", "--json"});
  ASSERT_EQ(forced.exit_code, 0) << forced;
  EXPECT_EQ(forced.json()["redriven"], 1) << forced;
  EXPECT_EQ(forced.json()["records"][0]["redrive_count"], 3) << forced;
  const auto forced_offset = forced.json()["records"][0]["new_offset"].get<long>();
  ASSERT_TRUE(eventually(
      [&] {
        const auto committed =
            committed_offsets(suite->stack(), suite->group("agent-worker"), suite->topics().tickets_incoming, 12);
        const auto p = forced.json()["records"][0]["partition"].get<int>();
        return committed.at(p) > forced_offset;
      },
      60s))
      << "the forced re-drive was never consumed\n"
      << suite->logs();
  ASSERT_TRUE(suite->wait_until_drained(60s)) << suite->logs();
  EXPECT_EQ(suite->count(inbound_rows), 1) << "dedup swallowed the second re-drive";
  EXPECT_EQ(outcomes_of(broken), 1);
  EXPECT_EQ(suite->count("SELECT count(*) FROM processed_messages WHERE consumer_group = '" +
                         suite->group("agent-worker") + "' AND message_id = '" + event_id + "'"),
            1);
  EXPECT_EQ(dlq_records(2).size(), 2U) << "nothing new in the DLQ";

  // The audit: one row per re-driven record, counting up.
  pqxx::read_transaction tx(db);
  const auto rows = tx.exec_params(
      "SELECT redrive_count, redriven_by, event_id, consumer_group, reason, origin_topic, new_offset IS NOT NULL, "
      "redrive_id::text, selection->>'force', selection ? 'event_id' FROM dlq_redrives ORDER BY id");
  ASSERT_EQ(rows.size(), 3U);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i][0].as<int>(), i + 1);
    EXPECT_EQ(rows[i][1].as<std::string>(), kActor);
    EXPECT_EQ(rows[i][2].as<std::string>(), event_id);
    EXPECT_EQ(rows[i][3].as<std::string>(), suite->group("agent-worker"));
    EXPECT_EQ(rows[i][4].as<std::string>(), "retries_exhausted");
    EXPECT_EQ(rows[i][5].as<std::string>(), suite->topics().tickets_incoming);
    EXPECT_TRUE(rows[i][6].as<bool>());
  }
  EXPECT_EQ(rows[0][7].as<std::string>(), first_run);
  EXPECT_EQ(rows[0][9].as<bool>(), false) << "selected by customer";
  EXPECT_EQ(rows[1][8].as<std::string>(), "false");
  EXPECT_EQ(rows[2][8].as<std::string>(), "true");
}

TEST_F(DlqRedrive, BadInputExitsWithAClearMessage) {
  const auto unknown_topic = fte({"dlq", "redrive", "--topic", "fte.nowhere", "--yes"});
  EXPECT_EQ(unknown_topic.exit_code, 2) << unknown_topic;
  EXPECT_NE(unknown_topic.err.find("unknown topic 'fte.nowhere'"), std::string::npos) << unknown_topic;

  const auto inverted = fte({"dlq", "list", "--from", "-1h", "--to", "-2h"});
  EXPECT_EQ(inverted.exit_code, 2) << inverted;
  EXPECT_NE(inverted.err.find("time range is inverted"), std::string::npos) << inverted;

  const auto nothing = fte({"dlq", "redrive", "--event-id", "no-such-event", "--yes"});
  EXPECT_EQ(nothing.exit_code, 1) << nothing;
  EXPECT_NE(nothing.err.find("no DLQ record"), std::string::npos) << nothing;

  const auto unselected = fte({"dlq", "redrive", "--yes"});
  EXPECT_EQ(unselected.exit_code, 2) << unselected;
  EXPECT_NE(unselected.err.find("--all"), std::string::npos) << unselected;

  const auto bad_reason = fte({"dlq", "list", "--reason", "flaky"});
  EXPECT_EQ(bad_reason.exit_code, 2) << bad_reason;

  const auto missing = fte({"dlq", "show", "no-such-event"});
  EXPECT_EQ(missing.exit_code, 1) << missing;

  const auto no_broker = fte({"dlq", "list", "--timeout-ms", "2000"}, {{"FTE_KAFKA_BOOTSTRAP", "127.0.0.1:1"}});
  EXPECT_EQ(no_broker.exit_code, 1) << no_broker;
  EXPECT_NE(no_broker.err.find("Kafka at 127.0.0.1:1 is not answering"), std::string::npos) << no_broker;

  // A bare offset found in two DLQ partitions: listed, exit 2. Two records
  // written to two empty partitions both sit at offset 0.
  std::vector<int> empty;
  for (const auto& [partition, end] : end_offsets(suite->stack(), suite->topics().dlq, 12)) {
    if (end == 0 && empty.size() < 2) empty.push_back(partition);
  }
  ASSERT_EQ(empty.size(), 2U);
  const auto producer = test_producer(suite->stack());
  for (const int partition : empty) {
    kafka::ProducerRecord stray;
    stray.topic = suite->topics().dlq;
    stray.partition = partition;
    stray.key = "stray-" + std::to_string(partition);
    stray.value = "not \x01 json";
    stray.headers = {{"dlq.original.topic", suite->topics().escalations}, {"dlq.reason", "invalid_event"}};
    ASSERT_TRUE(producer->send(stray).ok());
  }
  const auto ambiguous = fte({"dlq", "show", "0"});
  EXPECT_EQ(ambiguous.exit_code, 2) << ambiguous;
  for (const int partition : empty)
    EXPECT_NE(ambiguous.err.find(std::to_string(partition) + ":0"), std::string::npos) << ambiguous;
  const auto text = fte({"dlq", "show", std::to_string(empty[0]) + ":0"});
  EXPECT_EQ(text.exit_code, 0) << text;
  EXPECT_NE(text.out.find("not \\x01 json"), std::string::npos) << "escaped, not raw: " << text;
}

} // namespace
} // namespace fte::testing
