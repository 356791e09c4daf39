// The agent-worker's reply dispatcher and delivery statuses against the real
// database and broker, with Twilio's Messages API played by a scripted
// server in this process: each reply goes out at most once, whatever the
// provider answers and whoever died mid-send (ADR 0010).
#include <atomic>
#include <future>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "delivery_updates.hpp"
#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/testing/scripted_http_server.hpp"
#include "fte/testing/stack.hpp"
#include "fte/twilio/whatsapp_reply_sender.hpp"
#include "reply_dispatcher.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOurNumber = "whatsapp:+14155238886";
constexpr const char* kCustomerNumber = "+15551234567";

struct Reply {
  std::string id;
  std::string conversation;
  std::string customer;
  std::string source_event;
};

class ReplyDispatcherTest : public ::testing::Test {
protected:
  void SetUp() override { require_kafka(stack); }

  // A customer who wrote on WhatsApp, the ticket, and our pending answer.
  Reply seed_reply(const std::string& channel = "whatsapp", const std::string& conversation = {},
                   std::chrono::seconds age = 0s) {
    Reply r;
    r.customer = random_uuid();
    r.conversation = conversation.empty() ? random_uuid() : conversation;
    r.source_event = random_uuid();
    r.id = name_based_uuid(kFteNamespace, "message:reply:" + r.source_event);
    const auto ticket = random_uuid();
    const nlohmann::json inbound = {
        {"provider", "twilio"}, {"message_sid", "SMin" + r.source_event.substr(0, 8)}, {"to", kOurNumber}};
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO customers (id) VALUES ($1)", r.customer);
    if (conversation.empty() || tx.exec_params("SELECT 1 FROM conversations WHERE id = $1", r.conversation).empty()) {
      tx.exec_params("INSERT INTO conversations (id, customer_id, channel) VALUES ($1, $2, $3)", r.conversation,
                     r.customer, channel);
    }
    tx.exec_params("INSERT INTO tickets (id, conversation_id, customer_id, status) VALUES ($1, $2, $3, 'answered')",
                   ticket, r.conversation, r.customer);
    tx.exec_params("INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, sender, "
                   "body, status, source_event_id, channel_metadata, created_at) VALUES "
                   "($1, $2, $3, $4, 'inbound', $5, $6, 'How do I reset my password?', 'received', $7, $8::jsonb, "
                   "now() - $9::int * interval '1 second')",
                   name_based_uuid(kFteNamespace, "message:inbound:" + r.source_event), r.conversation, ticket,
                   r.customer, channel, kCustomerNumber, r.source_event, inbound.dump(), static_cast<int>(age.count()));
    tx.exec_params("INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, sender, "
                   "body, status, source_event_id, correlation_id, channel_metadata, recipient, next_attempt_at, "
                   "created_at) VALUES ($1, $2, $3, $4, 'outbound', $5, 'fte-agent', 'Settings > Security > Reset.', "
                   "'pending', $6, $6, $7::jsonb, $8, now() - $9::int * interval '1 second', "
                   "now() - $9::int * interval '1 second')",
                   r.id, r.conversation, ticket, r.customer, channel, r.source_event,
                   nlohmann::json{{"inbound", inbound}}.dump(), kCustomerNumber, static_cast<int>(age.count()));
    tx.commit();
    return r;
  }

  std::unique_ptr<agent::ReplyDispatcher> dispatcher_for(const ScriptedHttpServer& twilio) {
    twilio::MessagesApiOptions api;
    api.api_base_url = twilio.base_url();
    api.account_sid = "AC0123456789abcdef0123456789abcdef";
    api.auth_token = "test-token";
    api.status_callback_url = "https://support.example.com/webhooks/twilio/status";
    api.timeout = 2s;
    senders.add("whatsapp", "twilio", [api] { return std::make_unique<twilio::WhatsAppReplySender>(api); });
    agent::DispatcherOptions options;
    options.outbox_owner = "test.replies";
    options.escalations_topic = escalations.name();
    options.workers = 1;
    options.policy.retry.max_attempts = 3;
    options.policy.retry.initial_backoff = 60'000ms; // a retry is due only when a test says so
    options.policy.retry.max_backoff = 60'000ms;
    options.policy.reconcile_delay = 0ms;
    return std::make_unique<agent::ReplyDispatcher>(options, db.url(), senders, *producer, logger);
  }

  [[nodiscard]] std::string status_of(const std::string& id) const {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    return tx.exec_params1("SELECT status FROM messages WHERE id = $1", id)[0].as<std::string>();
  }
  [[nodiscard]] long count(const std::string& sql) const {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<long>();
  }
  void exec(const std::string& sql) const {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec(sql);
    tx.commit();
  }

