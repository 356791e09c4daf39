#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "fte/common/logging.hpp"

namespace fte::pg {

struct Migration {
  int version = 0;
  std::string name;
  std::string sql;
};

/// The database cannot be migrated safely: it was migrated by a newer fte, or
/// an applied migration's text changed since.
class MigrationError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct MigrationReport {
  int previous_version = 0;
  int current_version = 0;
  std::vector<int> applied; ///< versions applied by this run
};

/// Applies versioned SQL migrations in order, each in its own transaction
/// together with its row in `fte_schema_migrations`, under a session-level
/// advisory lock so concurrent runs (several pods starting) serialise.
/// Running it again applies nothing.
class Migrator {
public:
  /// `migrations` must be sorted by version, versions unique and positive.
  /// @throws std::invalid_argument otherwise.
  Migrator(std::vector<Migration> migrations, Logger logger);

  /// @throws MigrationError when the database is ahead of this binary or an
  ///         applied migration was edited; pqxx errors as they come.
  MigrationReport run(pqxx::connection& connection) const;

  /// The highest version applied to the database (0 when none).
  static int current_version(pqxx::connection& connection);

  [[nodiscard]] int latest_version() const noexcept;

private:
  std::vector<Migration> migrations_;
  Logger logger_;
};

/// Hex SHA-256 of a migration's text, stored to detect edits.
[[nodiscard]] std::string migration_checksum(const std::string& sql);

} // namespace fte::pg
