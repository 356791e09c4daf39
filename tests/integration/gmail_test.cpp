// The Gmail fetch against the real PostgreSQL (ADR 0009): migration 0005,
// the normalizer's handler applying email notifications in a transaction as
// the exactly-once handler would (cursor, dedup rows and outputs together),
// and the watch records that `fte gmail watch` and the renewal keep. Gmail
// itself is the in-process fake (libs/gmail/testing). Needs only PostgreSQL
// (FTE_DATABASE_URL), not Kafka.
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "email_fetcher.hpp"
#include "fte/contracts/validator.hpp"
#include "fte/gmail/mailbox_watch.hpp"
#include "fte/gmail/testing/fake_google.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/testing/stack.hpp"
#include "normalizer_handler.hpp"

namespace fte::testing {
namespace {

using gmail::testing::FakeGoogle;
using gmail::testing::FakeMessage;

constexpr const char* kMailbox = "support@example.com";

class GmailTest : public ::testing::Test {
protected:
  GmailTest() {
    gmail::TokenSourceOptions token_options;
    token_options.token_url = google.token_url();
    token_options.credentials = gmail::RefreshTokenCredentials{"c", "s", "r"};
    tokens = std::make_shared<gmail::GoogleTokenSource>(token_options);
    api_options.base_url = google.base_url();
    normalizer::EmailFetcherOptions options;
    options.max_attempts = 3;
    fetcher = std::make_shared<normalizer::EmailFetcher>(options, api_options, tokens, logger);
    handler = std::make_unique<normalizer::NormalizerHandler>(topics, fetcher);
  }

  struct Input {
    kafka::ConsumedRecord record;
    events::CloudEvent event;
  };

  std::unique_ptr<Input> push(const std::string& pubsub_id, std::uint64_t history_id) {
    auto in = std::make_unique<Input>();
    in->record.topic = "fte.channels.email.inbound";
    in->record.key = kMailbox;
    in->event = events::make_origin_event(event_id_from_provider("pubsub", pubsub_id), "/fte/webhook-gateway",
                                          std::string(normalizer::kEmailNotificationType),
                                          {{"email_address", kMailbox},
                                           {"history_id", std::to_string(history_id)},
                                           {"pubsub_message_id", pubsub_id},
                                           {"subscription", "projects/p/subscriptions/gmail"},
                                           {"received_at", "2026-11-25T10:00:00.000Z"}});
    return in;
  }

  std::uint64_t deliver(const std::string& id, const std::string& from = "Ada <ada@example.org>",
                        std::int64_t internal_date_ms = 1'795'600'000'000) {
    FakeMessage message;
    message.id = id;
    message.thread_id = "t-" + id;
    message.internal_date_ms = internal_date_ms;
    message.rfc822 = gmail::testing::make_rfc822(from, kMailbox, "About " + id, "Text of " + id, "<" + id + "@x.org>");
    return google.deliver(kMailbox, message);
  }

  /// Applies one batch in one transaction, committed unless it throws.
  runtime::Outputs apply(const std::vector<const Input*>& inputs, int attempt = 1) {
    std::vector<kafka::Delivery> deliveries;
    for (const auto* in : inputs)
      deliveries.push_back(kafka::Delivery{in->record, in->event, attempt, logger});
    std::vector<const kafka::Delivery*> fresh;
    for (const auto& d : deliveries)
      fresh.push_back(&d);
    pqxx::connection c(db.url());
    handler->prepare(c);
    pqxx::work tx(c);
    runtime::Outputs outputs;
    handler->apply(tx, fresh, outputs);
    tx.commit();
    return outputs;
  }

  std::string text(const std::string& sql) {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    const auto row = tx.exec1(sql);
    return row[0].is_null() ? std::string() : row[0].as<std::string>();
  }
  long count(const std::string& sql) { return std::stol(text(sql)); }

  void watch() {
    gmail::GmailApi api(api_options, tokens);
    pqxx::connection c(db.url());
    (void)gmail::start_watch(api, c, {kMailbox, "projects/p/topics/gmail", {"INBOX"}});
  }

