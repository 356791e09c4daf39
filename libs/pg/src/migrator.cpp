#include "fte/pg/migrator.hpp"

#include <map>
#include <stdexcept>

#include "fte/common/ids.hpp"

namespace fte::pg {
namespace {

// Any constant shared by every fte binary: the lock that serialises migrations.
constexpr long long kMigrationLockKey = 0x66746531; // "fte1"

constexpr const char* kCreateHistorySql = "CREATE TABLE IF NOT EXISTS fte_schema_migrations ("
                                          " version integer PRIMARY KEY,"
                                          " name text NOT NULL,"
                                          " checksum text NOT NULL,"
                                          " applied_at timestamptz NOT NULL DEFAULT now())";
constexpr const char* kAppliedSql = "SELECT version, checksum FROM fte_schema_migrations ORDER BY version";
constexpr const char* kRecordSql = "INSERT INTO fte_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";

// Releases the advisory lock however run() leaves.
class AdvisoryLock {
public:
  explicit AdvisoryLock(pqxx::connection& connection) : connection_(connection) {
    pqxx::nontransaction tx(connection_);
    tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  }
  ~AdvisoryLock() {
    try {
      pqxx::nontransaction tx(connection_);
      tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    } catch (...) {
      // The session ends with the connection, and the lock with it.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

private:
  pqxx::connection& connection_;
};

} // namespace

std::string migration_checksum(const std::string& sql) { return sha256_hex(sql); }

Migrator::Migrator(std::vector<Migration> migrations, Logger logger)
    : migrations_(std::move(migrations)), logger_(std::move(logger)) {
  int previous = 0;
  for (const auto& m : migrations_) {
    if (m.version <= previous) {
      throw std::invalid_argument("migrations must have unique, increasing, positive versions; got " +
                                  std::to_string(m.version) + " after " + std::to_string(previous));
    }
    previous = m.version;
  }
}

int Migrator::latest_version() const noexcept { return migrations_.empty() ? 0 : migrations_.back().version; }

int Migrator::current_version(pqxx::connection& connection) {
  pqxx::read_transaction tx(connection);
  const auto exists = tx.exec1("SELECT to_regclass('fte_schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>()) {
    return 0;
  }
  const auto row = tx.exec1("SELECT COALESCE(MAX(version), 0) FROM fte_schema_migrations");
  return row[0].as<int>();
}

MigrationReport Migrator::run(pqxx::connection& connection) const {
  const AdvisoryLock lock(connection);
  {
    pqxx::work tx(connection);
    tx.exec(kCreateHistorySql);
    tx.commit();
  }
  std::map<int, std::string> applied;
  {
    pqxx::read_transaction tx(connection);
    for (const auto& row : tx.exec(kAppliedSql)) {
      applied.emplace(row[0].as<int>(), row[1].as<std::string>());
    }
  }
  MigrationReport report;
  report.previous_version = applied.empty() ? 0 : applied.rbegin()->first;
  if (report.previous_version > latest_version()) {
    throw MigrationError("the database is at schema version " + std::to_string(report.previous_version) +
                         ", newer than this fte knows (" + std::to_string(latest_version()) +
                         "); refusing to run: upgrade fte instead");
  }
  for (const auto& migration : migrations_) {
    const auto checksum = migration_checksum(migration.sql);
    if (const auto it = applied.find(migration.version); it != applied.end()) {
      if (it->second != checksum) {
        throw MigrationError("migration " + std::to_string(migration.version) + " (" + migration.name +
                             ") was changed after it was applied; write a new migration instead");
      }
      continue;
    }
    logger_.info("applying migration", {{"version", migration.version}, {"name", migration.name}});
    pqxx::work tx(connection);
    tx.exec(migration.sql);
    tx.exec_params(kRecordSql, migration.version, migration.name, checksum);
    tx.commit();
    report.applied.push_back(migration.version);
  }
  report.current_version = std::max(report.previous_version, latest_version());
  return report;
}

} // namespace fte::pg
