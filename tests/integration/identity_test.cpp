// Customer identity against the real PostgreSQL (ADR 0011): migration 0004,
// the normalizer's customer resolution and merge-candidate rule (its domain
// handler applied in a transaction, as the exactly-once handler would), and
// `fte customers link|unlink|show` run as the operator runs them. Needs only
// PostgreSQL (FTE_DATABASE_URL), not Kafka.
#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include <sys/wait.h>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "customer_directory.hpp"
#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/pg/migrator.hpp"
#include "fte/schema/migrations.hpp"
#include "fte/testing/stack.hpp"
#include "normalizer_handler.hpp"
#include "webform_normalizer.hpp"
#include "whatsapp_normalizer.hpp"

namespace fte::testing {
namespace {

using normalizer::CustomerDirectory;

constexpr const char* kAda = "+15551234567";

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(out); }
};

// Runs the built `fte` binary against `database_url`; stdout and stderr apart
// (stdout carries the JSON, stderr the refusal).
CliResult run_fte(const std::string& database_url, const std::string& args) {
  char err_path[] = "/tmp/fte-identity-test-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd >= 0) close(fd);
  const std::string command =
      std::string(FTE_CLI_PATH) + " --database-url '" + database_url + "' " + args + " 2>" + err_path;
  CliResult result;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), &pclose);
  std::array<char, 4096> buffer{};
  while (pipe && fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr)
    result.out += buffer.data();
  const int status = pclose(pipe.release());
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  result.err = text.str();
  std::remove(err_path);
  return result;
}

class IdentityTest : public ::testing::Test {
protected:
  struct Input {
    kafka::ConsumedRecord record;
    events::CloudEvent event;
  };

  static std::unique_ptr<Input> whatsapp_message(const std::string& sid, const std::string& from) {
    auto in = std::make_unique<Input>();
    in->record.topic = "fte.channels.whatsapp.inbound";
    in->record.key = from;
    in->event = events::make_origin_event(event_id_from_provider("twilio", sid), "/fte/webhook-gateway",
                                          std::string(normalizer::kWhatsappMessageType),
                                          {{"message_sid", sid},
                                           {"account_sid", "AC00000000000000000000000000000000"},
                                           {"from", from},
                                           {"to", "whatsapp:+14155238886"},
                                           {"profile_name", "Ada"},
                                           {"body", "hello from WhatsApp"},
                                           {"num_media", 0},
                                           {"media", nlohmann::json::array()},
                                           {"received_at", "2026-11-25T10:00:00.000Z"},
                                           {"params", nlohmann::json::object()}});
    return in;
  }
  static std::unique_ptr<Input> whatsapp_status(const std::string& sid, const std::string& to,
                                                const std::string& status) {
    auto in = std::make_unique<Input>();
    in->record.topic = "fte.channels.whatsapp.inbound";
    in->record.key = to;
    in->event = events::make_origin_event(event_id_from_provider("twilio-status", sid + ":" + status + ":"),
                                          "/fte/webhook-gateway", std::string(normalizer::kWhatsappStatusType),
                                          {{"message_sid", sid},
                                           {"message_status", status},
                                           {"to", to},
                                           {"from", "whatsapp:+14155238886"},
                                           {"account_sid", "AC00000000000000000000000000000000"},
                                           {"received_at", "2026-11-25T10:05:00.000Z"},
                                           {"params", nlohmann::json::object()}});
    return in;
  }
  static std::unique_ptr<Input> form(const std::string& email, const std::optional<std::string>& phone) {
    auto in = std::make_unique<Input>();
    in->record.topic = "fte.channels.webform.inbound";
    in->record.key = email;
    nlohmann::json data = {{"name", "Grace"},
                           {"email", email},
                           {"subject", "Order"},
                           {"message", "Where is my order?"},
                           {"received_at", "2026-11-25T10:01:00.000Z"}};
    if (phone) data["phone"] = *phone;
    in->event = events::make_origin_event(EventId(random_uuid()), "/fte/webhook-gateway",
                                          std::string(normalizer::kWebformType), std::move(data));
    return in;
  }

