#include "email_fetcher.hpp"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "fte/contracts/validator.hpp"
#include "fte/gmail/testing/fake_google.hpp"

namespace fte::normalizer {
namespace {

using gmail::testing::FakeGoogle;
using gmail::testing::FakeMessage;
using gmail::testing::make_rfc822;
using std::chrono::system_clock;

constexpr const char* kMailbox = "support@example.com";
constexpr std::int64_t kNowMs = 1'764'064'800'000; // 2025-11-25T10:00:00Z

// The fetch's state in memory. Like the real store inside a transaction,
// nothing is kept when fetch() throws: it writes only at its end.
class MemoryStore final : public MailboxStore {
public:
  MailboxCursor lock(const std::string& mailbox) override { return cursors[mailbox]; }
  Known known(const std::string& mailbox, const std::vector<std::string>& ids) override {
    Known result;
    for (const auto& id : ids) {
      const auto it = seen.find({mailbox, id});
      if (it == seen.end()) continue;
      if (it->second.outcome == SeenMessage::Outcome::missing) {
        result.missing_since.emplace(id, first_seen.at({mailbox, id}));
      } else {
        result.settled.insert(id);
      }
    }
    return result;
  }
  void record(const std::string& mailbox, const std::vector<SeenMessage>& messages) override {
    for (const auto& m : messages) {
      seen[{mailbox, m.gmail_message_id}] = m;
      first_seen.try_emplace({mailbox, m.gmail_message_id}, system_clock::now());
    }
  }
  void save(const std::string& mailbox, const MailboxCursor& cursor) override { cursors[mailbox] = cursor; }

  std::map<std::string, MailboxCursor> cursors;
  std::map<std::pair<std::string, std::string>, SeenMessage> seen;
  std::map<std::pair<std::string, std::string>, system_clock::time_point> first_seen;
};

struct Fixture {
  FakeGoogle google;
  MemoryStore store;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<EmailFetcher> fetcher;

  explicit Fixture(EmailFetcherOptions options = {}) {
    gmail::TokenSourceOptions token_options;
    token_options.token_url = google.token_url();
    token_options.credentials = gmail::RefreshTokenCredentials{"c", "s", "r"};
    gmail::GmailApiOptions api_options;
    api_options.base_url = google.base_url();
    fetcher =
        std::make_unique<EmailFetcher>(options, api_options, std::make_shared<gmail::GoogleTokenSource>(token_options),
                                       Logger::to_stderr("test", spdlog::level::err), registry);
  }

  std::uint64_t deliver(const std::string& id, const std::string& from = "Ada Lovelace <Ada@Example.org>",
                        std::vector<std::string> labels = {"INBOX", "UNREAD"}, const std::string& extra = {},
                        std::int64_t internal_date_ms = kNowMs) {
    FakeMessage message;
    message.id = id;
    message.thread_id = "t-" + id;
    message.labels = std::move(labels);
    message.internal_date_ms = internal_date_ms;
    message.rfc822 =
        make_rfc822(from, kMailbox, "Question " + id, "Hello, this is " + id + ".", "<" + id + "@example.org>", extra);
    return google.deliver(kMailbox, message);
  }

  std::vector<InboundMessage> fetch(std::uint64_t history_id, int attempt = 1, std::string event_id = "push-1") {
    push = events::make_origin_event(EventId(event_id), "/fte/webhook-gateway", std::string(kEmailNotificationType),
                                     {{"email_address", kMailbox},
                                      {"history_id", std::to_string(history_id)},
                                      {"pubsub_message_id", "1"},
                                      {"subscription", "projects/p/subscriptions/s"},
                                      {"received_at", "2025-11-25T10:00:05.000Z"}});
    EmailNotification notification;
    notification.cause = &push;
    notification.event_id = std::move(event_id);
    notification.mailbox = kMailbox;
    notification.history_id = history_id;
    notification.received_at = "2025-11-25T10:00:05.000Z";
    notification.source_topic = "fte.channels.email.inbound";
    notification.attempt = attempt;
    return fetcher->fetch(store, kMailbox, std::span(&notification, 1));
  }

  events::CloudEvent push; // the notification the messages are caused by

  double counter(const std::string& name, const std::string& label = {}, const std::string& value = {}) const {
    for (const auto& family : registry->Collect()) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        if (label.empty() || (!metric.label.empty() && metric.label[0].name == label && metric.label[0].value == value))
          return metric.counter.value;
      }
    }
    return 0;
  }
};

std::vector<std::string> ids_of(const std::vector<InboundMessage>& emails) {
  std::vector<std::string> ids;
  for (const auto& e : emails)
    ids.push_back(e.fields["channel_metadata"]["gmail_message_id"]);
  return ids;
}

