// The four services as separate processes on the real stack: a web form
// submission crosses gateway -> normalizer -> agent-worker -> escalation.
#include <set>

#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/access/token_store.hpp"
#include "fte/contracts/validator.hpp"
#include "fte/kafka/murmur2.hpp"
#include "fte/testing/shared_suite.hpp"
#include "fte/testing/suite.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

class WebformFlow : public SharedSuiteTest<WebformFlow> {
protected:
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
};

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

  // Without a token the API says 401 and nothing about the customer.
  const auto anonymous = http_request(suite->escalation_port(), "GET", "/api/escalations?status=open");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(anonymous.body.find(correlation), std::string::npos) << anonymous.body;
  EXPECT_EQ(anonymous.body.find("Test Customer"), std::string::npos) << anonymous.body;
  std::string token;
  {
    pqxx::connection db(suite->database_url());
    token = access::create_api_token(db, {"e2e-" + correlation.substr(0, 8), access::Role::agent, "e2e", {}});
  }
  const std::map<std::string, std::string> bearer = {{"Authorization", "Bearer " + token}};
  const auto api = http_request(suite->escalation_port(), "GET", "/api/escalations?status=open", {}, bearer);
  ASSERT_EQ(api.status, 200) << api.body;
  bool listed = false;
  const auto listing = api.json(); // kept alive: iterating a temporary's member would dangle
  for (const auto& e : listing["escalations"])
    listed = listed || e.value("correlation_id", std::string()) == correlation;
  EXPECT_TRUE(listed) << api.body;
  EXPECT_EQ(http_request(suite->escalation_port(), "GET", "/api/escalations?status=bogus", {}, bearer).status, 400);
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
  ASSERT_TRUE(suite->wait_until_drained(60s)) << suite->logs();
  const auto tickets = read_whole_topic(suite->stack(), suite->topics().tickets_incoming);
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
  ASSERT_TRUE(suite->wait_until_drained(60s)) << suite->logs();

  const contracts::Validator validator;
  std::map<std::string, int> seen_types;
  for (const auto& topic : {suite->topics().webform_inbound, suite->topics().tickets_incoming,
                            suite->topics().escalations, suite->topics().metrics_agent}) {
    for (const auto& r : read_whole_topic(suite->stack(), topic)) {
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
  // The reply row commits before agent-worker publishes and counts the
  // record, so its counters may trail the outcome by a moment.
  std::string agent;
  for (int i = 0; i < 50 && agent.find("fte_consumer_records_total") == std::string::npos; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    agent = http_request(suite->admin_port("agent-worker"), "GET", "/metrics").body;
  }
  for (const char* family :
       {"fte_consumer_records_total", "fte_consumer_batch_size", "fte_consumer_record_age_seconds",
        "fte_consumer_handler_seconds", "fte_consumer_offset_commit_seconds",
        "fte_consumer_stage_seconds_bucket{stage=\"claim\"", "fte_consumer_stage_seconds_bucket{stage=\"ack_wait\"",
        "fte_consumer_stage_seconds_bucket{stage=\"commit\""}) {
    EXPECT_NE(agent.find(family), std::string::npos) << family;
  }
}

// agent-worker publishes an escalation request only after the ticket it
// names is committed (the outbox, ADR 0007), so the escalation service never
// meets a missing ticket: no retry, no fallback, nothing in the DLQ.
TEST_F(WebformFlow, EscalationsNeverWaitForUncommittedTicketsNoRetryNoDlq) {
  const char* kMessages[] = {"I want a refund for my order.", "Please cancel my subscription now.",
                             "Let me talk to a human please.", "My lawyer will contact you."};
  std::set<std::string> correlations;
  for (int i = 0; i < 200; ++i) {
    correlations.insert(accepted(
        form("race" + std::to_string(i % 20) + "@example.com", "Order " + std::to_string(i), kMessages[i % 4])));
  }
  ASSERT_TRUE(suite->wait_until_drained(120s)) << suite->logs();
  std::string in_list;
  for (const auto& c : correlations)
    in_list += (in_list.empty() ? "'" : ",'") + c + "'";
  EXPECT_EQ(suite->count("SELECT count(*) FROM escalations WHERE correlation_id IN (" + in_list + ")"), 200)
      << suite->logs();
  EXPECT_EQ(suite->count("SELECT count(*) FROM tickets t JOIN messages m ON m.ticket_id = t.id AND m.direction = "
                         "'inbound' WHERE t.status = 'escalated' AND m.correlation_id IN (" +
                         in_list + ")"),
            200);
  const auto metrics = http_request(suite->admin_port("escalation"), "GET", "/metrics").body;
  for (const char* series :
       {"fte_consumer_handler_attempts_total{result=\"retry\"} 0",
        "fte_consumer_handler_attempts_total{result=\"unavailable\"} 0",
        "fte_consumer_handler_attempts_total{result=\"poison\"} 0", "fte_consumer_batch_fallbacks_total 0"}) {
    EXPECT_NE(metrics.find(series), std::string::npos) << series << " in\n" << metrics;
  }
  EXPECT_EQ(read_whole_topic(suite->stack(), suite->topics().dlq).size(), 0U);
  EXPECT_TRUE(eventually([&] { return suite->count("SELECT count(*) FROM outbox") == 0; }, 5s))
      << "every output published and cleared";
}

TEST_F(WebformFlow, GatewayDrainsAndExitsZeroOnSigterm) {
  EXPECT_EQ(suite->stop("webhook-gateway"), 0) << suite->logs();
  suite->start("webhook-gateway");
  EXPECT_EQ(suite->submit(form("after@example.com", "Plan", "How do I upgrade my plan?")).status, 202);
}

} // namespace
} // namespace fte::testing
