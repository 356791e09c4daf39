// The escalation desk (ADR 0021) against the real PostgreSQL and Kafka:
// handovers opening and joining conversations, claims racing, replies sent
// once, stale replies refused, WhatsApp's window, resolutions the agent
// learns from, reopening, round-robin, and every action audited and
// published on fte.desk.activity.
#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "escalation_api.hpp"
#include "escalation_handler.hpp"
#include "fte/access/token_store.hpp"
#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/contracts/validator.hpp"
#include "fte/pg/pool.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using escalation::desk::Answer;
using escalation::desk::Refusal;

const access::Principal kAlice{"alice", access::Role::agent};
const access::Principal kBob{"bob", access::Role::agent};
const access::Principal kSam{"sam", access::Role::supervisor};
constexpr std::string_view kTemplates =
    R"([{"name":"follow_up","content_sid":"HX0123456789abcdef0123456789abcdef","text":"Hello {{1}}, we have news about your request."}])";

// A customer who wrote once on `channel`, as the normalizer and the
// agent-worker leave them: customer, identifier, conversation, ticket and
// the inbound message.
struct Customer {
  std::string id, conversation, ticket, message, address, channel;
};

Customer seed_customer(pqxx::connection& c, const std::string& channel, const std::string& address,
                       const std::string& name) {
  Customer out{random_uuid(), random_uuid(), random_uuid(), random_uuid(), address, channel};
  pqxx::work tx(c);
  tx.exec_params("INSERT INTO customers (id, display_name) VALUES ($1, $2)", out.id, name);
  tx.exec_params("INSERT INTO customer_identifiers (customer_id, kind, value) VALUES ($1, $2, $3)", out.id,
                 channel == "whatsapp" ? "phone" : "email", address);
  tx.exec_params("INSERT INTO conversations (id, customer_id, channel) VALUES ($1, $2, $3)", out.conversation, out.id,
                 channel);
  tx.exec_params("INSERT INTO tickets (id, conversation_id, customer_id, subject, status) "
                 "VALUES ($1, $2, $3, 'Refund', 'escalated')",
                 out.ticket, out.conversation, out.id);
  const auto metadata = channel == "whatsapp" ? R"({"to": "whatsapp:+14155238886", "message_sid": "SM1"})" : "{}";
  tx.exec_params("INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, sender, "
                 "subject, body, status, source_event_id, channel_metadata) "
                 "VALUES ($1, $2, $3, $4, 'inbound', $5, $6, 'Refund', 'I want my money back for order 7', "
                 "'received', $7, $8::jsonb)",
                 out.message, out.conversation, out.ticket, out.id, channel, address, random_uuid(), metadata);
  tx.commit();
  return out;
}

events::CloudEvent escalation_event(const Customer& c, const std::string& reason, const std::string& priority) {
  auto event = events::make_origin_event(EventId(random_uuid()), "/fte/agent-worker", "fte.escalation.requested.v1",
                                         {{"customer_id", c.id},
                                          {"ticket_id", c.ticket},
                                          {"conversation_id", c.conversation},
                                          {"message_id", c.message},
                                          {"reason", reason},
                                          {"priority", priority},
                                          {"channel", c.channel},
                                          {"summary", "I want my money back"},
                                          {"source_event_id", random_uuid()},
                                          {"requested_at", format_rfc3339(std::chrono::system_clock::now())}});
  event.customerid = c.id;
  return event;
}

bool refused_with(const Answer& answer, int status, const std::string& code) {
  const auto* refusal = std::get_if<Refusal>(&answer);
  return refusal != nullptr && refusal->status == status && refusal->code == code;
}

nlohmann::json ok(const Answer& answer) {
  if (const auto* refusal = std::get_if<Refusal>(&answer)) {
    ADD_FAILURE() << "refused: " << refusal->status << " " << refusal->code << ": " << refusal->message;
    return nullptr;
  }
  return std::get<nlohmann::json>(answer);
}

class DeskTest : public ::testing::Test {
protected:
  void SetUp() override {
    require_kafka(stack);
    settings.templates = escalation::desk::parse_templates(kTemplates);
    store = std::make_unique<escalation::desk::DeskStore>(pool, outbox, topic.name(), settings);
  }

