// Customer identity across the running services (ADR 0011): a form's phone
// number is checked by the gateway, never linked by the normalizer, and a
// claim on another customer's number becomes a merge candidate; a WhatsApp
// message's customer is found by its number, and a status callback reaches
// that customer on fte.tickets.incoming.
#include <array>
#include <cstdio>
#include <memory>

#include <sys/wait.h>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/contracts/validator.hpp"
#include "fte/testing/shared_suite.hpp"
#include "fte/testing/suite.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

int run_fte(const std::string& database_url, const std::string& args) {
  const std::string command = std::string(FTE_CLI_PATH) + " --database-url '" + database_url + "' " + args;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), &pclose);
  std::array<char, 4096> buffer{};
  while (pipe && fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) {
  }
  const int status = pclose(pipe.release());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class IdentityFlow : public SharedSuiteTest<IdentityFlow> {
protected:
  static std::string customer_of(const std::string& kind, const std::string& value) {
    pqxx::connection c(suite->database_url());
    pqxx::read_transaction tx(c);
    const auto rows = tx.exec_params(
        "SELECT customer_id::text FROM customer_identifiers WHERE kind = $1 AND value = $2", kind, value);
    return rows.empty() ? std::string() : rows[0][0].as<std::string>();
  }

  // Submits and waits until the normalizer has stored the customer.
  static void submit_and_wait(const nlohmann::json& form) {
    const auto answer = suite->submit(form);
    ASSERT_EQ(answer.status, 202) << answer.body;
    ASSERT_TRUE(eventually([&] { return !customer_of("email", form["email"]).empty(); }, 60s)) << suite->logs();
    ASSERT_TRUE(suite->wait_until_drained(60s)) << suite->logs();
  }

  static nlohmann::json form(const std::string& email, const std::optional<std::string>& phone) {
    nlohmann::json body = {
        {"name", "Test Customer"}, {"email", email}, {"subject", "Order"}, {"message", "Where is my order?"}};
    if (phone) body["phone"] = *phone;
    return body;
  }
};

TEST_F(IdentityFlow, TheGatewayRefusesAPhoneThatIsNotAnInternationalNumber) {
  const auto answer = suite->submit(form("badphone@example.com", "555-1234"));
  EXPECT_EQ(answer.status, 400) << answer.body;
  EXPECT_EQ(answer.json()["error"]["code"], "invalid_phone_number");
  EXPECT_EQ(answer.json()["error"]["field"], "phone");
}

TEST_F(IdentityFlow, AFormPhoneIsNeverLinkedAndAClaimOnAnotherCustomersNumberAwaitsAPerson) {
  // A phone nobody has: kept in the message, linked to nobody.
  submit_and_wait(form("newphone@example.com", "+1 555 777 0002"));
  EXPECT_TRUE(customer_of("phone", "+15557770002").empty());
  EXPECT_EQ(suite->count("SELECT count(*) FROM customer_merge_candidates"), 0);

  // The owner: an operator links a number to the customer of a first form.
  submit_and_wait(form("owner@example.com", std::nullopt));
  const auto owner = customer_of("email", "owner@example.com");
  ASSERT_EQ(run_fte(suite->database_url(),
                    "customers link --customer " + owner + " --kind phone --value +15557770001 --by e2e"),
            0);

  // Someone else's form gives that number: a candidate, no merge.
  submit_and_wait(form("claimant@example.com", "+1 (555) 777-0001"));
  const auto claimant = customer_of("email", "claimant@example.com");
  EXPECT_NE(claimant, owner);
  EXPECT_EQ(customer_of("phone", "+15557770001"), owner);
  EXPECT_EQ(suite->count("SELECT count(*) FROM customer_merge_candidates WHERE status = 'open' AND kind = 'phone' "
                         "AND value = '+15557770001' AND owner_customer_id = '" +
                         owner + "' AND claimant_customer_id = '" + claimant + "'"),
            1)
      << suite->logs();
}

TEST_F(IdentityFlow, AWhatsappNumberIsItsCustomerAndAStatusReachesThatCustomer) {
  const contracts::Validator validator;
  const auto known = validator.known_types();
  for (const char* type : {"fte.whatsapp.message.received.v1", "fte.whatsapp.status.received.v1"}) {
    if (std::find(known.begin(), known.end(), type) == known.end()) {
      FAIL() << type << " has no schema in proto/ (proto/events/" << type << ".schema.json)";
    }
  }
  const std::string number = "+15557770003";
  auto producer = test_producer(suite->stack());
  auto message = events::make_origin_event(event_id_from_provider("twilio", "SMe2e0000000000000000000000000001"),
                                           "/fte/webhook-gateway", "fte.whatsapp.message.received.v1",
                                           {{"message_sid", "SMe2e0000000000000000000000000001"},
                                            {"account_sid", "AC00000000000000000000000000000000"},
                                            {"from", number},
                                            {"to", "whatsapp:+14155238886"},
                                            {"profile_name", "Ada"},
                                            {"body", "Where is my order?"},
                                            {"num_media", 0},
                                            {"media", nlohmann::json::array()},
                                            {"received_at", "2026-11-25T10:00:00.000Z"},
                                            {"client", nlohmann::json::object()},
                                            {"params", {{"Body", "Where is my order?"}}}});
  message.subject = number;
  ASSERT_TRUE(
      producer->send(kafka::ProducerRecord::from_event(suite->topics().whatsapp_inbound, number, message)).ok());
  ASSERT_TRUE(eventually([&] { return !customer_of("phone", number).empty(); }, 60s)) << suite->logs();
  const auto customer = customer_of("phone", number);

  auto status =
      events::make_origin_event(event_id_from_provider("twilio-status", "SMe2e0000000000000000000000000002:delivered:"),
                                "/fte/webhook-gateway", "fte.whatsapp.status.received.v1",
                                {{"message_sid", "SMe2e0000000000000000000000000002"},
                                 {"message_status", "delivered"},
                                 {"to", number},
                                 {"from", "whatsapp:+14155238886"},
                                 {"account_sid", "AC00000000000000000000000000000000"},
                                 {"received_at", "2026-11-25T10:05:00.000Z"},
                                 {"params", {{"MessageStatus", "delivered"}}}});
  status.subject = number;
  ASSERT_TRUE(producer->send(kafka::ProducerRecord::from_event(suite->topics().whatsapp_inbound, number, status)).ok());
  const auto records = read_topic(
      suite->stack(), suite->topics().tickets_incoming,
      [&](const std::vector<kafka::ConsumedRecord>& read) {
        return std::any_of(read.begin(), read.end(), [](const kafka::ConsumedRecord& r) {
          return events::find_header(r.headers, events::header::kCeType) == "fte.message.delivery.updated.v1";
        });
      },
      60s);
  const auto update = std::find_if(records.begin(), records.end(), [](const kafka::ConsumedRecord& r) {
    return events::find_header(r.headers, events::header::kCeType) == "fte.message.delivery.updated.v1";
  });
  ASSERT_NE(update, records.end()) << suite->logs();
  EXPECT_EQ(update->key, customer);
  const auto envelope = nlohmann::json::parse(update->value);
  EXPECT_FALSE(validator.validate_received(envelope)) << *validator.validate_received(envelope);
  EXPECT_EQ(envelope["data"]["status"], "delivered");
  EXPECT_EQ(envelope["data"]["customer_id"], customer);
}

} // namespace
} // namespace fte::testing