  StackAddresses stack = StackAddresses::from_env();
  ScratchDatabase db{stack};
  Logger logger = test_logger("gmail");
  kafka::TopicNames topics = kafka::TopicNames::from_env(Environment::from_process());
  FakeGoogle google;
  std::shared_ptr<gmail::GoogleTokenSource> tokens;
  gmail::GmailApiOptions api_options;
  std::shared_ptr<normalizer::EmailFetcher> fetcher;
  std::unique_ptr<normalizer::NormalizerHandler> handler;
  contracts::Validator validator;
};

TEST_F(GmailTest, WatchRecordsTheCursorAndRenewalKeepsIt) {
  google.deliver(kMailbox, FakeMessage{}); // history before the watch: not ours
  watch();
  const auto cursor = text("SELECT history_id::text FROM gmail_mailboxes");
  EXPECT_EQ(cursor, std::to_string(google.current_history_id(kMailbox)));
  EXPECT_EQ(text("SELECT watch_label_ids::text FROM gmail_mailboxes"), "{INBOX}");

  // A watch lapsing within the day is renewed on the recorded topic and
  // labels; the cursor does not move.
  deliver("later");
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec("UPDATE gmail_mailboxes SET watch_expiration = now() + interval '2 hours'");
    tx.commit();
  }
  gmail::GmailApi api(api_options, tokens);
  pqxx::connection c(db.url());
  const auto report = gmail::renew_expiring_watches(api, c, "", std::chrono::hours(24), logger);
  EXPECT_EQ(report.renewed, 1);
  EXPECT_EQ(report.failed, 0);
  EXPECT_EQ(count("SELECT count(*) FROM gmail_mailboxes WHERE watch_expiration > now() + interval '6 days'"), 1);
  EXPECT_EQ(text("SELECT history_id::text FROM gmail_mailboxes"), cursor);
  const auto body = nlohmann::json::parse(google.last_watch_body());
  EXPECT_EQ(body["topicName"], "projects/p/topics/gmail");
  EXPECT_EQ(body["labelIds"], nlohmann::json::array({"INBOX"}));
  // Nothing left to renew.
  EXPECT_EQ(gmail::renew_expiring_watches(api, c, "", std::chrono::hours(24), logger).renewed, 0);
}

TEST_F(GmailTest, APushBecomesTicketMessagesOnceWithTheCursorInTheSameTransaction) {
  watch();
  deliver("m1");
  deliver("reply", kMailbox); // our own mail, whatever its labels
  const auto h = deliver("m2", "Bob <bob@example.org>");
  const auto first = push("p1", h);
  const auto outputs = apply({first.get()});
  ASSERT_EQ(outputs.items().size(), 2U);
  for (const auto& item : outputs.items()) {
    const auto ticket = nlohmann::json::parse(item.record.value);
    EXPECT_FALSE(validator.validate_received(ticket)) << *validator.validate_received(ticket);
    EXPECT_EQ(item.source_event_id, first->event.id);
    EXPECT_EQ(ticket["data"]["channel"], "email");
  }
  const auto m1 = nlohmann::json::parse(outputs.items()[0].record.value);
  EXPECT_EQ(m1["id"], event_id_from_provider("gmail", std::string(kMailbox) + ":m1").str());
  EXPECT_EQ(m1["data"]["channel_metadata"]["thread_id"], "t-m1");
  EXPECT_EQ(text("SELECT history_id::text FROM gmail_mailboxes"), std::to_string(h));
  EXPECT_EQ(count("SELECT count(*) FROM gmail_messages_seen WHERE outcome = 'ticket'"), 2);
  EXPECT_EQ(text("SELECT detail FROM gmail_messages_seen WHERE gmail_message_id = 'reply'"), "from the mailbox itself");
  EXPECT_EQ(count("SELECT count(*) FROM customer_identifiers WHERE kind = 'email'"), 2);

  // Another push for the same historyId (a new Pub/Sub message id): nothing new.
  const auto second = push("p2", h);
  EXPECT_TRUE(apply({second.get()}).empty());
  // Both in one batch with a newer message: one fetch, each mail once.
  const auto h3 = deliver("m3");
  const auto third = push("p3", h3);
  const auto fourth = push("p4", h3);
  const auto both = apply({third.get(), fourth.get()});
  ASSERT_EQ(both.items().size(), 1U);
  EXPECT_EQ(both.items()[0].source_event_id, fourth->event.id);
  EXPECT_EQ(google.count_requests("/messages/m1"), 1);
}

TEST_F(GmailTest, AFailedFetchKeepsNothingAndTheRetryReadsTheSameMail) {
  watch();
  const auto cursor = text("SELECT history_id::text FROM gmail_mailboxes");
  deliver("m1");
  const auto h = deliver("m2");
  google.hide("m2");
  const auto p = push("p1", h);
  EXPECT_THROW((void)apply({p.get()}, 1), normalizer::MessageNotVisible);
  EXPECT_EQ(text("SELECT history_id::text FROM gmail_mailboxes"), cursor);
  EXPECT_EQ(count("SELECT count(*) FROM gmail_messages_seen"), 0);

  // The last attempt commits m1 and holds the cursor before m2.
  EXPECT_EQ(apply({p.get()}, 3).items().size(), 1U);
  EXPECT_EQ(text("SELECT outcome FROM gmail_messages_seen WHERE gmail_message_id = 'm2'"), "missing");
  const auto missing_since = text("SELECT first_seen_at::text FROM gmail_messages_seen WHERE gmail_message_id = 'm2'");
  google.hide("m2", false);
  const auto next = push("p2", google.touch(kMailbox));
  const auto outputs = apply({next.get()});
  ASSERT_EQ(outputs.items().size(), 1U);
  EXPECT_EQ(nlohmann::json::parse(outputs.items()[0].record.value)["data"]["channel_metadata"]["gmail_message_id"],
            "m2");
  EXPECT_EQ(text("SELECT outcome FROM gmail_messages_seen WHERE gmail_message_id = 'm2'"), "ticket");
  EXPECT_EQ(text("SELECT first_seen_at::text FROM gmail_messages_seen WHERE gmail_message_id = 'm2'"), missing_since);
  EXPECT_EQ(text("SELECT history_id::text FROM gmail_mailboxes"), std::to_string(h));
}

TEST_F(GmailTest, AStaleCursorBackfillsFromTheNewestMessageSeen) {
  watch();
  const auto h1 = deliver("m1", "ada@example.org", 1'795'600'000'000);
  const auto p1 = push("p1", h1);
  ASSERT_EQ(apply({p1.get()}).items().size(), 1U);
  EXPECT_EQ(text("SELECT to_char(last_message_internal_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
                 "FROM gmail_mailboxes"),
            "2026-11-25 09:46:40");
  deliver("m2", "bob@example.org", 1'795'600'060'000);
  const auto h3 = deliver("m3", "cy@example.org", 1'795'600'120'000);
  google.forget_history_before(kMailbox, h3 + 1);
  const auto p2 = push("p2", h3);
  EXPECT_EQ(apply({p2.get()}).items().size(), 2U) << "m2 and m3, not m1 again";
  EXPECT_EQ(text("SELECT history_id::text FROM gmail_mailboxes"), std::to_string(google.current_history_id(kMailbox)));
}

TEST_F(GmailTest, ANotificationWithoutGmailAccessIsPoison) {
  normalizer::NormalizerHandler without_gmail(topics);
  const auto p = push("p1", 1);
  kafka::Delivery delivery{p->record, p->event, 1, logger};
  const kafka::Delivery* fresh[] = {&delivery};
  pqxx::connection c(db.url());
  without_gmail.prepare(c);
  pqxx::work tx(c);
  runtime::Outputs outputs;
  EXPECT_THROW(without_gmail.apply(tx, fresh, outputs), kafka::PoisonError);
}

} // namespace
} // namespace fte::testing