  // The escalation requests published so far, as their `data`.
  [[nodiscard]] std::vector<nlohmann::json> escalation_data(std::size_t at_least) const {
    const auto records = read_topic(
        stack, escalations.name(), [at_least](const auto& read) { return read.size() >= at_least; }, 20s);
    std::vector<nlohmann::json> result;
    for (const auto& record : records)
      result.push_back(nlohmann::json::parse(record.value)["data"]);
    return result;
  }

  // Applies fte.message.delivery.updated.v1 events as the agent-worker does.
  runtime::Outputs apply_statuses(const std::vector<std::pair<std::string, std::string>>& sid_and_status,
                                  const std::string& customer, const std::string& error_code = {}) {
    std::vector<kafka::ConsumedRecord> records(sid_and_status.size());
    std::vector<events::CloudEvent> events_in;
    for (const auto& [sid, status] : sid_and_status) {
      nlohmann::json data = {{"customer_id", customer},
                             {"provider", "twilio"},
                             {"provider_message_id", sid},
                             {"status", status},
                             {"reported_at", format_rfc3339(std::chrono::system_clock::now())},
                             {"source_event_id", random_uuid()}};
      if (!error_code.empty()) data["error_code"] = error_code;
      events_in.push_back(events::make_origin_event(event_id_from_provider("test-status", sid + ":" + status),
                                                    "/fte/channel-normalizer", "fte.message.delivery.updated.v1",
                                                    data));
    }
    std::vector<kafka::Delivery> deliveries;
    std::vector<const kafka::Delivery*> fresh;
    for (std::size_t i = 0; i < events_in.size(); ++i)
      deliveries.push_back(kafka::Delivery{records[i], events_in[i], 1, logger});
    for (const auto& d : deliveries)
      fresh.push_back(&d);
    const agent::DeliveryUpdates updates(escalations.name(), nullptr);
    pqxx::connection c(db.url());
    agent::DeliveryUpdates::prepare(c);
    pqxx::work tx(c);
    runtime::Outputs outputs;
    updates.apply(tx, fresh, outputs);
    tx.commit();
    return outputs;
  }

  StackAddresses stack = StackAddresses::from_env();
  ScratchDatabase db{stack};
  ScratchTopic escalations{stack, "replies-escalations", 3};
  Logger logger = test_logger("reply-dispatcher");
  std::unique_ptr<kafka::Producer> producer = test_producer(stack);
  agent::SenderRegistry senders;
};

TEST_F(ReplyDispatcherTest, SendsADueReplyOnceFromTheNumberTheCustomerWroteTo) {
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_created("SM00000000000000000000000000000001"); });
  const auto reply = seed_reply();
  auto dispatcher = dispatcher_for(twilio);

  EXPECT_EQ(dispatcher->run_pass().sends, 1);
  EXPECT_EQ(dispatcher->run_pass().sends, 0) << "nothing is due any more";

  ASSERT_EQ(twilio.count(), 1);
  const auto request = twilio.requests()[0];
  EXPECT_EQ(request.target, "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
  EXPECT_NE(request.body.find("To=whatsapp%3A%2B15551234567"), std::string::npos) << request.body;
  EXPECT_NE(request.body.find("From=whatsapp%3A%2B14155238886"), std::string::npos) << request.body;
  EXPECT_NE(request.body.find("StatusCallback="), std::string::npos) << request.body;

  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  const auto row = tx.exec_params1("SELECT status, provider_message_id, attempts, channel_metadata -> 'sent' ->> "
                                   "'provider', claim_token IS NULL, sent_at IS NOT NULL FROM messages WHERE id = $1",
                                   reply.id);
  EXPECT_EQ(row[0].as<std::string>(), "queued") << "Twilio's status at acceptance";
  EXPECT_EQ(row[1].as<std::string>(), "SM00000000000000000000000000000001");
  EXPECT_EQ(row[2].as<int>(), 1);
  EXPECT_EQ(row[3].as<std::string>(), "twilio");
  EXPECT_TRUE(row[4].as<bool>());
  EXPECT_TRUE(row[5].as<bool>());
  const auto attempt = tx.exec_params1("SELECT kind, outcome, finished_at IS NOT NULL FROM reply_attempts "
                                       "WHERE message_id = $1",
                                       reply.id);
  EXPECT_EQ(attempt[0].as<std::string>(), "send");
  EXPECT_EQ(attempt[1].as<std::string>(), "sent");
  EXPECT_TRUE(attempt[2].as<bool>());
}

