// fte: the operator and engineer CLI (ARCHITECTURE.md, Shape).
#include <iostream>

#include "commands.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/pg/migrator.hpp"

int main(int argc, char** argv) {
  CLI::App app{"fte: provision, migrate and inspect the fte suite"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error (logs go to stderr as JSON)");
  std::map<std::string, std::string> overrides;
  app.add_option_function<std::string>(
      "--bootstrap", [&](const std::string& v) { overrides["FTE_KAFKA_BOOTSTRAP"] = v; },
      "Kafka bootstrap servers (FTE_KAFKA_BOOTSTRAP, default 127.0.0.1:19092)");
  app.add_option_function<std::string>(
      "--database-url", [&](const std::string& v) { overrides["FTE_DATABASE_URL"] = v; },
      "PostgreSQL URL (FTE_DATABASE_URL, default postgresql://fte@127.0.0.1:15432/fte)");

  std::function<int(const fte::cli::Context&)> run;
  fte::cli::add_migrate_command(app, run);
  fte::cli::add_topics_command(app, run);
  fte::cli::add_trace_command(app, run);
  fte::cli::add_customers_command(app, run);
  fte::cli::add_gmail_command(app, run);
  fte::cli::add_replay_command(app, run);
  fte::cli::add_lag_command(app, run);
  fte::cli::add_dlq_command(app, run);
  fte::cli::add_kb_command(app, run);
  fte::cli::add_eval_command(app, run);
  fte::cli::add_token_command(app, run);
  app.add_subcommand("version", "Print the version")->callback([&] {
    run = [](const fte::cli::Context&) {
      std::cout << "fte 0.1.0\n";
      return fte::cli::kExitOk;
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; any other parse error is a usage error (2),
    // whatever CLI11's own code for it.
    return app.exit(e) == 0 ? fte::cli::kExitOk : fte::cli::kExitUsage;
  }
  try {
    const fte::cli::Context context{fte::Environment::from_process().with(overrides),
                                    fte::Logger::to_stderr("fte", fte::Logger::parse_level(log_level))};
    return run ? run(context) : fte::cli::kExitFailure;
  } catch (const fte::cli::UsageError& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return fte::cli::kExitUsage;
  } catch (const fte::ConfigError& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return fte::cli::kExitFailure;
  } catch (const fte::pg::MigrationError& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return fte::cli::kExitFailure;
  } catch (const fte::kafka::AdminError& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return fte::cli::kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return fte::cli::kExitFailure;
  }
}
