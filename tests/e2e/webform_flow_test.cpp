// The four services as separate processes on the real stack: a web form
// submission crosses gateway -> normalizer -> agent-worker -> escalation.
#include <set>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/contracts/validator.hpp"
#include "fte/kafka/murmur2.hpp"
#include "fte/testing/suite.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

class WebformFlow : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    require_kafka(StackAddresses::from_env());
    suite = new Suite();
  }
  static void TearDownTestSuite() {
    delete suite;
    suite = nullptr;
  }

  static nlohmann::json form(const std::string& email, const std::string& subject, const std::string& message) {
    return {{"name", "Test Customer"}, {"email", email}, {"subject", subject}, {"message", message}};
  }

  // Posts and returns the correlation id of a 202.
  static std::string accepted(const nlohmann::json& body, const std::string& key = {}) {
    const auto answer = suite->submit(body, key);
    EXPECT_EQ(answer.status, 202) << answer.body;
    return answer.json().value("correlation_id", std::string());
  }

  static bool outcome_stored(const std::string& correlation) {
    return suite->count("SELECT count(*) FROM messages WHERE direction = 'outbound' AND correlation_id = '" +
                        correlation + "'") +
               suite->count("SELECT count(*) FROM escalations WHERE correlation_id = '" + correlation + "'") >
           0;
  }

  static void wait_for_outcome(const std::string& correlation) {
    ASSERT_TRUE(eventually([&] { return outcome_stored(correlation); }, 60s))
        << "nothing stored for " << correlation << "\n"
        << suite->logs();
  }

  static Suite* suite;
};

Suite* WebformFlow::suite = nullptr;

TEST_F(WebformFlow, FaqQuestionGetsAStoredReplyAndNoEscalation) {
  const auto correlation = accepted(form("faq@example.com", "Password", "How do I reset my password?"));
  wait_for_outcome(correlation);
  pqxx::connection c(suite->database_url());
  pqxx::read_transaction tx(c);
  const auto reply =
      tx.exec_params1("SELECT m.status, kb.slug, m.kb_score, t.status FROM messages m JOIN knowledge_base kb ON kb.id "
                      "= m.kb_article_id "
                      "JOIN tickets t ON t.id = m.ticket_id WHERE m.direction = 'outbound' AND m.correlation_id = $1",
                      correlation);
  EXPECT_EQ(reply[0].as<std::string>(), "pending");
  EXPECT_EQ(reply[1].as<std::string>(), "reset-password");
  EXPECT_GE(reply[2].as<double>(), 0.5);
  EXPECT_EQ(reply[3].as<std::string>(), "answered");
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM escalations WHERE correlation_id = $1", correlation)[0].as<int>(), 0);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM customer_identifiers WHERE kind = 'email' AND value = $1",
                            "faq@example.com")[0]
                .as<int>(),
            1);
}

TEST_F(WebformFlow, RefundRequestGetsAnEscalationRow) {
  const auto correlation =
      accepted(form("refund@example.com", "Double charge", "I was charged twice, I want a refund please."));
  wait_for_outcome(correlation);
  pqxx::connection c(suite->database_url());
  pqxx::read_transaction tx(c);
  const auto row = tx.exec_params1(
      "SELECT e.reason, e.priority, e.status, t.status FROM escalations e JOIN tickets t ON t.id = e.ticket_id "
      "WHERE e.correlation_id = $1",
      correlation);
  EXPECT_EQ(row[0].as<std::string>(), "refund");
  EXPECT_EQ(row[1].as<std::string>(), "high");
  EXPECT_EQ(row[2].as<std::string>(), "open");
  EXPECT_EQ(row[3].as<std::string>(), "escalated");
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM messages WHERE direction = 'outbound' AND correlation_id = $1",
                            correlation)[0]
                .as<int>(),
            0);

  const auto api = http_request(suite->escalation_port(), "GET", "/api/escalations?status=open");
  ASSERT_EQ(api.status, 200) << api.body;
  bool listed = false;
  const auto listing = api.json(); // kept alive: iterating a temporary's member would dangle
  for (const auto& e : listing["escalations"])
    listed = listed || e.value("correlation_id", std::string()) == correlation;
  EXPECT_TRUE(listed) << api.body;
  EXPECT_EQ(http_request(suite->escalation_port(), "GET", "/api/escalations?status=bogus").status, 400);
}

