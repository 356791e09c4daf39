// Replies under faults, with the four services as processes and Twilio's
// Messages API played by a scripted server in this process (ADR 0010):
// kill -9 of the agent-worker between the reply's COMMIT and its send, and
// during the send; Twilio answering 500 after accepting. Each reply reaches
// Twilio at most once, and one that may not have is escalated.
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/testing/scripted_http_server.hpp"
#include "fte/testing/suite.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

class ReplyDelivery : public ::testing::Test {
protected:
  void SetUp() override { require_kafka(StackAddresses::from_env()); }

  // The agent-worker talks to Twilio at `port`; nothing else changes.
  static std::map<std::string, std::string> env(std::uint16_t port) {
    return {{"FTE_TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"},
            {"FTE_TWILIO_AUTH_TOKEN", "test-token"},
            {"FTE_TWILIO_API_BASE_URL", "http://127.0.0.1:" + std::to_string(port)},
            {"FTE_PUBLIC_BASE_URL", "https://support.example.com"},
            {"FTE_REPLY_POLL_INTERVAL_MS", "200"},
            {"FTE_REPLY_RECONCILE_DELAY_MS", "500"},
            {"FTE_REPLY_SEND_TIMEOUT_MS", "60000"}};
  }

  // A WhatsApp message from a known customer, as the normalizer writes it.
  static std::string send_whatsapp_message(Suite& suite) {
    const auto customer = random_uuid();
    {
      pqxx::connection c(suite.database_url());
      pqxx::work tx(c);
      tx.exec_params("INSERT INTO customers (id) VALUES ($1)", customer);
      tx.commit();
    }
    auto event = events::make_origin_event(
        EventId(random_uuid()), "/fte/channel-normalizer", "fte.ticket.message.received.v1",
        {{"customer_id", customer},
         {"channel", "whatsapp"},
         {"sender", {{"kind", "phone"}, {"address", "+15551234567"}}},
         {"body", "How do I reset my password?"},
         {"received_at", format_rfc3339(std::chrono::system_clock::now())},
         {"source_event_id", random_uuid()},
         {"source_topic", suite.topics().whatsapp_inbound},
         {"channel_metadata",
          {{"provider", "twilio"}, {"message_sid", "SMinbound0001"}, {"to", "whatsapp:+14155238886"}}}});
    event.customerid = customer;
    event.subject = customer;
    const auto producer = test_producer(suite.stack());
    const auto report =
        producer->send(kafka::ProducerRecord::from_event(suite.topics().tickets_incoming, customer, event));
    EXPECT_TRUE(report.ok()) << report.detail;
    return customer;
  }

  static std::string reply_status(const Suite& suite, const std::string& customer) {
    pqxx::connection c(suite.database_url());
    pqxx::read_transaction tx(c);
    const auto rows =
        tx.exec_params("SELECT status FROM messages WHERE direction = 'outbound' AND customer_id = $1", customer);
    return rows.empty() ? std::string() : rows[0][0].as<std::string>();
  }
};

TEST_F(ReplyDelivery, KilledBetweenTheRepliesCommitAndItsSendItIsSentExactlyOnceAfterRestart) {
  const auto port = free_port();
  auto vars = env(port);
  vars["FTE_REPLY_DISPATCHER"] = "false"; // the reply is committed, and no send happens before the kill
  Suite suite(vars);
  const auto customer = send_whatsapp_message(suite);
  ASSERT_TRUE(eventually([&] { return reply_status(suite, customer) == "pending"; }, 60s)) << suite.logs();

  suite.kill("agent-worker");
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_created("SM00000000000000000000000000000042"); },
                            port);
  suite.set_env("FTE_REPLY_DISPATCHER", "true");
  suite.start("agent-worker");
  ASSERT_TRUE(eventually([&] { return reply_status(suite, customer) == "queued"; }, 60s)) << suite.logs();
  std::this_thread::sleep_for(2s); // time for a second send, were there one
  EXPECT_EQ(twilio.count(), 1) << suite.logs();
  EXPECT_EQ(suite.count("SELECT count(*) FROM reply_attempts WHERE kind = 'send'"), 1);
}

TEST_F(ReplyDelivery, KilledWhileTwilioHoldsTheSendItIsReconciledNeverResent) {
  const auto port = free_port();
  ScriptedHttpServer twilio(
      [](int, const auto&) {
        auto answer = twilio_created("SM00000000000000000000000000000043");
        answer.delay = 30s; // accepted, but the answer is not back before the kill
        return answer;
      },
      port);
  Suite suite(env(port));
  const auto customer = send_whatsapp_message(suite);
  ASSERT_TRUE(eventually([&] { return twilio.count() == 1; }, 60s)) << suite.logs();
  EXPECT_EQ(reply_status(suite, customer), "sending");

  suite.kill("agent-worker");
  suite.start("agent-worker");
  ASSERT_TRUE(eventually([&] { return reply_status(suite, customer) == "unknown"; }, 60s)) << suite.logs();
  EXPECT_TRUE(eventually(
      [&] { return suite.count("SELECT count(*) FROM escalations WHERE reason = 'delivery_unknown'") == 1; }, 60s))
      << suite.logs();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(twilio.count(), 1) << "never sent twice";
}

TEST_F(ReplyDelivery, ATwilio500AfterAcceptingRaisesUnknownAndSendsNothingMore) {
  const auto port = free_port();
  ScriptedHttpServer twilio([](int, const auto&) { return twilio_error(500, 20500, "Internal Server Error"); }, port);
  Suite suite(env(port));
  const auto customer = send_whatsapp_message(suite);
  ASSERT_TRUE(eventually([&] { return reply_status(suite, customer) == "unknown"; }, 60s)) << suite.logs();
  EXPECT_TRUE(eventually(
      [&] { return suite.count("SELECT count(*) FROM escalations WHERE reason = 'delivery_unknown'") == 1; }, 60s))
      << suite.logs();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(twilio.count(), 1);
}

} // namespace
} // namespace fte::testing