  /// Applies `inputs` as one batch in one committed transaction.
  runtime::Outputs apply(const std::vector<const Input*>& inputs) {
    std::vector<kafka::Delivery> deliveries;
    for (const auto* in : inputs)
      deliveries.push_back(kafka::Delivery{in->record, in->event, 1, logger});
    std::vector<const kafka::Delivery*> fresh;
    for (const auto& d : deliveries)
      fresh.push_back(&d);
    pqxx::connection c(db.url());
    handler.prepare(c);
    pqxx::work tx(c);
    runtime::Outputs outputs;
    handler.apply(tx, fresh, outputs);
    tx.commit();
    return outputs;
  }

  static nlohmann::json value_of(const runtime::Outputs::Item& item) {
    return nlohmann::json::parse(item.record.value);
  }

  long count(const std::string& sql) {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<long>();
  }
  std::string text(const std::string& sql) {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<std::string>();
  }
  std::string owner_of(const std::string& kind, const std::string& value) {
    pqxx::connection c(db.url());
    pqxx::read_transaction tx(c);
    const auto rows = tx.exec_params(
        "SELECT customer_id::text FROM customer_identifiers WHERE kind = $1 AND value = $2", kind, value);
    return rows.empty() ? std::string() : rows[0][0].as<std::string>();
  }

  StackAddresses stack = StackAddresses::from_env();
  ScratchDatabase db{stack};
  Logger logger = test_logger("identity");
  kafka::TopicNames topics = kafka::TopicNames::from_env(Environment::from_process());
  normalizer::NormalizerHandler handler{topics};
  contracts::Validator validator;
};

TEST(IdentityMigration, WhatsappIdentifiersBecomePhonesAndValuesMustBeNormalised) {
  const auto stack = StackAddresses::from_env();
  ScratchDatabase db(stack, /*migrate=*/false);
  auto all = schema::migrations();
  std::vector<pg::Migration> before_identity;
  for (const auto& m : all)
    if (m.version < 4) before_identity.push_back(m);
  pqxx::connection c(db.url());
  pg::Migrator(before_identity, test_logger("migrate")).run(c);
  {
    pqxx::work tx(c);
    const auto id = tx.exec1("INSERT INTO customers DEFAULT VALUES RETURNING id::text")[0].as<std::string>();
    tx.exec_params("INSERT INTO customer_identifiers (customer_id, kind, value) VALUES ($1, 'whatsapp', $2)", id, kAda);
    tx.commit();
  }
  pg::Migrator(all, test_logger("migrate")).run(c);
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT kind FROM customer_identifiers")[0].as<std::string>(), "phone");
  const auto id = tx.exec1("SELECT customer_id::text FROM customer_identifiers")[0].as<std::string>();
  for (const auto& [kind, value] : std::vector<std::pair<std::string, std::string>>{{"whatsapp", "+15550000001"},
                                                                                    {"email", "Ada@Example.com"},
                                                                                    {"phone", "+1 555 000 0002"},
                                                                                    {"phone", "15550000003"},
                                                                                    {"email", "nobody"}}) {
    tx.exec("SAVEPOINT s");
    EXPECT_THROW(tx.exec_params("INSERT INTO customer_identifiers (customer_id, kind, value) VALUES ($1, $2, $3)", id,
                                kind, value),
                 pqxx::check_violation)
        << kind << " " << value;
    tx.exec("ROLLBACK TO SAVEPOINT s");
  }
}

