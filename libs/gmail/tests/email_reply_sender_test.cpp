#include "fte/gmail/email_reply_sender.hpp"

#include <gtest/gtest.h>

#include "fte/gmail/testing/fake_google.hpp"

namespace fte::gmail {
namespace {

using replies::OutgoingReply;
using replies::SendOutcome;
using testing::FakeGoogle;

constexpr const char* kMailbox = "support@example.com";

struct Fixture {
  FakeGoogle google;
  std::unique_ptr<EmailReplySender> sender;

  explicit Fixture(std::chrono::milliseconds timeout = std::chrono::milliseconds(2'000), std::string base_url = {}) {
    TokenSourceOptions token_options;
    token_options.token_url = google.token_url();
    token_options.credentials = RefreshTokenCredentials{"c", "s", "r"};
    GmailApiOptions api_options;
    api_options.base_url = base_url.empty() ? google.base_url() : base_url;
    api_options.timeout = timeout;
    EmailReplyOptions options;
    options.default_from = "help@example.com";
    options.message_id_domain = "mail.fte.example";
    sender =
        std::make_unique<EmailReplySender>(options, api_options, std::make_shared<GoogleTokenSource>(token_options));
  }
};

OutgoingReply email_reply(std::string reply_id = "0b0c6a4e-3c1f-4a7e-9a55-1f2e3d4c5b6a") {
  OutgoingReply reply;
  reply.reply_id = std::move(reply_id);
  reply.channel = "email";
  reply.to = "ada@example.org";
  reply.subject = "Re: Password reset";
  reply.body = "Use the link on the sign-in page. — Support";
  reply.inbound_metadata = {
      {"provider", "gmail"},          {"mailbox", "Support@Example.com"},        {"gmail_message_id", "m1"},
      {"thread_id", "thread-1"},      {"message_id_header", "<q2@example.org>"}, {"references", {"<q1@example.org>"}},
      {"to", {"support@example.com"}}};
  reply.correlation_id = "c-1";
  return reply;
}

TEST(EmailReplySender, SendsInTheCustomersThreadWithADeterministicMessageId) {
  Fixture f;
  const auto reply = email_reply();
  const auto result = f.sender->send(reply);
  ASSERT_EQ(result.outcome, SendOutcome::sent) << result.detail;
  const auto sent = f.google.sent(kMailbox);
  ASSERT_EQ(sent.size(), 1u) << "sent from the mailbox the customer wrote to";
  EXPECT_EQ(result.provider_message_id, sent[0].id);
  EXPECT_EQ(result.provider_thread_id, "thread-1");
  EXPECT_EQ(sent[0].thread_id, "thread-1");

  const auto parsed = mail::parse_email(sent[0].rfc822);
  ASSERT_TRUE(std::holds_alternative<mail::ParsedEmail>(parsed)) << std::get<mail::ParseError>(parsed).message;
  const auto& email = std::get<mail::ParsedEmail>(parsed);
  EXPECT_EQ(email.from.address, kMailbox);
  ASSERT_EQ(email.to.size(), 1u);
  EXPECT_EQ(email.to[0].address, "ada@example.org");
  EXPECT_EQ(email.subject, "Re: Password reset");
  EXPECT_EQ(email.message_id, "<reply-0b0c6a4e-3c1f-4a7e-9a55-1f2e3d4c5b6a@mail.fte.example>");
  EXPECT_EQ(email.in_reply_to, "<q2@example.org>");
  EXPECT_EQ(email.references, (std::vector<std::string>{"<q1@example.org>", "<q2@example.org>"}));
  EXPECT_NE(email.full_text.find("Use the link on the sign-in page. — Support"), std::string::npos) << email.full_text;
}

TEST(EmailReplySender, FormRepliesGoOutFromTheConfiguredMailboxInANewThread) {
  Fixture f;
  auto reply = email_reply();
  reply.channel = "webform";
  reply.inbound_metadata = {{"provider", "webform"}};
  const auto result = f.sender->send(reply);
  ASSERT_EQ(result.outcome, SendOutcome::sent) << result.detail;
  const auto sent = f.google.sent("help@example.com");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].thread_id, sent[0].id);
  const auto email = std::get<mail::ParsedEmail>(mail::parse_email(sent[0].rfc822));
  EXPECT_TRUE(email.in_reply_to.empty());
  EXPECT_EQ(email.from.address, "help@example.com");
}

TEST(EmailReplySender, ProvablyUnsentAnswersAreRetryable) {
  Fixture f;
  f.google.fail_next("/messages/send", 429, 1, "", 20);
  auto result = f.sender->send(email_reply());
  EXPECT_EQ(result.outcome, SendOutcome::not_sent);
  EXPECT_EQ(result.retry_after, std::chrono::seconds(20));

  f.google.fail_next("/messages/send", 403, 1,
                     R"({"error": {"code": 403, "message": "User-rate limit exceeded",
                         "errors": [{"reason": "userRateLimitExceeded"}]}})");
  result = f.sender->send(email_reply());
  EXPECT_EQ(result.outcome, SendOutcome::not_sent);
  EXPECT_EQ(result.retry_after, std::chrono::seconds(30));
  EXPECT_TRUE(f.google.sent(kMailbox).empty());

  Fixture refused(std::chrono::milliseconds(2'000), "http://127.0.0.1:1");
  result = refused.sender->send(email_reply());
  EXPECT_EQ(result.outcome, SendOutcome::not_sent) << result.detail;
}

TEST(EmailReplySender, RefusalsAreFinalAndServerErrorsAmbiguous) {
  Fixture f;
  f.google.fail_next("/messages/send", 400, 1,
                     R"({"error": {"code": 400, "message": "Invalid To header",
                         "errors": [{"reason": "invalidArgument"}]}})");
  auto result = f.sender->send(email_reply());
  EXPECT_EQ(result.outcome, SendOutcome::rejected);
  EXPECT_NE(result.detail.find("Invalid To header"), std::string::npos) << result.detail;

  f.google.fail_next("/messages/send", 500);
  EXPECT_EQ(f.sender->send(email_reply()).outcome, SendOutcome::ambiguous);

  auto no_recipient = email_reply();
  no_recipient.to.clear();
  EXPECT_EQ(f.sender->send(no_recipient).outcome, SendOutcome::rejected);
}

TEST(EmailReplySender, AnAmbiguousSendIsReconciledFromTheSentFolder) {
  Fixture f(std::chrono::milliseconds(300));
  // Gmail stores the message, then the answer is lost to a timeout.
  f.google.delay_next("/messages/send", std::chrono::milliseconds(1'000));
  const auto reply = email_reply();
  const auto result = f.sender->send(reply);
  EXPECT_EQ(result.outcome, SendOutcome::ambiguous) << result.detail;
  ASSERT_EQ(f.google.sent(kMailbox).size(), 1u);

  const auto reconciled = f.sender->reconcile(reply);
  ASSERT_TRUE(reconciled);
  EXPECT_EQ(reconciled->outcome, SendOutcome::sent);
  EXPECT_EQ(reconciled->provider_message_id, f.google.sent(kMailbox)[0].id);
  EXPECT_EQ(reconciled->provider_thread_id, "thread-1");

  const auto other = f.sender->reconcile(email_reply("11111111-2222-4333-8444-555555555555"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->outcome, SendOutcome::not_sent) << "searched, and absent";

  f.google.fail_next("/messages?q=", 503);
  EXPECT_FALSE(f.sender->reconcile(reply)) << "a failed search proves nothing";
}

} // namespace
} // namespace fte::gmail