TEST(EmailFetcher, TurnsCustomerMailIntoTicketMessagesAndSkipsTheRest) {
  Fixture f;
  const auto start = f.google.touch(kMailbox);
  f.store.cursors[kMailbox].history_id = start;
  f.deliver("m1", "Ada Lovelace <Ada@Example.org>", {"INBOX", "UNREAD"}, "References: <q0@example.org>\r\n");
  f.deliver("sent", kMailbox, {"SENT"});
  f.deliver("draft", kMailbox, {"DRAFT"});
  f.deliver("own", "Support <Support@Example.com>", {"INBOX"}); // no SENT label: the label filter lies
  f.deliver("auto", "Mailer <noreply@example.net>", {"INBOX"}, "Auto-Submitted: auto-replied\r\n");
  f.deliver("spam", "Spam <x@spam.example>", {"SPAM"});
  f.deliver("noaddr", "Nobody <nobody>", {"INBOX"});
  f.deliver("idn", "Jörg <jörg@exämple.de>", {"INBOX"});
  const auto last = f.deliver("m2", "bob@example.org");

  auto emails = f.fetch(last);
  ASSERT_EQ(ids_of(emails), (std::vector<std::string>{"m1", "m2"}));
  auto& ada = emails[0];
  EXPECT_EQ(ada.channel, "email");
  EXPECT_EQ(ada.sender.kind, identity::IdentifierKind::email);
  EXPECT_EQ(ada.sender.address, "ada@example.org");
  EXPECT_EQ(ada.sender.display_name, "Ada Lovelace");
  EXPECT_EQ(ada.id, event_id_from_provider("gmail", std::string(kMailbox) + ":m1"));
  EXPECT_EQ(ada.cause, &f.push);
  EXPECT_EQ(ada.source_topic, "fte.channels.email.inbound");
  EXPECT_EQ(ada.fields["subject"], "Question m1");
  EXPECT_EQ(ada.fields["body"], "Hello, this is m1.");
  EXPECT_EQ(ada.fields["received_at"], "2025-11-25T10:00:05.000Z");
  const auto metadata = ada.fields["channel_metadata"];
  EXPECT_EQ(metadata["provider"], "gmail");
  EXPECT_EQ(metadata["mailbox"], kMailbox);
  EXPECT_EQ(metadata["thread_id"], "t-m1");
  EXPECT_EQ(metadata["message_id_header"], "<m1@example.org>");
  EXPECT_EQ(metadata["references"], nlohmann::json::array({"<q0@example.org>"}));
  EXPECT_EQ(metadata["to"], nlohmann::json::array({kMailbox}));

  // What was skipped is recorded with the reason; our own sent mail and
  // drafts were not even fetched.
  EXPECT_EQ(f.store.seen.at({kMailbox, "sent"}).detail, "label SENT");
  EXPECT_EQ(f.store.seen.at({kMailbox, "draft"}).detail, "label DRAFT");
  EXPECT_EQ(f.store.seen.at({kMailbox, "own"}).detail, "from the mailbox itself");
  EXPECT_EQ(f.store.seen.at({kMailbox, "auto"}).detail, "auto-submitted");
  EXPECT_EQ(f.store.seen.at({kMailbox, "spam"}).detail, "label SPAM");
  EXPECT_EQ(f.store.seen.at({kMailbox, "noaddr"}).outcome, SeenMessage::Outcome::skipped);
  EXPECT_EQ(f.store.seen.at({kMailbox, "idn"}).outcome, SeenMessage::Outcome::skipped);
  EXPECT_EQ(f.store.seen.at({kMailbox, "m1"}).outcome, SeenMessage::Outcome::ticket);
  EXPECT_EQ(f.google.count_requests("/messages/sent"), 0);
  EXPECT_EQ(f.google.count_requests("/messages/draft"), 0);
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, last);
  EXPECT_EQ(f.store.cursors[kMailbox].last_message_internal_date,
            system_clock::time_point(std::chrono::milliseconds(kNowMs)));

  // The ticket message the handler publishes is valid against proto/.
  const auto expected_id = ada.id->str();
  const auto ticket = ticket_message_event(std::move(ada), "3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60");
  EXPECT_EQ(ticket.id, expected_id) << "the Gmail id decides, not the push that found it";
  EXPECT_EQ(ticket.causationid, "push-1");
  EXPECT_EQ(ticket.data["source_event_id"], "push-1");
  EXPECT_EQ(ticket.data["customer_id"], "3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60");
  const contracts::Validator validator;
  const auto problem = validator.validate(ticket);
  EXPECT_FALSE(problem) << *problem;
  EXPECT_GT(f.counter("fte_gmail_api_calls_total"), 0);
  EXPECT_EQ(f.counter("fte_gmail_messages_total", "outcome", "ticket"), 2);
}