  // What the escalation consumer does with a batch of requests.
  runtime::Outputs hand_over(const std::vector<events::CloudEvent>& requests,
                             const escalation::desk::DeskSettings& with = {}) {
    const escalation::EscalationHandler handler(with, topic.name());
    pqxx::connection c(db.url());
    handler.prepare(c);
    std::vector<kafka::ConsumedRecord> records(requests.size());
    std::vector<kafka::Delivery> deliveries;
    const auto logger = test_logger("handler");
    for (std::size_t i = 0; i < requests.size(); ++i)
      deliveries.push_back(kafka::Delivery{records[i], requests[i], 1, logger});
    std::vector<const kafka::Delivery*> fresh;
    for (const auto& d : deliveries)
      fresh.push_back(&d);
    runtime::Outputs outputs;
    pqxx::work tx(c);
    handler.apply(tx, fresh, outputs);
    tx.commit();
    return outputs;
  }

  std::string conversation_of(const Customer& customer) {
    pqxx::read_transaction tx(connection);
    return tx
        .exec_params1("SELECT id::text FROM desk_conversations WHERE customer_id = $1 "
                      "ORDER BY created_at DESC LIMIT 1",
                      customer.id)[0]
        .as<std::string>();
  }

  std::int64_t version_of(const std::string& id) {
    pqxx::read_transaction tx(connection);
    return tx.exec_params1("SELECT version FROM desk_conversations WHERE id = $1", id)[0].as<std::int64_t>();
  }

  StackAddresses stack = StackAddresses::from_env();
  ScratchDatabase db{stack};
  ScratchTopic topic{stack, "desk-activity", 12};
  pqxx::connection connection{db.url()};
  std::unique_ptr<kafka::Producer> producer = test_producer(stack);
  pg::ConnectionPool pool{db.url(), 24, [](pqxx::connection& c) { runtime::Outbox::prepare(c); }};
  runtime::Outbox outbox{"escalation-desk", pool, *producer, test_logger("outbox")};
  escalation::desk::DeskSettings settings;
  std::unique_ptr<escalation::desk::DeskStore> store;
};

TEST_F(DeskTest, AHandoverOpensTheCustomersConversationAndLaterOnesJoinIt) {
  const auto ada = seed_customer(connection, "webform", "ada@example.com", "Ada");
  const auto first = hand_over({escalation_event(ada, "refund", "high")});
  const auto id = conversation_of(ada);
  auto detail = ok(store->conversation(kAlice, id));
  EXPECT_EQ(detail["conversation"]["status"], "open");
  EXPECT_EQ(detail["conversation"]["priority"], "high");
  EXPECT_EQ(detail["conversation"]["version"], 1);
  EXPECT_EQ(detail["conversation"]["reason"], "refund");
  EXPECT_EQ(detail["customer"]["name"], "Ada");
  ASSERT_EQ(detail["messages"].size(), 1U);
  EXPECT_EQ(detail["messages"][0]["body"], "I want my money back for order 7");
  // Due by the seeded high-priority targets: 1 h to the first response.
  const auto created = *parse_rfc3339(detail["conversation"]["created_at"].get<std::string>());
  const auto due = *parse_rfc3339(detail["conversation"]["first_response_due"].get<std::string>());
  EXPECT_NEAR(std::chrono::duration<double>(due - created).count(), 3600.0, 2.0);
  ASSERT_EQ(first.items().size(), 1U);

  // Two more requests in one batch: both join, in order.
  (void)hand_over({escalation_event(ada, "human_requested", "urgent"), escalation_event(ada, "other", "low")});
  detail = ok(store->conversation(kAlice, id));
  EXPECT_EQ(detail["conversation"]["version"], 3);
  EXPECT_EQ(detail["conversation"]["priority"], "urgent"); // raised, never lowered
  EXPECT_EQ(detail["escalations"].size(), 3U);
  ASSERT_EQ(detail["audit"].size(), 3U);
  EXPECT_EQ(detail["audit"][1]["action"], "customer_wrote");
  pqxx::read_transaction tx(connection);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM desk_conversations WHERE customer_id = $1", ada.id)[0].as<int>(), 1);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM escalations WHERE desk_conversation_id = $1", id)[0].as<int>(), 3);
}

