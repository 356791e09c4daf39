#include <iostream>

#include <pqxx/pqxx>

#include "commands.hpp"
#include "fte/pg/migrator.hpp"
#include "fte/schema/migrations.hpp"

namespace fte::cli {

void add_migrate_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* migrate = app.add_subcommand("migrate", "Apply the database migrations this fte carries, in order");
  auto status_only = std::make_shared<bool>(false);
  migrate->add_flag("--status", *status_only, "Only print the database's schema version");
  migrate->callback([&run, status_only] {
    run = [status_only](const Context& context) {
      pqxx::connection connection(database_url(context));
      const pg::Migrator migrator(schema::migrations(), context.logger);
      if (*status_only) {
        const int current = pg::Migrator::current_version(connection);
        std::cout << "schema version " << current << " (this fte knows up to " << migrator.latest_version() << ")\n";
        return kExitOk;
      }
      const auto report = migrator.run(connection);
      if (report.applied.empty()) {
        std::cout << "schema is up to date at version " << report.current_version << "\n";
      } else {
        std::cout << "migrated schema from version " << report.previous_version << " to " << report.current_version
                  << " (" << report.applied.size() << " migration(s) applied)\n";
      }
      return kExitOk;
    };
  });
}

} // namespace fte::cli
