// `fte replay diff` against the real PostgreSQL: a "live" and a "sandbox"
// scratch database whose rows are written by the agent-worker's and the
// escalation service's own handlers from the same events (a sandbox replay
// keeps the event ids), a `replays` row naming the sandbox, and the built
// `fte` binary run as an engineer runs it. Kafka is needed for the case of
// a message the sandbox was given but did not decide.
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "agent_handler.hpp"
#include "escalation_handler.hpp"
#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/testing/command.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

// One customer message as the normalizer publishes it.
struct Input {
  kafka::ConsumedRecord record;
  events::CloudEvent event;
};

class ReplayDiffTest : public ::testing::Test {
protected:
  ReplayDiffTest() {
    for (const auto* db : {&live, &sandbox}) {
      pqxx::connection c(db->url());
      pqxx::work tx(c);
      tx.exec_params("INSERT INTO customers (id, display_name) VALUES ($1, 'Ada')", customer);
      tx.commit();
    }
    pqxx::connection c(live.url());
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO replays (id, name, target, requested_by, status, selection, topic_prefix, "
                   "database_name, finished_at) VALUES ($1, $2, 'sandbox', 'replay-diff-test', 'done', "
                   "'{\"customers\": [\"ada@example.com\"]}', $3, $4, now())",
                   replay_id, name, topic_prefix, sandbox.name());
    tx.commit();
  }

  const Input& message(const std::string& body) {
    auto in = std::make_unique<Input>();
    const nlohmann::json data = {{"customer_id", customer},
                                 {"channel", "webform"},
                                 {"sender", {{"kind", "email"}, {"address", "ada@example.com"}}},
                                 {"subject", "Question"},
                                 {"body", body},
                                 {"received_at", format_rfc3339(std::chrono::system_clock::now())},
                                 {"source_event_id", random_uuid()},
                                 {"source_topic", "fte.channels.webform.inbound"},
                                 {"channel_metadata", nlohmann::json::object()}};
    in->event = events::make_origin_event(EventId(random_uuid()), "/fte/channel-normalizer",
                                          "fte.ticket.message.received.v1", data, random_uuid());
    in->event.customerid = customer;
    in->record.topic = "fte.tickets.incoming";
    in->record.key = customer;
    inputs.push_back(std::move(in));
    return *inputs.back();
  }

  // What the pipeline stores for `messages`: the agent-worker's handler in
  // one committed transaction, then the escalation service's handler for
  // the escalation requests the agent published, as their consumers run them.
  void run_pipeline(const ScratchDatabase& db, const std::vector<const Input*>& messages) {
    agent::AgentOptions options;
    options.topics = kafka::TopicNames::with_prefix("replay-diff-test.");
    auto knowledge =
        std::make_shared<knowledge::KnowledgeBase>(db.url(), nullptr, knowledge::KnowledgeOptions{}, logger);
    knowledge->load();
    options.knowledge = std::move(knowledge);
    const agent::AgentHandler agent_handler(options);
    pqxx::connection c(db.url());
    agent_handler.prepare(c);
    std::vector<kafka::Delivery> deliveries;
    for (const auto* in : messages)
      deliveries.push_back(kafka::Delivery{in->record, in->event, 1, logger});
    std::vector<const kafka::Delivery*> fresh;
    for (const auto& d : deliveries)
      fresh.push_back(&d);
    runtime::Outputs outputs;
    {
      pqxx::work tx(c);
      agent_handler.apply(tx, fresh, outputs);
      tx.commit();
    }

    std::vector<std::unique_ptr<Input>> requests;
    for (const auto& item : outputs.items()) {
      if (item.record.topic != options.topics.escalations) continue;
      auto request = std::make_unique<Input>();
      request->record.topic = item.record.topic;
      request->record.key = item.record.key;
      request->record.value = item.record.value;
      request->record.headers = item.record.headers;
      auto parsed = events::parse_event(item.record.value, item.record.headers);
      ASSERT_TRUE(std::holds_alternative<events::CloudEvent>(parsed)) << item.record.value;
      request->event = std::get<events::CloudEvent>(std::move(parsed));
      requests.push_back(std::move(request));
    }
    if (requests.empty()) return;
    const escalation::EscalationHandler escalation_handler({}, "fte.desk.activity");
    escalation_handler.prepare(c);
    std::vector<kafka::Delivery> escalation_deliveries;
    for (const auto& r : requests)
      escalation_deliveries.push_back(kafka::Delivery{r->record, r->event, 1, logger});
    std::vector<const kafka::Delivery*> escalation_fresh;
    for (const auto& d : escalation_deliveries)
      escalation_fresh.push_back(&d);
    pqxx::work tx(c);
    runtime::Outputs none;
    escalation_handler.apply(tx, escalation_fresh, none);
    tx.commit();
  }