TEST_F(ReplyDispatcherTest, ATwilio500AfterAcceptingIsUnknownAndEscalatedNeverSentAgain) {
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_error(500, 20500, "Internal Server Error"); });
  const auto reply = seed_reply();
  auto dispatcher = dispatcher_for(twilio);

  const auto pass = dispatcher->run_pass();
  EXPECT_EQ(pass.sends, 1);
  EXPECT_EQ(pass.reconciliations, 1) << "ambiguous: Twilio is asked (and cannot tell), never sent to again";
  EXPECT_EQ(dispatcher->run_pass().sends, 0);
  EXPECT_EQ(twilio.count(), 1) << "exactly one POST";
  EXPECT_EQ(status_of(reply.id), "unknown");
  EXPECT_EQ(count("SELECT count(*) FROM reply_attempts WHERE message_id = '" + reply.id +
                  "' AND kind = 'send' AND outcome = 'ambiguous'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM reply_attempts WHERE message_id = '" + reply.id +
                  "' AND kind = 'reconcile' AND outcome = 'cannot_tell'"),
            1);

  const auto escalated = escalation_data(1);
  ASSERT_EQ(escalated.size(), 1U);
  EXPECT_EQ(escalated[0]["reason"], "delivery_unknown");
  EXPECT_EQ(escalated[0]["customer_id"], reply.customer);
  EXPECT_EQ(escalated[0]["source_event_id"], reply.source_event);
  EXPECT_TRUE(
      eventually([&] { return count("SELECT count(*) FROM outbox WHERE consumer_group = 'test.replies'") == 0; }, 5s))
      << "the escalation's outbox row is cleared once acknowledged";
}

TEST_F(ReplyDispatcherTest, ASendingReplyLeftByADeadDispatcherIsReconciledNotResent) {
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_created("SMnever"); });
  const auto reply = seed_reply();
  // What a dispatcher killed during the provider call leaves: `sending`,
  // claimed by a PostgreSQL session that no longer exists.
  exec("UPDATE messages SET status = 'sending', attempts = 1, claim_token = gen_random_uuid(), claimed_at = now(), "
       "claimed_by_pid = 2147483000, claimed_by_backend_start = now() - interval '1 minute', "
       "next_attempt_at = now() WHERE id = '" +
       reply.id + "'");
  auto dispatcher = dispatcher_for(twilio);

  const auto pass = dispatcher->run_pass();
  EXPECT_EQ(pass.sends, 0);
  EXPECT_EQ(pass.reconciliations, 1);
  EXPECT_EQ(twilio.count(), 0) << "never sent again blindly";
  EXPECT_EQ(status_of(reply.id), "unknown");
  const auto escalated = escalation_data(1);
  ASSERT_EQ(escalated.size(), 1U);
  EXPECT_EQ(escalated[0]["reason"], "delivery_unknown");
}

TEST_F(ReplyDispatcherTest, ASendingReplyWhoseDispatcherIsAliveIsLeftAlone) {
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_created("SMnever"); });
  const auto reply = seed_reply();
  auto alive = std::make_unique<pqxx::connection>(db.url());
  {
    // Claimed by a session that still exists: another replica in its call.
    pqxx::work tx(*alive);
    tx.exec_params("UPDATE messages SET status = 'sending', attempts = 1, claim_token = gen_random_uuid(), "
                   "claimed_at = now(), claimed_by_pid = pg_backend_pid(), claimed_by_backend_start = "
                   "(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()), "
                   "next_attempt_at = now() WHERE id = $1",
                   reply.id);
    tx.commit();
  }
  auto dispatcher = dispatcher_for(twilio);
  EXPECT_EQ(dispatcher->run_pass().reconciliations, 0);
  EXPECT_EQ(status_of(reply.id), "sending");

  alive.reset(); // that replica dies
  EXPECT_TRUE(eventually([&] { return dispatcher->run_pass().reconciliations == 1; }, 5s));
  EXPECT_EQ(status_of(reply.id), "unknown");
  EXPECT_EQ(twilio.count(), 0);
}