TEST_F(IdentityTest, AWhatsappSenderIsAPhoneCustomerLinkedOnProofAndAudited) {
  const auto message = whatsapp_message("SM01", kAda);
  const auto outputs = apply({message.get()});
  ASSERT_EQ(outputs.items().size(), 1U);
  const auto customer = owner_of("phone", kAda);
  EXPECT_EQ(customer, CustomerDirectory::new_customer_id({identity::IdentifierKind::phone, kAda}, 0));
  const auto ticket = value_of(outputs.items()[0]);
  EXPECT_EQ(outputs.items()[0].record.key, customer);
  EXPECT_EQ(ticket["data"]["customer_id"], customer);
  EXPECT_EQ(ticket["data"]["channel"], "whatsapp");
  EXPECT_FALSE(validator.validate_received(ticket)) << *validator.validate_received(ticket);
  EXPECT_EQ(count("SELECT count(*) FROM customer_identity_audit WHERE action = 'link' AND actor = "
                  "'channel-normalizer' AND source_event_id = '" +
                  message->event.id + "'"),
            1);
  // The next message finds the customer and audits nothing more.
  const auto again = whatsapp_message("SM02", kAda);
  EXPECT_EQ(value_of(apply({again.get()}).items()[0])["data"]["customer_id"], customer);
  EXPECT_EQ(count("SELECT count(*) FROM customer_identity_audit"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM customers"), 1);
}

TEST_F(IdentityTest, AFormClaimingAnotherCustomersPhoneRecordsAMergeCandidateAndMergesNothing) {
  const auto message = whatsapp_message("SM10", kAda);
  apply({message.get()});
  const auto ada = owner_of("phone", kAda);

  const auto claim = form("grace@example.com", std::string(kAda));
  const auto outputs = apply({claim.get()});
  const auto grace = owner_of("email", "grace@example.com");
  ASSERT_FALSE(grace.empty());
  EXPECT_NE(grace, ada);
  EXPECT_EQ(owner_of("phone", kAda), ada); // the phone stays where it was proven
  const auto ticket = value_of(outputs.items()[0]);
  EXPECT_EQ(ticket["data"]["customer_id"], grace);
  EXPECT_EQ(ticket["data"]["channel_metadata"]["claimed_phone"], kAda);
  EXPECT_FALSE(validator.validate_received(ticket)) << *validator.validate_received(ticket);

  EXPECT_EQ(count("SELECT count(*) FROM customer_merge_candidates WHERE status = 'open' AND kind = 'phone' AND "
                  "value = '" +
                  std::string(kAda) + "' AND owner_customer_id = '" + ada + "' AND claimant_customer_id = '" + grace +
                  "' AND source_event_id = '" + claim->event.id + "' AND claims = 1"),
            1);
  // Claimed again (twice in one batch): still one open candidate, counted.
  const auto second = form("grace@example.com", std::string(kAda));
  const auto third = form("grace@example.com", std::string(kAda));
  apply({second.get(), third.get()});
  EXPECT_EQ(count("SELECT count(*) FROM customer_merge_candidates"), 1);
  EXPECT_EQ(count("SELECT claims FROM customer_merge_candidates"), 3);
  EXPECT_EQ(text("SELECT last_source_event_id FROM customer_merge_candidates"), third->event.id);
}

TEST_F(IdentityTest, APhoneNobodyOwnsIsNotLinkedOnlyKeptInTheMessage) {
  const auto claim = form("grace@example.com", std::string("+15550009999"));
  const auto outputs = apply({claim.get()});
  EXPECT_EQ(count("SELECT count(*) FROM customer_identifiers WHERE kind = 'phone'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM customer_merge_candidates"), 0);
  EXPECT_EQ(value_of(outputs.items()[0])["data"]["channel_metadata"]["claimed_phone"], "+15550009999");
  // The sender's own phone claimed on a form: nothing to decide either.
  const auto grace = owner_of("email", "grace@example.com");
  ASSERT_EQ(run_fte(db.url(), "customers link --customer " + grace + " --kind phone --value +15550009999 --by test")
                .exit_code,
            0);
  const auto own = form("grace@example.com", std::string("+15550009999"));
  apply({own.get()});
  EXPECT_EQ(count("SELECT count(*) FROM customer_merge_candidates"), 0);
}

TEST_F(IdentityTest, AStatusReachesTheCustomerOfItsNumberAndAnUnknownNumberIsPoison) {
  const auto message = whatsapp_message("SM20", kAda);
  apply({message.get()});
  const auto ada = owner_of("phone", kAda);
  const auto status = whatsapp_status("SM99", kAda, "delivered");
  const auto outputs = apply({status.get()});
  ASSERT_EQ(outputs.items().size(), 1U);
  EXPECT_EQ(outputs.items()[0].record.key, ada);
  EXPECT_EQ(outputs.items()[0].record.topic, topics.tickets_incoming);
  const auto update = value_of(outputs.items()[0]);
  EXPECT_EQ(update["type"], normalizer::kDeliveryUpdatedType);
  EXPECT_EQ(update["data"]["customer_id"], ada);
  EXPECT_EQ(update["data"]["provider_message_id"], "SM99");
  EXPECT_FALSE(validator.validate_received(update)) << *validator.validate_received(update);

  const auto stranger = whatsapp_status("SM98", "+15550001111", "delivered");
  try {
    apply({stranger.get()});
    FAIL() << "expected PoisonError";
  } catch (const kafka::PoisonError& e) {
    EXPECT_NE(std::string(e.what()).find("+15550001111"), std::string::npos) << e.what();
  }
  EXPECT_EQ(count("SELECT count(*) FROM customers"), 1); // nobody was created for it
}

TEST_F(IdentityTest, MessagesAndStatusesOfOneBatchKeepTheirOrder) {
  const auto first = whatsapp_message("SM30", kAda);
  const auto status = whatsapp_status("SM31", kAda, "read");
  const auto form_message = form("grace@example.com", std::nullopt);
  // The status refers to the number whose first message is in the same batch.
  const auto outputs = apply({first.get(), status.get(), form_message.get()});
  ASSERT_EQ(outputs.items().size(), 3U);
  EXPECT_EQ(value_of(outputs.items()[0])["type"], normalizer::kTicketMessageType);
  EXPECT_EQ(value_of(outputs.items()[1])["type"], normalizer::kDeliveryUpdatedType);
  EXPECT_EQ(value_of(outputs.items()[2])["data"]["channel"], "webform");
}

TEST_F(IdentityTest, AnUnlinkedNumberStartsANewCustomerInsteadOfReturningToTheOldOne) {
  const auto message = whatsapp_message("SM40", kAda);
  apply({message.get()});
  const auto first = owner_of("phone", kAda);
  const auto unlinked = run_fte(db.url(), "customers unlink --customer " + first + " --kind phone --value " +
                                              std::string(kAda) + " --by test --reason 'number reassigned'");
  ASSERT_EQ(unlinked.exit_code, 0) << unlinked.err;
  const auto later = whatsapp_message("SM41", kAda);
  apply({later.get()});
  const auto second = owner_of("phone", kAda);
  EXPECT_NE(second, first);
  EXPECT_EQ(second, CustomerDirectory::new_customer_id({identity::IdentifierKind::phone, kAda}, 1));
  EXPECT_EQ(count("SELECT count(*) FROM customers"), 2);
}

TEST_F(IdentityTest, LinkUnlinkAndShowAsTheOperatorRunsThem) {
  const auto message = whatsapp_message("SM50", kAda);
  const auto grace_form = form("grace@example.com", std::nullopt);
  apply({message.get(), grace_form.get()});
  const auto ada = owner_of("phone", kAda);
  const auto grace = owner_of("email", "grace@example.com");

  // Linking a new identifier, normalised on the way in.
  auto r = run_fte(db.url(), "customers link --customer " + ada +
                                 " --kind email --value ' Ada@Example.COM ' --by alice --reason 'said so on the phone' "
                                 "--json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json()["outcome"], "linked");
  EXPECT_EQ(owner_of("email", "ada@example.com"), ada);
  // Again: nothing changes, nothing is audited.
  r = run_fte(db.url(), "customers link --customer " + ada + " --kind email --value ada@example.com --by alice --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json()["outcome"], "already_linked");
  EXPECT_EQ(count("SELECT count(*) FROM customer_identity_audit WHERE actor = 'alice'"), 1);

  // Someone else's identifier: refused without --move, nothing changed.
  r = run_fte(db.url(), "customers link --customer " + grace + " --kind phone --value '+1 555 123 4567' --by bob");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find(ada), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--move"), std::string::npos) << r.err;
  EXPECT_EQ(owner_of("phone", kAda), ada);

  // Bad input is a usage error.
  EXPECT_EQ(run_fte(db.url(), "customers link --customer " + grace + " --kind whatsapp --value x --by bob").exit_code,
            2);
  EXPECT_EQ(
      run_fte(db.url(), "customers link --customer " + grace + " --kind phone --value 5551234567 --by bob").exit_code,
      2);
  EXPECT_EQ(
      run_fte(db.url(), "customers link --customer not-a-uuid --kind phone --value +15551234567 --by bob").exit_code,
      2);
  EXPECT_EQ(
      run_fte(db.url(), "customers link --customer " + random_uuid() + " --kind phone --value +15550000000 --by b")
          .exit_code,
      4);

  // A form claims Ada's phone for Grace; the operator moves it and the
  // candidate is settled by that decision.
  const auto claim = form("grace@example.com", std::string(kAda));
  apply({claim.get()});
  r = run_fte(db.url(), "customers show --email grace@example.com --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.json()["merge_candidates"].size(), 1U);
  EXPECT_EQ(r.json()["merge_candidates"][0]["owner_customer_id"], ada);
  r = run_fte(db.url(), "customers link --customer " + grace + " --kind phone --value " + std::string(kAda) +
                            " --by bob --move --reason 'same person, confirmed by call' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json()["outcome"], "moved");
  EXPECT_EQ(r.json()["previous_customer_id"], ada);
  EXPECT_EQ(r.json()["accepted_merge_candidates"], 1);
  EXPECT_EQ(owner_of("phone", kAda), grace);
  EXPECT_EQ(count("SELECT count(*) FROM customer_merge_candidates WHERE status = 'accepted' AND decided_by = 'bob' "
                  "AND decided_at IS NOT NULL"),
            1);

  // show, by each way of finding a customer.
  r = run_fte(db.url(), "customers show --phone '+1 (555) 123-4567' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto view = r.json();
  EXPECT_EQ(view["customer"]["id"], grace);
  EXPECT_EQ(view["identifiers"].size(), 2U);
  EXPECT_TRUE(view["merge_candidates"].empty());
  ASSERT_FALSE(view["audit"].empty());
  EXPECT_EQ(view["audit"][0]["action"], "move");
  EXPECT_EQ(view["audit"][0]["actor"], "bob");
  EXPECT_EQ(view["audit"][0]["previous_customer_id"], ada);
  EXPECT_EQ(view["audit"][0]["reason"], "same person, confirmed by call");
  r = run_fte(db.url(), "customers show " + ada + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  view = r.json();
  EXPECT_EQ(view["identifiers"].size(), 1U);     // the email alice linked
  EXPECT_EQ(view["audit"][0]["action"], "move"); // the move away from Ada is in her history too
  r = run_fte(db.url(), "customers show " + ada);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("IDENTIFIERS"), std::string::npos);
  EXPECT_EQ(run_fte(db.url(), "customers show --phone +15550007777").exit_code, 4);
  EXPECT_EQ(run_fte(db.url(), "customers show").exit_code, 2);

  // unlink: refused from the wrong customer, done from the right one.
  EXPECT_EQ(run_fte(db.url(),
                    "customers unlink --customer " + ada + " --kind phone --value " + std::string(kAda) + " --by bob")
                .exit_code,
            4);
  r = run_fte(db.url(), "customers unlink --customer " + grace + " --kind phone --value " + std::string(kAda) +
                            " --by bob --reason 'wrong person' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json()["remaining_identifiers"], 1);
  EXPECT_TRUE(owner_of("phone", kAda).empty());
  EXPECT_EQ(count("SELECT count(*) FROM customer_identity_audit WHERE action = 'unlink' AND actor = 'bob' AND "
                  "reason = 'wrong person' AND customer_id = '" +
                  grace + "'"),
            1);
}

} // namespace
} // namespace fte::testing