TEST_F(WebformFlow, SameIdempotencyKeyTwiceGivesOneTicketMessageAndOneReply) {
  const auto body = form("twice@example.com", "Invoices", "Where can I download my invoices?");
  const auto first = suite->submit(body, "key-twice-1");
  const auto second = suite->submit(body, "key-twice-1");
  ASSERT_EQ(first.status, 202);
  ASSERT_EQ(second.status, 202);
  EXPECT_EQ(first.json()["id"], second.json()["id"]);
  const auto correlation = first.json()["correlation_id"].get<std::string>();
  wait_for_outcome(correlation);
  // Both submissions must have been consumed before counting.
  const auto ends = end_offsets(suite->stack(), suite->topics().webform_inbound, 12);
  ASSERT_TRUE(eventually(
      [&] {
        const auto committed =
            committed_offsets(suite->stack(), suite->group("channel-normalizer"), suite->topics().webform_inbound, 12);
        for (const auto& [p, end] : ends) {
          if (end > 0 && committed.at(p) < end) return false;
        }
        return true;
      },
      30s));
  const auto tickets = read_topic(
      suite->stack(), suite->topics().tickets_incoming, [](const auto&) { return false; }, 3s);
  int for_this = 0;
  for (const auto& r : tickets) {
    for_this += events::find_header(r.headers, "correlation_id") == correlation ? 1 : 0;
  }
  EXPECT_EQ(for_this, 1);
  EXPECT_EQ(suite->count("SELECT count(*) FROM messages WHERE correlation_id = '" + correlation + "'"), 2)
      << "one inbound message and one reply";
}

TEST_F(WebformFlow, BadSubmissionsGetTheRight4xxAndPublishNothing) {
  const auto before = end_offsets(suite->stack(), suite->topics().webform_inbound, 12);
  struct Case {
    std::string content_type, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"application/json", R"({"email":"a@b.co","subject":"s","message":"m"})", 400, "missing_field"},
      {"application/json", R"({"name":"n","email":"nope","subject":"s","message":"m"})", 400, "invalid_email"},
      {"application/json", "{broken", 400, "invalid_json"},
      {"text/plain", "hello", 415, "unsupported_media_type"},
      {"application/json",
       R"({"name":"n","email":"a@b.co","subject":"s","message":")" + std::string(10001, 'x') + R"("})", 400,
       "field_too_long"},
      {"application/json",
       R"({"name":"n","email":"a@b.co","subject":"s","message":")" + std::string(70000, 'x') + R"("})", 413,
       "body_too_large"},
  };
  for (const auto& c : cases) {
    const auto answer =
        http_request(suite->gateway_port(), "POST", "/webhooks/webform", c.body, {{"Content-Type", c.content_type}});
    EXPECT_EQ(answer.status, c.status) << c.code << ": " << answer.body;
    EXPECT_EQ(answer.json()["error"]["code"], c.code) << answer.body;
  }
  EXPECT_EQ(http_request(suite->gateway_port(), "GET", "/webhooks/webform").status, 405);
  EXPECT_EQ(
      http_request(suite->gateway_port(), "POST", "/nowhere", "{}", {{"Content-Type", "application/json"}}).status,
      404);
  EXPECT_EQ(end_offsets(suite->stack(), suite->topics().webform_inbound, 12), before) << "nothing may be published";
}