TEST_F(ReplyDispatcherTest, NotAcceptedIsRetriedAfterItsBackoffAndSentOnce) {
  ScriptedHttpServer twilio([](int number, const auto&) {
    if (number == 1) {
      auto answer = twilio_error(429, 20429, "Too Many Requests");
      answer.headers.emplace_back("Retry-After", "1");
      return answer;
    }
    return twilio_created("SM00000000000000000000000000000002");
  });
  const auto reply = seed_reply();
  auto dispatcher = dispatcher_for(twilio);

  EXPECT_EQ(dispatcher->run_pass().sends, 1);
  EXPECT_EQ(status_of(reply.id), "pending");
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE id = '" + reply.id +
                  "' AND next_attempt_at > now() + interval '20 seconds' AND last_error LIKE '%20429%'"),
            1)
      << "backoff: not due before its delay";
  EXPECT_EQ(dispatcher->run_pass().sends, 0);

  exec("UPDATE messages SET next_attempt_at = now() WHERE id = '" + reply.id + "'"); // the delay has passed
  EXPECT_EQ(dispatcher->run_pass().sends, 1);
  EXPECT_EQ(status_of(reply.id), "queued");
  EXPECT_EQ(twilio.count(), 2);
  EXPECT_EQ(count("SELECT attempts FROM messages WHERE id = '" + reply.id + "'"), 2);
}

TEST_F(ReplyDispatcherTest, ARejectedReplyFailsAndIsEscalated) {
  ScriptedHttpServer twilio(
      [](int, const auto&) { return twilio_error(400, 63016, "Outside the allowed window for free-form messages"); });
  const auto reply = seed_reply();
  auto dispatcher = dispatcher_for(twilio);
  EXPECT_EQ(dispatcher->run_pass().sends, 1);
  EXPECT_EQ(dispatcher->run_pass().sends, 0);
  EXPECT_EQ(status_of(reply.id), "failed");
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE id = '" + reply.id + "' AND last_error LIKE '%63016%'"), 1);
  const auto escalated = escalation_data(1);
  ASSERT_EQ(escalated.size(), 1U);
  EXPECT_EQ(escalated[0]["reason"], "delivery_failed");
}

TEST_F(ReplyDispatcherTest, AConversationsRepliesGoOutInOrder) {
  ScriptedHttpServer twilio([](int number, const auto&) {
    return twilio_created("SM0000000000000000000000000000000" + std::to_string(number));
  });
  const auto first = seed_reply("whatsapp", {}, 10s);
  const auto second = seed_reply("whatsapp", first.conversation, 5s);
  // The first is waiting out a backoff: the second must not overtake it.
  exec("UPDATE messages SET next_attempt_at = now() + interval '1 hour' WHERE id = '" + first.id + "'");
  auto dispatcher = dispatcher_for(twilio);
  EXPECT_EQ(dispatcher->run_pass().sends, 0);
  exec("UPDATE messages SET next_attempt_at = now() WHERE id = '" + first.id + "'");
  EXPECT_EQ(dispatcher->run_pass().sends, 2);
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE id = '" + first.id +
                  "' AND provider_message_id = 'SM00000000000000000000000000000001'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE id = '" + second.id +
                  "' AND provider_message_id = 'SM00000000000000000000000000000002'"),
            1);
}

TEST_F(ReplyDispatcherTest, AChannelWithoutASenderKeepsItsRepliesPending) {
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_created("SMx"); });
  const auto email = seed_reply("email");
  auto dispatcher = dispatcher_for(twilio);
  EXPECT_EQ(dispatcher->run_pass().sends, 0);
  dispatcher->housekeeping();
  EXPECT_EQ(status_of(email.id), "pending");
  EXPECT_EQ(twilio.count(), 0);
}

// An email sender whose every send is ambiguous and whose Sent search finds
// nothing yet, counting its calls.
class AmbiguousMailer final : public replies::ReplySender {
public:
  explicit AmbiguousMailer(std::shared_ptr<std::atomic<int>> calls) : calls_(std::move(calls)) {}
  replies::SendResult send(const replies::OutgoingReply&) override {
    ++*calls_;
    return {replies::SendOutcome::ambiguous, {}, {}, {}, "timeout", {}};
  }
  std::optional<replies::SendResult> reconcile(const replies::OutgoingReply&) override {
    ++*calls_;
    return replies::SendResult{replies::SendOutcome::not_sent, {}, {}, {}, "not in Sent", {}};
  }

private:
  std::shared_ptr<std::atomic<int>> calls_;
};