  // Four messages: two answered from reset-password, one from another
  // article, one escalated (a refund).
  std::vector<const Input*> four_messages() {
    reset_1 = &message("How do I reset my password? I forgot it.");
    reset_2 = &message("I need to reset my password please, the old one does not work.");
    invoices = &message("Where can I download my invoices?");
    refund = &message("I was charged twice this month and want a refund for the second charge.");
    return {reset_1, reset_2, invoices, refund};
  }

  [[nodiscard]] CommandResult diff(const std::string& args) const {
    return run_command(FTE_CLI_PATH, "replay diff " + args,
                       {{"FTE_DATABASE_URL", live.url()}, {"FTE_KAFKA_BOOTSTRAP", stack.kafka_bootstrap}});
  }

  static std::map<std::string, nlohmann::json> by_event(const nlohmann::json& report) {
    std::map<std::string, nlohmann::json> out;
    for (const auto& m : report["messages"])
      out[m["source_event_id"].get<std::string>()] = m;
    return out;
  }

  StackAddresses stack = StackAddresses::from_env();
  ScratchDatabase live{stack};
  ScratchDatabase sandbox{stack};
  Logger logger = test_logger("replay-diff");
  std::string customer = random_uuid();
  std::string replay_id = random_uuid();
  std::string name = "diff_" + random_uuid().substr(0, 8);
  // Topics that do not exist unless a test makes them.
  std::string topic_prefix = unique_name("replay-diff-test") + ".fte.sandbox." + name + ".";
  std::vector<std::unique_ptr<Input>> inputs;
  const Input* reset_1 = nullptr;
  const Input* reset_2 = nullptr;
  const Input* invoices = nullptr;
  const Input* refund = nullptr;
};