TEST_F(DeskTest, TwentyAgentsClaimingAHundredConversationsLeaveEachWithExactlyOneOwner) {
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const auto c =
        seed_customer(connection, "webform", "c" + std::to_string(i) + "@example.com", "C" + std::to_string(i));
    (void)hand_over({escalation_event(c, "refund", "normal")});
    ids.push_back(conversation_of(c));
  }
  std::vector<std::vector<std::string>> won(20);
  std::atomic<int> told_the_owner{0}, other{0};
  std::vector<std::thread> agents;
  for (int a = 0; a < 20; ++a) {
    agents.emplace_back([&, a] {
      const access::Principal me{"agent" + std::to_string(a), access::Role::agent};
      auto order = ids;
      std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(a)));
      for (const auto& id : order) {
        const auto answer = store->claim(me, id);
        if (const auto* refusal = std::get_if<Refusal>(&answer)) {
          (refusal->code == "already_claimed" && refusal->owner.starts_with("agent") ? told_the_owner : other)++;
        } else {
          won[static_cast<std::size_t>(a)].push_back(id);
        }
      }
    });
  }
  for (auto& t : agents)
    t.join();
  std::map<std::string, std::string> winner;
  for (int a = 0; a < 20; ++a) {
    for (const auto& id : won[static_cast<std::size_t>(a)]) {
      EXPECT_TRUE(winner.emplace(id, "agent" + std::to_string(a)).second) << id << " was won twice";
    }
  }
  EXPECT_EQ(winner.size(), 100U);
  EXPECT_EQ(told_the_owner.load(), 100 * 19);
  EXPECT_EQ(other.load(), 0);
  pqxx::read_transaction tx(connection);
  for (const auto& row :
       tx.exec("SELECT id::text, owner, status, (SELECT count(*) FROM desk_audit a "
               "WHERE a.conversation_id = d.id AND a.action = 'claimed') FROM desk_conversations d")) {
    EXPECT_EQ(row[1].as<std::string>(), winner[row[0].as<std::string>()]);
    EXPECT_EQ(row[2].as<std::string>(), "assigned");
    EXPECT_EQ(row[3].as<int>(), 1);
  }
}

TEST_F(DeskTest, FiftyConcurrentRepliesWithOneIdempotencyKeyQueueOneMessage) {
  const auto ada = seed_customer(connection, "webform", "ada@example.com", "Ada");
  (void)hand_over({escalation_event(ada, "refund", "normal")});
  const auto id = conversation_of(ada);
  (void)ok(store->claim(kAlice, id));
  const auto version = version_of(id);
  escalation::desk::ReplyRequest request;
  request.version = version;
  request.body = "We have refunded order 7.";
  std::vector<Answer> answers(50);
  std::vector<std::thread> clicks;
  for (std::size_t i = 0; i < answers.size(); ++i)
    clicks.emplace_back([&, i] { answers[i] = store->reply(kAlice, id, request, "reply-7f3a"); });
  for (auto& t : clicks)
    t.join();
  std::set<std::string> reply_ids;
  int first = 0;
  for (const auto& answer : answers) {
    const auto body = ok(answer);
    if (body.is_null()) continue;
    reply_ids.insert(body["reply"]["id"].get<std::string>());
    first += body["reply"]["replayed"].get<bool>() ? 0 : 1;
  }
  EXPECT_EQ(reply_ids.size(), 1U);
  EXPECT_EQ(first, 1);
  pqxx::read_transaction tx(connection);
  const auto row = tx.exec_params1("SELECT count(*), min(author), min(recipient), min(status), min(subject) "
                                   "FROM messages WHERE customer_id = $1 AND direction = 'outbound'",
                                   ada.id);
  EXPECT_EQ(row[0].as<int>(), 1);
  EXPECT_EQ(row[1].as<std::string>(), "alice");
  EXPECT_EQ(row[2].as<std::string>(), "ada@example.com");
  EXPECT_EQ(row[3].as<std::string>(), "pending");
  EXPECT_EQ(row[4].as<std::string>(), "Re: Refund");
  EXPECT_EQ(tx.exec_params1("SELECT status FROM desk_conversations WHERE id = $1", id)[0].as<std::string>(), "waiting");
  // The same key with other words is refused, not sent.
  request.body = "Something else";
  EXPECT_TRUE(refused_with(store->reply(kAlice, id, request, "reply-7f3a"), 422, "idempotency_key_reused"));
}

