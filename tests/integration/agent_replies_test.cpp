// The agent-worker's handler against the real database: the reply row is
// the reply outbox (written with the ticket's state, carrying what the
// dispatcher needs, announced by NOTIFY after COMMIT), email conversations
// follow their Gmail thread, and a batch may mix ticket messages and
// delivery statuses (ADR 0010).
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "agent_handler.hpp"
#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/pg/pool.hpp"
#include "fte/runtime/exactly_once.hpp"
#include "fte/testing/openai_simulator.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

class Counter final : public pqxx::notification_receiver {
public:
  Counter(pqxx::connection_base& c, const std::string& channel) : pqxx::notification_receiver(c, channel) {}
  void operator()(const std::string&, int) override { ++received; }
  int received = 0;
};

class AgentRepliesTest : public ::testing::Test {
protected:
  AgentRepliesTest() {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO customers (id) VALUES ($1)", customer);
    tx.commit();
  }

  // An inbound event as the normalizer writes it.
  struct Input {
    kafka::ConsumedRecord record;
    events::CloudEvent event;
  };
  Input ticket_message(const std::string& channel, const std::string& body, nlohmann::json metadata,
                       const std::string& subject = {}) {
    Input in;
    const bool email = channel != "whatsapp";
    nlohmann::json data = {
        {"customer_id", customer},
        {"channel", channel},
        {"sender", {{"kind", email ? "email" : "phone"}, {"address", email ? "ada@example.com" : "+15551234567"}}},
        {"body", body},
        {"received_at", format_rfc3339(std::chrono::system_clock::now())},
        {"source_event_id", random_uuid()},
        {"source_topic", "fte.channels." + channel + ".inbound"},
        {"channel_metadata", std::move(metadata)}};
    if (!subject.empty()) data["subject"] = subject;
    in.event = events::make_origin_event(EventId(random_uuid()), "/fte/channel-normalizer",
                                         "fte.ticket.message.received.v1", data);
    in.event.customerid = customer;
    in.record.topic = "tickets";
    in.record.key = customer;
    return in;
  }
  Input delivery_status(const std::string& sid, const std::string& status) {
    Input in;
    in.event = events::make_origin_event(event_id_from_provider("twilio-status", sid + ":" + status),
                                         "/fte/channel-normalizer", "fte.message.delivery.updated.v1",
                                         {{"customer_id", customer},
                                          {"provider", "twilio"},
                                          {"provider_message_id", sid},
                                          {"status", status},
                                          {"reported_at", format_rfc3339(std::chrono::system_clock::now())},
                                          {"source_event_id", random_uuid()}});
    in.record.topic = "tickets";
    in.record.key = customer;
    return in;
  }

  // AgentHandler::apply in one committed transaction, as the consumer runs
  // it (the fixture's handler unless another is given).
  runtime::Outputs apply(const std::vector<const Input*>& inputs, const agent::AgentHandler* with = nullptr) {
    const auto& h = with != nullptr ? *with : handler;
    std::vector<kafka::Delivery> deliveries;
    for (const auto* in : inputs)
      deliveries.push_back(kafka::Delivery{in->record, in->event, 1, logger});
    std::vector<const kafka::Delivery*> fresh;
    for (const auto& d : deliveries)
      fresh.push_back(&d);
    pqxx::connection c(db.url());
    h.prepare(c);
    pqxx::work tx(c);
    runtime::Outputs outputs;
    h.apply(tx, fresh, outputs);
    tx.commit();
    return outputs;
  }

  [[nodiscard]] long count(const std::string& sql) const {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<long>();
  }

  agent::AgentOptions options(const std::string& escalations, const std::string& metrics,
                              std::shared_ptr<const agent::LlmAgent> llm = nullptr) const {
    agent::AgentOptions o;
    auto knowledge =
        std::make_shared<knowledge::KnowledgeBase>(db.url(), nullptr, knowledge::KnowledgeOptions{}, logger);
    knowledge->load();
    o.knowledge = std::move(knowledge);
    o.topics = kafka::TopicNames::with_prefix("test.");
    o.topics.escalations = escalations;
    o.topics.metrics_agent = metrics;
    o.llm = std::move(llm);
    return o;
  }

