// Migrations and the dedup transaction against the real PostgreSQL.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/pg/dedup.hpp"
#include "fte/pg/migrator.hpp"
#include "fte/pg/pool.hpp"
#include "fte/schema/migrations.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {
namespace {

class DatabaseTest : public ::testing::Test {
protected:
  StackAddresses stack = StackAddresses::from_env();
  pg::Migrator migrator{schema::migrations(), test_logger("migrator")};
};

TEST_F(DatabaseTest, MigrationsAppliedTwiceChangeNothing) {
  ScratchDatabase db(stack, /*migrate=*/false);
  pqxx::connection c(db.url());
  const auto first = migrator.run(c);
  EXPECT_EQ(first.previous_version, 0);
  EXPECT_EQ(first.current_version, migrator.latest_version());
  EXPECT_EQ(first.applied.size(), schema::migrations().size());

  const auto second = migrator.run(c);
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.current_version, migrator.latest_version());
  EXPECT_EQ(pg::Migrator::current_version(c), migrator.latest_version());

  pqxx::read_transaction tx(c);
  for (const char* table :
       {"customers", "customer_identifiers", "conversations", "tickets", "messages", "processed_messages",
        "escalations", "knowledge_base", "customer_identity_audit", "customer_merge_candidates"}) {
    EXPECT_TRUE(tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", table)[0].as<bool>()) << table;
  }
  const auto pk =
      tx.exec1("SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i "
               "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
               "WHERE i.indrelid = 'processed_messages'::regclass AND i.indisprimary");
  EXPECT_EQ(pk[0].as<std::string>(), "consumer_group,message_id");
}

TEST_F(DatabaseTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  ScratchDatabase db(stack, /*migrate=*/false);
  std::atomic<std::size_t> applied{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      pqxx::connection c(db.url());
      applied += migrator.run(c).applied.size();
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(applied.load(), schema::migrations().size());
}

TEST_F(DatabaseTest, RefusesADatabaseMigratedByANewerVersion) {
  ScratchDatabase db(stack);
  pqxx::connection c(db.url());
  {
    pqxx::work tx(c);
    tx.exec("INSERT INTO fte_schema_migrations (version, name, checksum) VALUES (9999, 'from_the_future', 'x')");
    tx.commit();
  }
  try {
    migrator.run(c);
    FAIL() << "expected MigrationError";
  } catch (const pg::MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("9999"), std::string::npos) << e.what();
  }
}

TEST_F(DatabaseTest, RefusesAMigrationEditedAfterItWasApplied) {
  ScratchDatabase db(stack);
  auto edited = schema::migrations();
  edited.front().sql += "\n-- edited";
  pqxx::connection c(db.url());
  EXPECT_THROW(pg::Migrator(edited, test_logger("migrator")).run(c), pg::MigrationError);
}

TEST_F(DatabaseTest, RunOnceAppliesOnceAndReportsTheDuplicate) {
  ScratchDatabase db(stack);
  pqxx::connection c(db.url());
  auto insert_customer = [](pqxx::work& tx) { tx.exec("INSERT INTO customers (display_name) VALUES ('Ada')"); };
  EXPECT_EQ(pg::run_once(c, GroupId("g"), EventId("e-1"), insert_customer), pg::DedupOutcome::applied);
  EXPECT_EQ(pg::run_once(c, GroupId("g"), EventId("e-1"), insert_customer), pg::DedupOutcome::duplicate);
  // Another group applies the same event independently.
  EXPECT_EQ(pg::run_once(c, GroupId("other"), EventId("e-1"), insert_customer), pg::DedupOutcome::applied);
  pqxx::read_transaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM customers")[0].as<int>(), 2);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM processed_messages")[0].as<int>(), 2);
}

TEST_F(DatabaseTest, RunOnceRecordsNothingWhenTheChangeFails) {
  ScratchDatabase db(stack);
  pqxx::connection c(db.url());
  EXPECT_THROW(pg::run_once(c, GroupId("g"), EventId("e-2"),
                            [](pqxx::work& tx) {
                              tx.exec("INSERT INTO customers (display_name) VALUES ('Grace')");
                              throw std::runtime_error("downstream failed");
                            }),
               std::runtime_error);
  {
    pqxx::read_transaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM processed_messages")[0].as<int>(), 0);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM customers")[0].as<int>(), 0);
  }
  // The retry applies.
  EXPECT_EQ(pg::run_once(c, GroupId("g"), EventId("e-2"),
                         [](pqxx::work& tx) { tx.exec("INSERT INTO customers (display_name) VALUES ('Grace')"); }),
            pg::DedupOutcome::applied);
}

TEST_F(DatabaseTest, ConcurrentDuplicatesApplyExactlyOnce) {
  ScratchDatabase db(stack);
  pg::ConnectionPool pool(db.url(), 8);
  std::atomic<int> applied{0}, duplicates{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto c = pool.acquire();
      const auto outcome = pg::run_once(*c, GroupId("g"), EventId("same"), [](pqxx::work& tx) {
        tx.exec("INSERT INTO customers (display_name) VALUES ('once')");
        tx.exec("SELECT pg_sleep(0.05)"); // widen the race window
      });
      (outcome == pg::DedupOutcome::applied ? applied : duplicates)++;
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(duplicates.load(), 7);
  auto c = pool.acquire();
  pqxx::read_transaction tx(*c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM customers")[0].as<int>(), 1);
}

TEST_F(DatabaseTest, CustomerIdentifiersAreUniquePerKindAndValue) {
  ScratchDatabase db(stack);
  pqxx::connection c(db.url());
  pqxx::work tx(c);
  const auto id = tx.exec1("INSERT INTO customers DEFAULT VALUES RETURNING id")[0].as<std::string>();
  tx.exec_params("INSERT INTO customer_identifiers (customer_id, kind, value) VALUES ($1, 'email', 'ada@example.com')",
                 id);
  tx.exec_params("INSERT INTO customer_identifiers (customer_id, kind, value) VALUES ($1, 'phone', '+15551234567')",
                 id);
  EXPECT_THROW(
      tx.exec_params(
          "INSERT INTO customer_identifiers (customer_id, kind, value) VALUES ($1, 'email', 'ada@example.com')", id),
      pqxx::unique_violation);
}

TEST_F(DatabaseTest, SeededKnowledgeBaseRanksByFullTextRelevance) {
  ScratchDatabase db(stack);
  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  EXPECT_GE(tx.exec1("SELECT count(*) FROM knowledge_base")[0].as<int>(), 10) << "migration 0002 seeds the FAQ";
  const std::vector<std::pair<std::string, std::string>> questions = {
      {"reset my password", "reset-password"},
      {"download invoice pdf", "download-invoice"},
      {"shipping delivery days", "shipping-times"},
  };
  for (const auto& [question, slug] : questions) {
    const auto best =
        tx.exec_params1("SELECT slug, ts_rank(search, q) FROM knowledge_base, websearch_to_tsquery('english', $1) q "
                        "WHERE search @@ q ORDER BY ts_rank(search, q) DESC LIMIT 1",
                        question);
    EXPECT_EQ(best[0].as<std::string>(), slug) << question;
    EXPECT_GT(best[1].as<double>(), 0.0);
  }
}

} // namespace
} // namespace fte::testing