TEST_F(DeskTest, AReplyToAConversationThatChangedSinceItsAuthorLookedIsRefusedWithTheChanges) {
  const auto ada = seed_customer(connection, "webform", "ada@example.com", "Ada");
  (void)hand_over({escalation_event(ada, "refund", "normal")});
  const auto id = conversation_of(ada);
  (void)ok(store->claim(kAlice, id));
  const auto seen = version_of(id);
  (void)ok(store->note(kAlice, id, "checking the order")); // a note changes nothing a reply answers
  (void)hand_over({escalation_event(ada, "desk_conversation", "normal")});
  escalation::desk::ReplyRequest request;
  request.version = seen;
  request.body = "Refunded.";
  const auto stale = store->reply(kAlice, id, request, "k1");
  ASSERT_TRUE(refused_with(stale, 409, "conversation_changed"));
  const auto& details = std::get<Refusal>(stale).details;
  ASSERT_EQ(details["changes"].size(), 1U);
  EXPECT_EQ(details["changes"][0]["action"], "customer_wrote");
  EXPECT_EQ(details["version"], version_of(id));
  request.version = version_of(id);
  EXPECT_EQ(ok(store->reply(kAlice, id, request, "k2"))["reply"]["status"], "pending");
  // Only the owner replies; a colleague is told who owns it.
  const auto other = store->reply(kBob, id, request, "k3");
  ASSERT_TRUE(refused_with(other, 409, "not_owner"));
  EXPECT_EQ(std::get<Refusal>(other).owner, "alice");
}

TEST_F(DeskTest, OutsideWhatsAppsWindowOnlyATemplateGoesOut) {
  const auto grace = seed_customer(connection, "whatsapp", "+15551230001", "Grace");
  {
    pqxx::work tx(connection);
    tx.exec_params("UPDATE messages SET created_at = now() - interval '25 hours' WHERE id = $1", grace.message);
    tx.commit();
  }
  (void)hand_over({escalation_event(grace, "human_requested", "normal")});
  const auto id = conversation_of(grace);
  (void)ok(store->claim(kAlice, id));
  const auto detail = ok(store->conversation(kAlice, id));
  ASSERT_EQ(detail["reply_options"]["channels"].size(), 1U);
  EXPECT_FALSE(detail["reply_options"]["channels"][0]["window"]["open"].get<bool>());
  EXPECT_EQ(detail["reply_options"]["templates"][0]["name"], "follow_up");
  escalation::desk::ReplyRequest request;
  request.version = version_of(id);
  request.body = "Hi Grace";
  EXPECT_TRUE(refused_with(store->reply(kAlice, id, request, "a"), 409, "whatsapp_window_closed"));
  request.body.clear();
  request.template_name = "follow_up";
  EXPECT_TRUE(refused_with(store->reply(kAlice, id, request, "b"), 400, "invalid_field")); // {{1}} missing
  request.variables = {{"1", "Grace"}};
  EXPECT_EQ(ok(store->reply(kAlice, id, request, "c"))["reply"]["channel"], "whatsapp");
  pqxx::read_transaction tx(connection);
  const auto row = tx.exec_params1("SELECT body, channel_metadata -> 'template' ->> 'content_sid', "
                                   "channel_metadata -> 'template' -> 'variables' ->> '1', recipient, "
                                   "channel_metadata -> 'inbound' ->> 'to' FROM messages "
                                   "WHERE customer_id = $1 AND direction = 'outbound'",
                                   grace.id);
  EXPECT_EQ(row[0].as<std::string>(), "Hello Grace, we have news about your request.");
  EXPECT_EQ(row[1].as<std::string>(), "HX0123456789abcdef0123456789abcdef");
  EXPECT_EQ(row[2].as<std::string>(), "Grace");
  EXPECT_EQ(row[3].as<std::string>(), "+15551230001");
  EXPECT_EQ(row[4].as<std::string>(), "whatsapp:+14155238886");
}