  StackAddresses stack = StackAddresses::from_env();
  ScratchDatabase db{stack};
  Logger logger = test_logger("agent-replies");
  std::string customer = random_uuid();
  agent::AgentHandler handler{options("test.escalations", "test.metrics")};
};

TEST_F(AgentRepliesTest, AnAnswerIsAReplyOutboxRowThatWakesTheDispatcherAfterCommit) {
  pqxx::connection listener(db.url());
  Counter wakes(listener, "fte_replies");
  const nlohmann::json metadata = {{"provider", "twilio"},
                                   {"message_sid", "SMin1"},
                                   {"to", "whatsapp:+14155238886"},
                                   {"messaging_service_sid", "MG1"}};
  const auto in = ticket_message("whatsapp", "How do I reset my password?", metadata);
  apply({&in});

  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  const auto reply = tx.exec1("SELECT status, recipient, channel_metadata -> 'inbound', next_attempt_at IS NOT NULL "
                              "FROM messages WHERE direction = 'outbound'");
  EXPECT_EQ(reply[0].as<std::string>(), "pending");
  EXPECT_EQ(reply[1].as<std::string>(), "+15551234567");
  EXPECT_EQ(nlohmann::json::parse(reply[2].as<std::string>()), metadata);
  EXPECT_TRUE(reply[3].as<bool>()) << "due at once";
  const auto inbound = tx.exec1("SELECT channel_metadata, recipient IS NULL FROM messages WHERE direction = 'inbound'");
  EXPECT_EQ(nlohmann::json::parse(inbound[0].as<std::string>()), metadata);
  EXPECT_TRUE(inbound[1].as<bool>());
  EXPECT_TRUE(eventually(
      [&] {
        listener.get_notifs();
        return wakes.received > 0;
      },
      5s))
      << "the dispatcher's LISTEN hears of the committed reply";
}

TEST_F(AgentRepliesTest, AnEmailContinuesTheConversationOfItsGmailThread) {
  const auto first =
      ticket_message("email", "How do I reset my password?",
                     {{"provider", "gmail"}, {"thread_id", "thread-a"}, {"gmail_message_id", "m1"}}, "Password");
  const auto other_thread =
      ticket_message("email", "Where are my invoices?",
                     {{"provider", "gmail"}, {"thread_id", "thread-b"}, {"gmail_message_id", "m2"}}, "Invoices");
  apply({&first, &other_thread});
  // The customer answers our reply: same Gmail thread.
  const auto answer =
      ticket_message("email", "Thanks, and how do I change my password?",
                     {{"provider", "gmail"}, {"thread_id", "thread-a"}, {"gmail_message_id", "m3"}}, "Re: Password");
  apply({&answer});

  EXPECT_EQ(count("SELECT count(*) FROM conversations"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM conversations WHERE external_thread = 'thread-a'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                  "WHERE c.external_thread = 'thread-a' AND m.direction = 'inbound'"),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                  "WHERE c.external_thread = 'thread-b' AND m.direction = 'inbound'"),
            1);
}