TEST_F(WebformFlow, EveryEventHasTheContractsEnvelopeHeadersAndKey) {
  const auto faq = accepted(form("envelope@example.com", "Shipping", "How long does shipping take?"));
  const auto human = accepted(form("envelope@example.com", "Help", "Please let me talk to a human about my order."));
  wait_for_outcome(faq);
  wait_for_outcome(human);
  ASSERT_GE(read_topic(
                suite->stack(), suite->topics().metrics_agent, [](const auto& r) { return r.size() >= 2; }, 30s)
                .size(),
            2U);

  const contracts::Validator validator;
  std::map<std::string, int> seen_types;
  for (const auto& topic : {suite->topics().webform_inbound, suite->topics().tickets_incoming,
                            suite->topics().escalations, suite->topics().metrics_agent}) {
    // Reads for five seconds: everything the suite wrote so far.
    for (const auto& r : read_topic(
             suite->stack(), topic, [](const auto&) { return false; }, 5s)) {
      const auto parsed = events::parse_event(r.value, r.headers);
      ASSERT_TRUE(std::holds_alternative<events::CloudEvent>(parsed)) << topic << ": " << r.value;
      const auto& e = std::get<events::CloudEvent>(parsed);
      ++seen_types[e.type];
      EXPECT_FALSE(validator.validate(e)) << topic << ": " << *validator.validate(e);
      EXPECT_EQ(events::find_header(r.headers, "content-type"), "application/cloudevents+json; charset=UTF-8");
      EXPECT_EQ(events::find_header(r.headers, "ce_type"), e.type);
      EXPECT_EQ(events::find_header(r.headers, "correlation_id"), e.correlationid);
      EXPECT_TRUE(events::TraceParent::parse(events::find_header(r.headers, "traceparent").value_or("")));
      ASSERT_TRUE(r.key.has_value());
      if (topic == suite->topics().webform_inbound) {
        EXPECT_EQ(*r.key, e.data["email"].get<std::string>());
      } else {
        EXPECT_EQ(*r.key, e.customerid);
        EXPECT_EQ(*r.key, e.data["customer_id"].get<std::string>());
        EXPECT_FALSE(e.causationid.empty());
      }
      EXPECT_EQ(r.partition, kafka::partition_for_key(*r.key, 12)) << "murmur2 partitioning";
    }
  }
  EXPECT_GT(seen_types["fte.webform.submission.received.v1"], 0);
  EXPECT_GT(seen_types["fte.ticket.message.received.v1"], 0);
  EXPECT_GT(seen_types["fte.escalation.requested.v1"], 0);
  EXPECT_GT(seen_types["fte.agent.message.processed.v1"], 0);
}

TEST_F(WebformFlow, ServicesExposeHealthReadinessAndMetrics) {
  // Metric families appear once something was counted.
  wait_for_outcome(accepted(form("metrics@example.com", "Export", "How do I export my data?")));
  for (const char* service : Suite::kServices) {
    EXPECT_EQ(http_request(suite->admin_port(service), "GET", "/healthz").status, 200) << service;
    EXPECT_EQ(http_request(suite->admin_port(service), "GET", "/readyz").status, 200) << service;
  }
  const auto metrics = http_request(suite->admin_port("webhook-gateway"), "GET", "/metrics");
  EXPECT_NE(metrics.body.find("fte_http_requests_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("fte_kafka_produce_duration_seconds"), std::string::npos);
  EXPECT_NE(metrics.body.find("fte_http_requests_in_flight"), std::string::npos);
  const auto agent = http_request(suite->admin_port("agent-worker"), "GET", "/metrics");
  EXPECT_NE(agent.body.find("fte_consumer_records_total"), std::string::npos);
}

TEST_F(WebformFlow, GatewayDrainsAndExitsZeroOnSigterm) {
  EXPECT_EQ(suite->stop("webhook-gateway"), 0) << suite->logs();
  suite->start("webhook-gateway");
  EXPECT_EQ(suite->submit(form("after@example.com", "Plan", "How do I upgrade my plan?")).status, 202);
}

} // namespace
} // namespace fte::testing
