#include <iostream>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "commands.hpp"
#include "fte/common/time.hpp"
#include "fte/gmail/mailbox_watch.hpp"

namespace fte::cli {
namespace {

struct WatchFlags {
  std::string mailbox;
  std::string topic;
  std::vector<std::string> labels;
  bool json = false;
};

struct StopFlags {
  std::string mailbox;
};

std::string lower_ascii(std::string text) {
  for (auto& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  return text;
}

// Gmail access as the normalizer has it; the CLI cannot do without.
std::shared_ptr<gmail::TokenSource> tokens_or_throw(const Context& context) {
  auto tokens = gmail::token_source_from_env(context.env);
  if (!tokens) {
    throw ConfigError("FTE_GMAIL_CLIENT_ID",
                      "Gmail API access is not configured: set FTE_GMAIL_CLIENT_ID, FTE_GMAIL_CLIENT_SECRET and "
                      "FTE_GMAIL_REFRESH_TOKEN, or FTE_GOOGLE_SERVICE_ACCOUNT_FILE");
  }
  return tokens;
}

int watch(const Context& context, const WatchFlags& flags) {
  gmail::WatchRequest request{lower_ascii(flags.mailbox),
                              flags.topic.empty() ? context.env.get_or("FTE_GMAIL_PUBSUB_TOPIC", "") : flags.topic,
                              flags.labels};
  if (request.topic.empty()) {
    std::cerr << "fte: no Pub/Sub topic: pass --topic projects/P/topics/T or set FTE_GMAIL_PUBSUB_TOPIC\n";
    return kExitUsage;
  }
  gmail::GmailApi api(gmail::GmailApiOptions::from_env(context.env), tokens_or_throw(context));
  pqxx::connection database(database_url(context));
  try {
    const auto result = gmail::start_watch(api, database, request);
    if (flags.json) {
      std::cout << nlohmann::json{{"mailbox", request.mailbox},
                                  {"topic", request.topic},
                                  {"label_ids", request.label_ids},
                                  {"history_id", std::to_string(result.history_id)},
                                  {"expiration", format_rfc3339(result.expiration)}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << "watching " << request.mailbox << " on " << request.topic << " until "
                << format_rfc3339(result.expiration) << " (history id " << result.history_id
                << "); the channel-normalizer renews it a day before it lapses\n";
    }
    return kExitOk;
  } catch (const gmail::ApiError& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return kExitFailure;
  }
}

int stop(const Context& context, const StopFlags& flags) {
  const auto mailbox = lower_ascii(flags.mailbox);
  gmail::GmailApi api(gmail::GmailApiOptions::from_env(context.env), tokens_or_throw(context));
  try {
    api.stop(mailbox);
  } catch (const gmail::ApiError& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return kExitFailure;
  }
  // The cursor stays: a later `watch` resumes where reading stopped.
  pqxx::connection database(database_url(context));
  pqxx::work tx(database);
  tx.exec_params("UPDATE gmail_mailboxes SET watch_expiration = NULL, updated_at = now() WHERE mailbox = $1", mailbox);
  tx.commit();
  std::cout << "stopped the watch on " << mailbox << "; no renewal until `fte gmail watch` again\n";
  return kExitOk;
}

int status(const Context& context, bool json) {
  pqxx::connection database(database_url(context));
  pqxx::read_transaction tx(database);
  const auto rows =
      tx.exec("SELECT m.mailbox, m.history_id::text, m.last_message_internal_date, m.watch_topic, m.watch_expiration, "
              "(SELECT count(*) FROM gmail_messages_seen s WHERE s.mailbox = m.mailbox AND s.outcome = 'ticket'), "
              "(SELECT count(*) FROM gmail_messages_seen s WHERE s.mailbox = m.mailbox AND s.outcome = 'missing') "
              "FROM gmail_mailboxes m ORDER BY m.mailbox");
  auto out = nlohmann::json::array();
  for (const auto& row : rows) {
    const auto text = [&](int i) { return row[i].is_null() ? std::string() : row[i].as<std::string>(); };
    out.push_back({{"mailbox", text(0)},
                   {"history_id", text(1)},
                   {"last_message_internal_date", text(2)},
                   {"watch_topic", text(3)},
                   {"watch_expiration", text(4)},
                   {"tickets", row[5].as<long long>()},
                   {"missing", row[6].as<long long>()}});
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& m : out) {
    std::cout << m["mailbox"].get<std::string>() << "\n  cursor (history id): "
              << (m["history_id"].get<std::string>().empty() ? "none (next push backfills by date)"
                                                             : m["history_id"].get<std::string>())
              << "\n  newest message: " << m["last_message_internal_date"].get<std::string>()
              << "\n  watch: " << m["watch_topic"].get<std::string>() << " until "
              << m["watch_expiration"].get<std::string>() << "\n  ticket messages: " << m["tickets"]
              << ", waiting for Gmail to serve: " << m["missing"] << "\n";
  }
  if (out.empty()) std::cout << "no mailbox yet: `fte gmail watch --mailbox <address>` starts one\n";
  return kExitOk;
}

} // namespace

void add_gmail_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* gmail_cmd = app.add_subcommand("gmail", "Gmail mailboxes the channel-normalizer reads (ADR 0009)");
  gmail_cmd->require_subcommand(1);

  auto watch_flags = std::make_shared<WatchFlags>();
  auto* watch_cmd = gmail_cmd->add_subcommand(
      "watch", "Start or renew a mailbox's push notifications (users.watch); a new mailbox is read from now on");
  watch_cmd->add_option("--mailbox", watch_flags->mailbox, "The mailbox, e.g. support@example.com")->required();
  watch_cmd->add_option("--topic", watch_flags->topic,
                        "Pub/Sub topic projects/P/topics/T (default FTE_GMAIL_PUBSUB_TOPIC)");
  watch_cmd->add_option("--label", watch_flags->labels,
                        "Only push changes to this label (repeatable; e.g. INBOX). The fetch never relies on it");
  watch_cmd->add_flag("--json", watch_flags->json, "Print JSON");
  watch_cmd->callback(
      [&run, watch_flags] { run = [watch_flags](const Context& c) { return watch(c, *watch_flags); }; });

  auto stop_flags = std::make_shared<StopFlags>();
  auto* stop_cmd = gmail_cmd->add_subcommand("stop", "Stop a mailbox's push notifications (users.stop)");
  stop_cmd->add_option("--mailbox", stop_flags->mailbox, "The mailbox")->required();
  stop_cmd->callback([&run, stop_flags] { run = [stop_flags](const Context& c) { return stop(c, *stop_flags); }; });

  auto status_json = std::make_shared<bool>(false);
  auto* status_cmd = gmail_cmd->add_subcommand("status", "Each mailbox's cursor, newest message and watch");
  status_cmd->add_flag("--json", *status_json, "Print JSON");
  status_cmd->callback(
      [&run, status_json] { run = [status_json](const Context& c) { return status(c, *status_json); }; });
}

} // namespace fte::cli