TEST(EmailFetcher, TwoPushesForTheSameHistoryIdReadEachEmailOnce) {
  Fixture f;
  f.store.cursors[kMailbox].history_id = f.google.touch(kMailbox);
  const auto h = f.deliver("m1");
  EXPECT_EQ(f.fetch(h, 1, "push-a").size(), 1u);
  EXPECT_TRUE(f.fetch(h, 1, "push-b").empty());
  EXPECT_EQ(f.google.count_requests("/messages/m1"), 1);

  // Even from an older cursor (another lane's listing overlapping), dedup by Gmail id holds.
  f.store.cursors[kMailbox].history_id = h - 1;
  EXPECT_TRUE(f.fetch(h, 1, "push-c").empty());
  EXPECT_EQ(f.google.count_requests("/messages/m1"), 1);
}

TEST(EmailFetcher, EveryHistoryPageIsRead) {
  Fixture f;
  f.google.set_page_size(2);
  f.store.cursors[kMailbox].history_id = f.google.touch(kMailbox);
  std::uint64_t last = 0;
  for (int i = 1; i <= 5; ++i)
    last = f.deliver("m" + std::to_string(i));
  EXPECT_EQ(f.fetch(last).size(), 5u);
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, last);
}

TEST(EmailFetcher, StaleCursorIsABackfillSinceTheNewestMessageWithoutGapOrDuplicate) {
  Fixture f;
  f.store.cursors[kMailbox].history_id = f.google.touch(kMailbox);
  const auto h1 = f.deliver("m1", "ada@example.org", {"INBOX"}, {}, kNowMs);
  ASSERT_EQ(f.fetch(h1).size(), 1u);
  // Gmail forgets the history; meanwhile two more messages arrived.
  f.deliver("m2", "bob@example.org", {"INBOX"}, {}, kNowMs + 60'000);
  const auto h3 = f.deliver("m3", "cy@example.org", {"INBOX"}, {}, kNowMs + 120'000);
  f.google.forget_history_before(kMailbox, h3 + 1);

  const auto emails = f.fetch(h3);
  EXPECT_EQ(ids_of(emails), (std::vector<std::string>{"m2", "m3"})) << "m1 listed again by the overlap, not repeated";
  EXPECT_EQ(f.google.count_requests("/messages/m1"), 1);
  EXPECT_EQ(f.google.count_requests("after%3A"), 1);
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, f.google.current_history_id(kMailbox));
  EXPECT_EQ(f.counter("fte_gmail_backfills_total", "reason", "stale_cursor"), 1);

  // Back on history from the profile's id.
  const auto h4 = f.deliver("m4", "di@example.org", {"INBOX"}, {}, kNowMs + 180'000);
  EXPECT_EQ(ids_of(f.fetch(h4)), std::vector<std::string>{"m4"});
}

TEST(EmailFetcher, ABackfillIsBounded) {
  EmailFetcherOptions options;
  options.backfill_max_messages = 3;
  Fixture f(options);
  for (int i = 1; i <= 5; ++i)
    f.deliver("m" + std::to_string(i), "ada@example.org", {"INBOX"}, {}, kNowMs + i * 1000);
  f.store.cursors[kMailbox].last_message_internal_date = system_clock::time_point(std::chrono::milliseconds(kNowMs));
  const auto emails = f.fetch(f.google.current_history_id(kMailbox));
  EXPECT_EQ(ids_of(emails), (std::vector<std::string>{"m3", "m4", "m5"})) << "the newest, oldest first";
  EXPECT_EQ(f.counter("fte_gmail_backfill_truncated_total"), 1);
}

TEST(EmailFetcher, AMailboxWithoutCursorStartsShortlyBeforeItsFirstPush) {
  Fixture f;
  // received_at of the push is 10:00:05; the window reaches back one hour.
  f.deliver("old", "ada@example.org", {"INBOX"}, {}, kNowMs - 2 * 3'600'000);
  const auto h = f.deliver("recent", "ada@example.org", {"INBOX"}, {}, kNowMs - 600'000);
  EXPECT_EQ(ids_of(f.fetch(h)), std::vector<std::string>{"recent"});
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, f.google.current_history_id(kMailbox));
  EXPECT_EQ(f.counter("fte_gmail_backfills_total", "reason", "no_cursor"), 1);
}

TEST(EmailFetcher, APushAheadOfItsMessageIsRetriedThenHeldNotDropped) {
  Fixture f;
  const auto start = f.google.touch(kMailbox);
  f.store.cursors[kMailbox].history_id = start;
  const auto h1 = f.deliver("m1");
  f.deliver("m2");
  const auto h3 = f.deliver("m3");
  f.google.hide("m2");

  // Early attempts fail the batch (the runner retries with backoff) and keep nothing.
  EXPECT_THROW((void)f.fetch(h3, 1), MessageNotVisible);
  EXPECT_TRUE(f.store.seen.empty());
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, start);

  // The last attempt commits what it could and holds the cursor before m2.
  EXPECT_EQ(ids_of(f.fetch(h3, 5)), (std::vector<std::string>{"m1", "m3"}));
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, h1);
  EXPECT_EQ(f.store.seen.at({kMailbox, "m2"}).outcome, SeenMessage::Outcome::missing);

  // Once Gmail serves it, the next push reads it (and nothing twice).
  f.google.hide("m2", false);
  const auto h4 = f.google.touch(kMailbox);
  EXPECT_EQ(ids_of(f.fetch(h4)), std::vector<std::string>{"m2"});
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, h3);
  EXPECT_EQ(f.google.count_requests("/messages/m1"), 2) << "once in the failed attempt, once in the last";
  EXPECT_EQ(f.google.count_requests("/messages/m3"), 1);
}