TEST_F(DeskTest, AResolutionTeachesTheAgentAndTheCustomersNextMessageReopensIt) {
  const auto ada = seed_customer(connection, "webform", "ada@example.com", "Ada");
  (void)hand_over({escalation_event(ada, "refund", "normal")});
  const auto id = conversation_of(ada);
  EXPECT_TRUE(refused_with(store->resolve(kAlice, id, ""), 409, "not_claimed"));
  (void)ok(store->claim(kAlice, id));
  EXPECT_TRUE(refused_with(store->resolve(kBob, id, ""), 403, "not_owner"));
  EXPECT_TRUE(refused_with(store->resolve(kAlice, id, "no-such-article"), 400, "invalid_field"));
  const auto resolved = ok(store->resolve(kAlice, id, "reset-password"));
  EXPECT_EQ(resolved["conversation"]["status"], "resolved");
  {
    pqxx::read_transaction tx(connection);
    const auto learned = tx.exec1("SELECT e.text, k.slug, e.source, e.created_by FROM kb_examples e "
                                  "JOIN knowledge_base k ON k.id = e.article_id WHERE e.source = 'desk'");
    EXPECT_EQ(learned[0].as<std::string>(), "Refund\nI want my money back for order 7");
    EXPECT_EQ(learned[1].as<std::string>(), "reset-password");
    EXPECT_EQ(learned[3].as<std::string>(), "alice");
    // What the agent-worker asks before answering: this customer is held.
    EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM desk_conversations WHERE customer_id = $1 "
                              "AND status = 'resolved' AND reopen_until > clock_timestamp()",
                              ada.id)[0]
                  .as<int>(),
              1);
    EXPECT_EQ(
        tx.exec_params1("SELECT status FROM escalations WHERE desk_conversation_id = $1", id)[0].as<std::string>(),
        "resolved");
  }
  (void)hand_over({escalation_event(ada, "desk_conversation", "normal")});
  const auto reopened = ok(store->conversation(kAlice, id));
  EXPECT_EQ(reopened["conversation"]["status"], "assigned");
  EXPECT_EQ(reopened["conversation"]["owner"], "alice");
  EXPECT_EQ(reopened["conversation"]["reopened"], 1);
  EXPECT_TRUE(reopened["conversation"]["first_response_at"].is_null());
  // A reply to a resolved conversation reopens it only when the person says so.
  (void)ok(store->resolve(kAlice, id, ""));
  escalation::desk::ReplyRequest request;
  request.version = version_of(id);
  request.body = "One more thing";
  EXPECT_TRUE(refused_with(store->reply(kAlice, id, request, "r1"), 409, "conversation_resolved"));
  request.reopen = true;
  EXPECT_EQ(ok(store->reply(kAlice, id, request, "r2"))["conversation"]["status"], "waiting");
  // Past the window a new message opens a new conversation.
  (void)ok(store->resolve(kAlice, id, ""));
  {
    pqxx::work tx(connection);
    tx.exec_params("UPDATE desk_conversations SET reopen_until = now() - interval '1 second' WHERE id = $1", id);
    tx.commit();
  }
  (void)hand_over({escalation_event(ada, "refund", "normal")});
  EXPECT_NE(conversation_of(ada), id);
}

TEST_F(DeskTest, SupervisorsAssignReleaseAndSeeEverything) {
  const auto ada = seed_customer(connection, "webform", "ada@example.com", "Ada");
  (void)hand_over({escalation_event(ada, "refund", "normal")});
  const auto id = conversation_of(ada);
  EXPECT_TRUE(refused_with(store->assign(kSam, id, "nobody-known"), 422, "unknown_person"));
  (void)access::create_api_token(connection, {"bob", access::Role::agent, "ops", {}});
  EXPECT_EQ(ok(store->assign(kSam, id, "bob"))["conversation"]["owner"], "bob");
  EXPECT_TRUE(refused_with(store->release(kAlice, id), 403, "not_owner"));
  EXPECT_EQ(ok(store->queue(kBob, {}))["conversations"].size(), 1U);
  EXPECT_EQ(ok(store->queue(kAlice, {}))["conversations"].size(), 0U);
  escalation::desk::QueueQuery all;
  all.view = "all";
  EXPECT_TRUE(refused_with(store->queue(kAlice, all), 403, "supervisor_only"));
  EXPECT_EQ(ok(store->queue(kSam, all))["conversations"].size(), 1U);
  EXPECT_EQ(ok(store->release(kSam, id))["conversation"]["status"], "open");
  escalation::desk::QueueQuery unassigned;
  unassigned.view = "unassigned";
  EXPECT_EQ(ok(store->queue(kAlice, unassigned))["conversations"].size(), 1U);
  EXPECT_TRUE(refused_with(store->put_sla(kAlice, {{"urgent", 5, 60}}), 403, "supervisor_only"));
  const auto sla = ok(store->put_sla(kSam, {{"urgent", 5, 60}}));
  EXPECT_EQ(sla["targets"][0]["priority"], "urgent");
  EXPECT_EQ(sla["targets"][0]["first_response_minutes"], 5);
}

