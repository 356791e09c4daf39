// API tokens (ADR 0020) against the real PostgreSQL: the store, and the
// escalation API refusing every request without a token in force.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "escalation_api.hpp"
#include "fte/access/token_store.hpp"
#include "fte/pg/pool.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

using access::Role;

std::optional<access::Principal> lookup(const std::string& url, const std::string& token) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  return access::find_api_token(tx, token);
}

http::Request get(const std::string& target, const std::string& token) {
  http::Request request{boost::beast::http::verb::get, target, 11};
  if (!token.empty()) request.set(boost::beast::http::field::authorization, "Bearer " + token);
  return request;
}

class ApiTokenTest : public ::testing::Test {
protected:
  StackAddresses stack = StackAddresses::from_env();
  ScratchDatabase db{stack};
  pqxx::connection connection{db.url()};
};

TEST_F(ApiTokenTest, ATokenIsFoundUntilRevokedAndOnlyItsDigestIsStored) {
  const auto token = access::create_api_token(connection, {"zapier-sync", Role::supervisor, "ops@example.com", {}});
  const auto who = lookup(db.url(), token);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->name, "zapier-sync");
  EXPECT_EQ(who->role, Role::supervisor);
  {
    pqxx::read_transaction tx(connection);
    EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM api_tokens WHERE digest = $1", token)[0].as<int>(), 0);
    EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM api_tokens WHERE digest = $1", access::api_token_digest(token))[0]
                  .as<int>(),
              1);
  }
  // The name is taken while the token is in force.
  EXPECT_THROW((void)access::create_api_token(connection, {"zapier-sync", Role::agent, "ops@example.com", {}}),
               access::TokenRefused);

  EXPECT_TRUE(access::revoke_api_token(connection, "zapier-sync", "ops@example.com"));
  EXPECT_FALSE(lookup(db.url(), token).has_value());
  EXPECT_FALSE(access::revoke_api_token(connection, "zapier-sync", "ops@example.com"));

  // A revoked name can be issued again; the old token stays refused.
  const auto again = access::create_api_token(connection, {"zapier-sync", Role::agent, "ops@example.com", {}});
  EXPECT_EQ(lookup(db.url(), again)->role, Role::agent);
  EXPECT_FALSE(lookup(db.url(), token).has_value());
  const auto listed = access::list_api_tokens(connection, /*include_revoked=*/true);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(access::list_api_tokens(connection, /*include_revoked=*/false).size(), 1u);
  EXPECT_EQ(listed[1].revoked_by, "ops@example.com");
}

TEST_F(ApiTokenTest, ExpiredUnknownAndMalformedTokensAreNotFound) {
  const auto token =
      access::create_api_token(connection, {"short-lived", Role::agent, "ops@example.com", std::chrono::seconds(3600)});
  EXPECT_TRUE(lookup(db.url(), token).has_value());
  {
    pqxx::work tx(connection);
    tx.exec("UPDATE api_tokens SET expires_at = clock_timestamp() - interval '1 second'");
    tx.commit();
  }
  EXPECT_FALSE(lookup(db.url(), token).has_value());
  EXPECT_FALSE(lookup(db.url(), access::generate_api_token()).has_value());
  EXPECT_FALSE(lookup(db.url(), "' OR 1=1 --").has_value());
  EXPECT_THROW((void)access::create_api_token(connection, {"Bad Name", Role::agent, "ops", {}}), access::TokenRefused);
}

TEST_F(ApiTokenTest, TwoCreatorsRacingForOneNameGetOneToken) {
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      pqxx::connection c(db.url());
      try {
        (void)access::create_api_token(c, {"ci", Role::agent, "ops", {}});
        ++created;
      } catch (const access::TokenRefused&) {
        ++refused;
      } catch (const pqxx::unique_violation&) {
        ++refused; // lost the race after the check: the index decided
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(refused.load(), 7);
}

TEST_F(ApiTokenTest, TheEscalationApiAnswersOnlyATokenInForce) {
  pg::ConnectionPool pool(db.url(), 1, [](pqxx::connection& c) { runtime::Outbox::prepare(c); });
  const auto producer = test_producer(stack);
  const runtime::Outbox outbox("escalation-desk", pool, *producer, test_logger("outbox"));
  const escalation::desk::DeskStore desk(pool, outbox, "fte.desk.activity", {});
  const escalation::EscalationApi api(pool, escalation::EscalationApi::api_tokens(pool), nullptr, desk,
                                      test_logger("api"));
  const auto token = access::create_api_token(connection, {"desk-tool", Role::agent, "ops", {}});
  EXPECT_EQ(api.handle(get("/api/escalations", token)).result_int(), 200u);
  for (const std::string& bad : {std::string(), std::string("nope"), access::generate_api_token()}) {
    const auto response = api.handle(get("/api/escalations", bad));
    EXPECT_EQ(response.result_int(), 401u) << bad;
    EXPECT_EQ(response.body().find("escalations\":"), std::string::npos) << response.body();
  }
  ASSERT_TRUE(access::revoke_api_token(connection, "desk-tool", "ops"));
  EXPECT_EQ(api.handle(get("/api/escalations", token)).result_int(), 401u);
}

} // namespace
} // namespace fte::testing