TEST_F(ReplyDispatcherTest, AChannelsOwnReconcileDelayHoldsOffItsReconciliation) {
  // A search that cannot yet see the message would say "absent" and the reply
  // would go out twice: the channel waits its own delay before asking.
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_created("SMunused"); });
  auto calls = std::make_shared<std::atomic<int>>(0);
  senders.add(
      "email", "gmail", [calls] { return std::make_unique<AmbiguousMailer>(calls); }, std::chrono::hours(1));
  const auto email = seed_reply("email");
  const auto whatsapp = seed_reply();
  auto dispatcher = dispatcher_for(twilio); // the default delay: 0
  const auto pass = dispatcher->run_pass();
  EXPECT_EQ(pass.sends, 2);
  EXPECT_EQ(pass.reconciliations, 0);
  EXPECT_EQ(*calls, 1) << "sent once, not asked yet";
  EXPECT_EQ(status_of(email.id), "sending");
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE id = '" + email.id +
                  "' AND next_attempt_at > now() + interval '50 minutes' AND claim_token IS NULL"),
            1);
  EXPECT_EQ(status_of(whatsapp.id), "queued");

  exec("UPDATE messages SET next_attempt_at = now() WHERE id = '" + email.id + "'"); // the hour has passed
  const auto later = dispatcher->run_pass();
  EXPECT_EQ(later.reconciliations, 1);
  EXPECT_EQ(later.sends, 1) << "provably absent: sent again";
  EXPECT_EQ(*calls, 3);
}

TEST_F(ReplyDispatcherTest, ReplicasShareTheWorkAndSendEachReplyOnce) {
  ScriptedHttpServer twilio([](int number, const auto&) {
    auto answer = twilio_created("SM" + std::to_string(1000 + number));
    answer.delay = 20ms;
    return answer;
  });
  std::vector<Reply> replies;
  for (int i = 0; i < 12; ++i)
    replies.push_back(seed_reply());
  auto a = dispatcher_for(twilio);
  auto b = dispatcher_for(twilio);
  auto pass_a = std::async(std::launch::async, [&] { return a->run_pass().sends; });
  auto pass_b = std::async(std::launch::async, [&] { return b->run_pass().sends; });
  EXPECT_EQ(pass_a.get() + pass_b.get(), 12);
  EXPECT_EQ(twilio.count(), 12);
  EXPECT_EQ(count("SELECT count(DISTINCT provider_message_id) FROM messages WHERE direction = 'outbound' AND "
                  "status = 'queued'"),
            12);
}

TEST_F(ReplyDispatcherTest, DeliveryStatusesMoveForwardOnlyAndFailuresAreEscalated) {
  ScriptedHttpServer twilio([](int number, const auto&) {
    return twilio_created(number == 1 ? "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" : "SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  });
  const auto one = seed_reply();
  const auto two = seed_reply();
  auto dispatcher = dispatcher_for(twilio);
  ASSERT_EQ(dispatcher->run_pass().sends, 2);

  // Out of order: read before delivered before sent.
  auto outputs = apply_statuses({{"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "read"},
                                 {"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "delivered"},
                                 {"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sent"}},
                                one.customer);
  EXPECT_EQ(status_of(one.id), "read");
  EXPECT_TRUE(outputs.empty());
  outputs = apply_statuses({{"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "undelivered"}}, one.customer, "30008");
  EXPECT_EQ(status_of(one.id), "read") << "a failure never replaces read";
  EXPECT_TRUE(outputs.empty());

  outputs = apply_statuses(
      {{"SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "sent"}, {"SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "undelivered"}},
      two.customer, "63016");
  EXPECT_EQ(status_of(two.id), "undelivered");
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE id = '" + two.id + "' AND error_code = '63016'"), 1);
  ASSERT_EQ(outputs.items().size(), 1U) << "the customer did not get the reply: escalated";
  EXPECT_EQ(nlohmann::json::parse(outputs.items()[0].record.value)["data"]["reason"], "delivery_failed");
}

TEST_F(ReplyDispatcherTest, AStatusThatArrivesBeforeTheSidIsAppliedWhenTheSidIsRecorded) {
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_created("SMcccccccccccccccccccccccccccccccc"); });
  const auto reply = seed_reply();
  // The callback beat the dispatcher's COMMIT: no reply carries the sid yet.
  apply_statuses({{"SMcccccccccccccccccccccccccccccccc", "delivered"}}, reply.customer);
  EXPECT_EQ(count("SELECT count(*) FROM message_delivery_status WHERE provider_message_id = "
                  "'SMcccccccccccccccccccccccccccccccc' AND status = 'delivered'"),
            1);
  apply_statuses({{"SMcccccccccccccccccccccccccccccccc", "sent"}}, reply.customer); // late, older: ignored
  auto dispatcher = dispatcher_for(twilio);
  EXPECT_EQ(dispatcher->run_pass().sends, 1);
  EXPECT_EQ(status_of(reply.id), "delivered") << "queued at acceptance, then what was kept";
  EXPECT_EQ(count("SELECT count(*) FROM message_delivery_status"), 0);
}

} // namespace
} // namespace fte::testing