TEST(EmailFetcher, AMessageMissingForAnHourIsGivenUp) {
  Fixture f;
  f.store.cursors[kMailbox].history_id = f.google.touch(kMailbox);
  const auto h1 = f.deliver("gone");
  f.google.hide("gone");
  EXPECT_TRUE(f.fetch(h1, 5).empty());
  f.store.first_seen[{kMailbox, "gone"}] = system_clock::now() - std::chrono::hours(2);
  EXPECT_TRUE(f.fetch(h1, 1).empty()) << "no retry for a message deleted long ago";
  EXPECT_EQ(f.store.seen.at({kMailbox, "gone"}).outcome, SeenMessage::Outcome::vanished);
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, h1);
}

TEST(EmailFetcher, OutagesWaitAndRefusalsAreDeadLettered) {
  Fixture f;
  f.store.cursors[kMailbox].history_id = f.google.touch(kMailbox);
  const auto h = f.deliver("m1");
  f.google.fail_next("/history", 503);
  EXPECT_THROW((void)f.fetch(h), kafka::UnavailableError);
  f.google.fail_next("/messages/m1", 429);
  EXPECT_THROW((void)f.fetch(h), kafka::UnavailableError);
  f.google.fail_next(
      "/history", 403, 1,
      R"({"error": {"code": 403, "message": "Delegation denied", "errors": [{"reason": "forbidden"}]}})");
  EXPECT_THROW((void)f.fetch(h), kafka::PoisonError);
  EXPECT_TRUE(f.store.seen.empty()) << "nothing kept from failed attempts";
  EXPECT_EQ(f.fetch(h).size(), 1u);
}

TEST(EmailFetcher, AnUnreadableMessageIsRetriedThenSetAside) {
  Fixture f;
  f.store.cursors[kMailbox].history_id = f.google.touch(kMailbox);
  f.deliver("odd");
  const auto h = f.deliver("m2");
  f.google.fail_next("/messages/odd", 200, 2, R"({"id": "odd", "raw": "***"})");
  try {
    (void)f.fetch(h, 1);
    ADD_FAILURE() << "expected a retry";
  } catch (const kafka::UnavailableError&) {
    ADD_FAILURE() << "an odd answer is not an outage: it must use up attempts";
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(f.store.seen.empty());
  EXPECT_EQ(ids_of(f.fetch(h, 5)), std::vector<std::string>{"m2"});
  EXPECT_EQ(f.store.seen.at({kMailbox, "odd"}).outcome, SeenMessage::Outcome::skipped);
  EXPECT_EQ(f.store.cursors[kMailbox].history_id, h);
}

TEST(EmailFetcher, InvalidUtf8IsCleanedNotFatal) {
  Fixture f;
  f.store.cursors[kMailbox].history_id = f.google.touch(kMailbox);
  FakeMessage message;
  message.id = "bin";
  message.internal_date_ms = kNowMs;
  message.rfc822 = make_rfc822("ada@example.org", kMailbox, "Bad \xff bytes", "caf\xe9 \xc3\xa9t\xc3", "<b@x>");
  const auto h = f.google.deliver(kMailbox, message);
  const auto emails = f.fetch(h);
  ASSERT_EQ(emails.size(), 1u);
  EXPECT_NO_THROW((void)emails[0].fields.dump());
}

} // namespace
} // namespace fte::normalizer