TEST_F(AgentRepliesTest, AMixedBatchAppliesBothKindsAndPublishesEveryOutputInBatchOrder) {
  require_kafka(stack);
  const ScratchTopic escalations(stack, "agent-replies-escalations", 3);
  const ScratchTopic metrics(stack, "agent-replies-metrics", 3);
  const agent::AgentHandler domain(options(escalations.name(), metrics.name()));
  const auto producer = test_producer(stack);
  pg::ConnectionPool pool(db.url(), 2, [&domain](pqxx::connection& c) {
    runtime::ExactlyOnceHandler::prepare(c);
    domain.prepare(c);
  });
  const runtime::ExactlyOnceHandler exactly_once("test-agent", pool, *producer, domain, logger);

  // A reply already sent, whose delivery fails in this batch.
  const auto earlier = ticket_message("whatsapp", "How do I reset my password?", {{"to", "whatsapp:+14155238886"}});
  apply({&earlier});
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec("UPDATE messages SET status = 'queued', provider_message_id = 'SMmixed' WHERE direction = 'outbound'");
    tx.commit();
  }
  const auto failed = delivery_status("SMmixed", "undelivered");
  const auto refund = ticket_message("whatsapp", "I want a refund for my order", {{"to", "whatsapp:+14155238886"}});
  const auto ignored = delivery_status("SMmixed", "sent");
  std::vector<kafka::Delivery> batch;
  for (const auto* in : {&failed, &refund, &ignored})
    batch.push_back(kafka::Delivery{in->record, in->event, 1, logger});
  exactly_once(std::span<const kafka::Delivery>(batch));

  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE provider_message_id = 'SMmixed' AND status = 'undelivered'"), 1);
  const auto escalated = read_topic(
      stack, escalations.name(), [](const auto& read) { return read.size() >= 2; }, 20s);
  ASSERT_EQ(escalated.size(), 2U) << "the failed delivery and the refund, neither lost";
  std::multiset<std::string> reasons;
  for (const auto& record : escalated)
    reasons.insert(nlohmann::json::parse(record.value)["data"]["reason"].get<std::string>());
  EXPECT_EQ(reasons, (std::multiset<std::string>{"delivery_failed", "refund"}));
  EXPECT_EQ(read_topic(
                stack, metrics.name(), [](const auto& read) { return !read.empty(); }, 20s)
                .size(),
            1U);
}

} // namespace
} // namespace fte::testing

namespace fte::testing {
namespace {

// With a model (FTE_LLM=openai, ADR 0019): the reply is in the model's
// words, what it said is stored with the inbound message, a handoff is a
// handover, and what the policy hands over is never sent to the model.
TEST_F(AgentRepliesTest, WithAModelTheReplyIsItsCitedAnswerAndItsOutputIsStored) {
  OpenAiSimulator sim;
  agent::LlmSettings settings;
  settings.enabled = true;
  settings.api.base_url = sim.v1();
  settings.model = "fte-sim";
  const agent::AgentHandler with_model(
      options("test.escalations", "test.metrics", std::make_shared<agent::LlmAgent>(settings, nullptr)));
  const nlohmann::json to = {{"to", "whatsapp:+14155238886"}};
  const auto answered = ticket_message("whatsapp", "How do I reset my password?", to);
  const auto handed = ticket_message("whatsapp", "HANDOFF: how do I reset my password?", to);
  const auto refund = ticket_message("whatsapp", "I want a refund for my order", to);
  apply({&answered, &handed, &refund}, &with_model);

  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  // The simulator answers with the first line of the first article it was
  // shown: the seeded reset-password article's title.
  const auto reply =
      tx.exec1("SELECT m.body, kb.slug FROM messages m JOIN knowledge_base kb ON kb.id = m.kb_article_id "
               "WHERE m.direction = 'outbound'");
  const auto title = tx.exec1("SELECT title FROM knowledge_base WHERE slug = 'reset-password'")[0].as<std::string>();
  EXPECT_EQ(reply[0].as<std::string>(), title);
  EXPECT_EQ(reply[1].as<std::string>(), "reset-password");
  const auto stored = [&](const events::CloudEvent& event) {
    const auto row = tx.exec_params1("SELECT agent_output FROM messages WHERE direction = 'inbound' AND "
                                     "source_event_id = $1",
                                     event.id);
    return row[0].is_null() ? nlohmann::json() : nlohmann::json::parse(row[0].as<std::string>());
  };
  const auto out = stored(answered.event);
  EXPECT_EQ(out["outcome"], "answer");
  EXPECT_EQ(out["model"], "fte-sim");
  EXPECT_EQ(out["citations"], nlohmann::json::array({"reset-password"}));
  EXPECT_GT(out["usage"]["prompt_tokens"].get<long>(), 0);
  EXPECT_EQ(stored(handed.event)["outcome"], "handoff");
  EXPECT_TRUE(stored(refund.event).is_null()) << "the policy's handover is not sent to the model";
  EXPECT_EQ(sim.chat_requests().size(), 2U);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM tickets WHERE status = 'escalated'")[0].as<long>(), 2);
}

} // namespace
} // namespace fte::testing