TEST_F(ReplayDiffTest, AnUnchangedSandboxDecidesEveryMessageTheSame) {
  const auto all = four_messages();
  run_pipeline(live, all);
  run_pipeline(sandbox, all);

  const auto table = diff(name);
  ASSERT_EQ(table.exit_code, 0) << table.out << table.err;
  EXPECT_NE(table.out.find("4 messages: 4 same, 0 changed, 0 only in live, 0 only in sandbox"), std::string::npos)
      << table.out;
  EXPECT_EQ(table.out.find("CHANGED"), std::string::npos) << table.out;
  for (const auto* in : {reset_1, reset_2, invoices, refund})
    EXPECT_NE(table.out.find(in->event.correlationid), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("answered -> answered"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("escalated -> escalated"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("reset-password"), std::string::npos) << table.out;

  const auto json = diff(name + " --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto report = json.json();
  EXPECT_EQ(report["summary"]["messages"], 4);
  EXPECT_EQ(report["summary"]["same"], 4);
  EXPECT_EQ(report["sandbox"]["name"], name);
  EXPECT_EQ(report["sandbox"]["database"], sandbox.name());
  const auto messages = by_event(report);
  ASSERT_EQ(messages.size(), 4U);
  const auto& reset = messages.at(reset_1->event.id);
  EXPECT_EQ(reset["status"], "same");
  EXPECT_EQ(reset["correlation_id"], reset_1->event.correlationid);
  EXPECT_EQ(reset["live"]["outcome"], "answered");
  EXPECT_EQ(reset["live"]["kb_article"]["slug"], "reset-password");
  EXPECT_EQ(reset["sandbox"]["reply"]["text"], reset["live"]["reply"]["text"]);
  const auto& escalated = messages.at(refund->event.id);
  EXPECT_EQ(escalated["live"]["outcome"], "escalated");
  EXPECT_EQ(escalated["live"]["escalation"]["reason"], "refund");
  EXPECT_EQ(escalated["sandbox"]["escalation"]["reason"], "refund");

  EXPECT_EQ(diff(name + " --exit-code").exit_code, 0);
}

TEST_F(ReplayDiffTest, AnEditedArticleInTheSandboxChangesExactlyTheMessagesItAnswered) {
  const auto all = four_messages();
  run_pipeline(live, all);
  {
    // The engineer's edit, in the sandbox only: more about resetting a
    // password ranks the article higher and changes the reply.
    pqxx::connection c(sandbox.url());
    pqxx::work tx(c);
    const auto edited = tx.exec("UPDATE knowledge_base SET body = body || ' Reset password links expire after one "
                                "hour; to reset your password again, ask for a new password reset link.' "
                                "WHERE slug = 'reset-password'");
    ASSERT_EQ(edited.affected_rows(), 1U);
    tx.commit();
  }
  run_pipeline(sandbox, all);

  const auto json = diff(name + " --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto report = json.json();
  EXPECT_EQ(report["summary"]["messages"], 4);
  EXPECT_EQ(report["summary"]["same"], 2);
  EXPECT_EQ(report["summary"]["changed"], 2);
  EXPECT_EQ(report["summary"]["changed_fields"]["reply_text"], 2);
  EXPECT_EQ(report["summary"]["changed_fields"]["score"], 2);
  EXPECT_EQ(report["summary"]["changed_fields"]["outcome"], 0);
  EXPECT_EQ(report["summary"]["changed_fields"]["article"], 0);
  const auto messages = by_event(report);
  for (const auto* in : {reset_1, reset_2}) {
    const auto& m = messages.at(in->event.id);
    EXPECT_EQ(m["status"], "changed") << m.dump(2);
    EXPECT_EQ(m["changed"], nlohmann::json({"score", "reply_text"})) << m.dump(2);
    EXPECT_GT(m["sandbox"]["kb_score"].get<double>(), m["live"]["kb_score"].get<double>() + 1e-4);
    EXPECT_NE(m["sandbox"]["reply"]["text"].get<std::string>().find("links expire after one hour"), std::string::npos);
  }
  EXPECT_EQ(messages.at(invoices->event.id)["status"], "same");
  EXPECT_EQ(messages.at(refund->event.id)["status"], "same");

  const auto table = diff(name);
  ASSERT_EQ(table.exit_code, 0) << table.out << table.err;
  EXPECT_NE(table.out.find("4 messages: 2 same, 2 changed (score 2, reply text 2), 0 only in live, 0 only in sandbox"),
            std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("CHANGED"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("    reply text: differs from character"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("    score: "), std::string::npos) << table.out;

  // --changed-only, --output and --exit-code.
  const auto file = "/tmp/" + unique_name("replay-diff-report") + ".json";
  const auto only = diff(name + " --changed-only --exit-code --output " + shell_quote(file));
  EXPECT_EQ(only.exit_code, 3) << only.out << only.err;
  EXPECT_EQ(only.out.find(invoices->event.correlationid), std::string::npos) << only.out;
  EXPECT_NE(only.out.find(reset_1->event.correlationid), std::string::npos) << only.out;
  std::ifstream written(file);
  ASSERT_TRUE(written.good()) << file;
  const auto saved = nlohmann::json::parse(written);
  std::remove(file.c_str());
  EXPECT_EQ(saved["messages"].size(), 2U);
  EXPECT_EQ(saved["summary"], report["summary"]);
}

TEST_F(ReplayDiffTest, AMessageTheSandboxWasGivenButDidNotDecideIsPending) {
  require_kafka(stack);
  reset_1 = &message("How do I reset my password? I forgot it.");
  const auto& undecided = message("How long does shipping take?");
  run_pipeline(live, {reset_1, &undecided});
  run_pipeline(sandbox, {reset_1});

  // The sandbox's input topic holds both messages; its tables only the first.
  const auto topics = kafka::TopicNames::with_prefix(topic_prefix);
  kafka::ClientSettings settings;
  settings.bootstrap = stack.kafka_bootstrap;
  kafka::TopicAdmin admin(settings, logger, 15s);
  const auto created = admin.ensure({kafka::TopicSpec{topics.tickets_incoming, 3, 1, 1}});
  ASSERT_EQ(created.at(0).state, kafka::TopicOutcome::State::created) << created.at(0).detail;
  struct RemoveTopic {
    kafka::TopicAdmin& admin;
    std::string topic;
    ~RemoveTopic() {
      try {
        admin.remove({topic});
      } catch (...) {
        // Best effort: the prefix is unique to this run.
      }
    }
  } remove_topic{admin, topics.tickets_incoming};
  const auto producer = test_producer(stack);
  for (const auto* in : {reset_1, &undecided}) {
    const auto report = producer->send(kafka::ProducerRecord::from_event(topics.tickets_incoming, customer, in->event));
    ASSERT_TRUE(report.ok()) << report.detail;
  }

  const auto json = diff(name + " --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto report = json.json();
  EXPECT_EQ(report["summary"]["messages"], 2) << report.dump(2);
  EXPECT_EQ(report["summary"]["same"], 1);
  EXPECT_EQ(report["summary"]["pending_in_sandbox"], 1);
  const auto messages = by_event(report);
  const auto& pending = messages.at(undecided.event.id);
  EXPECT_EQ(pending["status"], "pending_in_sandbox");
  EXPECT_EQ(pending["correlation_id"], undecided.event.correlationid);
  EXPECT_EQ(pending["sandbox"]["outcome"], "pending");
  EXPECT_EQ(pending["live"]["outcome"], "answered");

  const auto table = diff(name + " --exit-code");
  EXPECT_EQ(table.exit_code, 3) << table.out << table.err;
  EXPECT_NE(table.out.find("answered -> pending"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("1 pending in the sandbox"), std::string::npos) << table.out;
}

TEST_F(ReplayDiffTest, AnUnknownOrRemovedSandboxIsAUsageError) {
  const auto unknown = diff("no_such_sandbox");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no sandbox named no_such_sandbox"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find(name), std::string::npos) << "lists the sandboxes there are: " << unknown.err;
  {
    pqxx::connection c(live.url());
    pqxx::work tx(c);
    tx.exec_params("UPDATE replays SET status = 'removed' WHERE id = $1", replay_id);
    tx.commit();
  }
  const auto removed = diff(name);
  EXPECT_EQ(removed.exit_code, 2);
  EXPECT_NE(removed.err.find("no sandbox named " + name), std::string::npos) << removed.err;
}

} // namespace
} // namespace fte::testing