TEST_F(DeskTest, TheQueueIsSortedByDueTimeAndPaged) {
  for (int i = 0; i < 5; ++i) {
    const auto c = seed_customer(connection, "webform", "q" + std::to_string(i) + "@example.com", "Q");
    (void)hand_over({escalation_event(c, "refund", i % 2 == 0 ? "low" : "urgent")});
  }
  escalation::desk::QueueQuery query;
  query.view = "all";
  query.limit = 2;
  std::vector<std::string> due;
  std::set<std::string> seen;
  for (int page = 0; page < 3; ++page) {
    const auto answer = ok(store->queue(kSam, query));
    for (const auto& c : answer["conversations"]) {
      due.push_back(c["due_at"].get<std::string>());
      seen.insert(c["id"].get<std::string>());
    }
    if (!answer.contains("next")) break;
    query.after = answer["next"].get<std::string>();
  }
  EXPECT_EQ(seen.size(), 5U);
  EXPECT_TRUE(std::is_sorted(due.begin(), due.end()));
  query = {};
  query.view = "all";
  query.priority = "urgent";
  EXPECT_EQ(ok(store->queue(kSam, query))["conversations"].size(), 2U);
}

TEST_F(DeskTest, RoundRobinGivesANewConversationToTheLeastBusyAgentSignedInLately) {
  {
    pqxx::work tx(connection);
    for (const auto& [name, seen_ago] : {std::pair<std::string, int>{"alice", 1}, {"bob", 2}, {"carol", 120}}) {
      tx.exec_params("INSERT INTO desk_sessions (id, digest, subject, username, display_name, email, role, csrf_token, "
                     "last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $3, $3 || '@desk', 'agent', 'x', "
                     "now() - $4::int * interval '1 minute', now() + interval '1 hour')",
                     random_uuid(), access::new_secret(), name, seen_ago);
    }
    tx.commit();
  }
  escalation::desk::DeskSettings round_robin;
  round_robin.round_robin = true;
  std::map<std::string, int> owners;
  for (int i = 0; i < 4; ++i) {
    const auto c = seed_customer(connection, "webform", "r" + std::to_string(i) + "@example.com", "R");
    (void)hand_over({escalation_event(c, "refund", "normal")}, round_robin);
    ++owners[ok(store->conversation(kSam, conversation_of(c)))["conversation"]["owner"].get<std::string>()];
  }
  // carol was last seen 2 hours ago: offline, given nothing.
  EXPECT_EQ(owners, (std::map<std::string, int>{{"alice", 2}, {"bob", 2}}));
}

TEST_F(DeskTest, EveryActionIsAuditedAndPublishedToTheSchema) {
  const auto ada = seed_customer(connection, "webform", "ada@example.com", "Ada");
  const auto opened = hand_over({escalation_event(ada, "refund", "normal")});
  const auto id = conversation_of(ada);
  (void)ok(store->claim(kAlice, id));
  (void)ok(store->note(kAlice, id, "private"));
  escalation::desk::ReplyRequest request;
  request.version = version_of(id);
  request.body = "Done.";
  (void)ok(store->reply(kAlice, id, request, "x"));
  (void)ok(store->resolve(kAlice, id, ""));
  EXPECT_EQ(store->relay(), "");
  const auto records = read_whole_topic(stack, topic.name());
  const contracts::Validator validator;
  std::vector<std::string> actions;
  for (const auto& record : records) {
    const auto parsed = events::parse_event(record.value, record.headers);
    ASSERT_TRUE(std::holds_alternative<events::CloudEvent>(parsed));
    const auto& event = std::get<events::CloudEvent>(parsed);
    EXPECT_EQ(validator.validate(event), std::nullopt) << record.value;
    EXPECT_EQ(record.key, ada.id);
    EXPECT_EQ(record.value.find("private"), std::string::npos) << "a note's text was published";
    actions.push_back(event.data["action"].get<std::string>());
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"claimed", "noted", "replied", "resolved"}));
  // The consumer's event goes out through its own outbox (the runtime's).
  ASSERT_EQ(opened.items().size(), 1U);
  const auto& record = opened.items()[0].record;
  const auto parsed = std::get<events::CloudEvent>(events::parse_event(record.value, record.headers));
  EXPECT_EQ(validator.validate(parsed), std::nullopt) << record.value;
  EXPECT_EQ(parsed.data["action"], "opened");
  {
    pqxx::read_transaction tx(connection);
    EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM desk_audit WHERE conversation_id = $1", id)[0].as<int>(), 5);
  }
  // Published rows leave the outbox.
  EXPECT_TRUE(eventually(
      [&] {
        pqxx::connection c(db.url());
        pqxx::read_transaction tx(c);
        return tx.exec("SELECT count(*) FROM outbox WHERE consumer_group = 'escalation-desk'")[0][0].as<int>() == 0;
      },
      std::chrono::seconds(10)));
}

TEST_F(DeskTest, EveryDeskRouteWithoutCredentialsIs401AndServesNoCustomerData) {
  const auto ada = seed_customer(connection, "webform", "ada@example.com", "Ada Lovelace");
  (void)hand_over({escalation_event(ada, "refund", "normal")});
  const auto id = conversation_of(ada);
  const escalation::EscalationApi api(pool, escalation::EscalationApi::api_tokens(pool), nullptr, *store,
                                      test_logger("api"));
  const auto agent = access::create_api_token(connection, {"desk-agent", access::Role::agent, "ops", {}});
  using boost::beast::http::verb;
  const std::vector<std::pair<verb, std::string>> routes = {{verb::get, "/api/escalations"},
                                                            {verb::get, "/api/me"},
                                                            {verb::get, "/api/conversations"},
                                                            {verb::get, "/api/conversations/" + id},
                                                            {verb::post, "/api/conversations/" + id + "/claim"},
                                                            {verb::post, "/api/conversations/" + id + "/release"},
                                                            {verb::post, "/api/conversations/" + id + "/assign"},
                                                            {verb::post, "/api/conversations/" + id + "/notes"},
                                                            {verb::post, "/api/conversations/" + id + "/replies"},
                                                            {verb::post, "/api/conversations/" + id + "/resolve"},
                                                            {verb::post, "/api/conversations/" + id + "/reopen"},
                                                            {verb::get, "/api/sla"},
                                                            {verb::put, "/api/sla"}};
  for (const auto& [method, target] : routes) {
    http::Request request{method, target, 11};
    const auto response = api.handle(request);
    EXPECT_EQ(response.result_int(), 401u) << target;
    EXPECT_EQ(response.body().find("Ada"), std::string::npos) << target;
    EXPECT_EQ(response.body().find("money"), std::string::npos) << target;
  }
  // An agent's token on the supervisors' routes: 403, nothing read.
  for (const auto& [method, target, body] : std::vector<std::tuple<verb, std::string, std::string>>{
           {verb::post, "/api/conversations/" + id + "/assign", R"({"to": "desk-agent"})"},
           {verb::put, "/api/sla",
            R"({"targets": [{"priority": "low", "first_response_minutes": 1, "resolution_minutes": 2}]})"},
           {verb::get, "/api/conversations?view=all", ""}}) {
    http::Request request{method, target, 11};
    request.set(boost::beast::http::field::authorization, "Bearer " + agent);
    request.set(boost::beast::http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    const auto response = api.handle(request);
    EXPECT_EQ(response.result_int(), 403u) << target << " " << response.body();
    EXPECT_NE(response.body().find("supervisor_only"), std::string::npos) << response.body();
  }
  http::Request read{verb::get, "/api/conversations/" + id, 11};
  read.set(boost::beast::http::field::authorization, "Bearer " + agent);
  const auto response = api.handle(read);
  EXPECT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_NE(response.body().find("Ada Lovelace"), std::string::npos);
}

} // namespace
} // namespace fte::testing
