#pragma once

// `fte dlq list|show|redrive`: what the three subcommands share. Registered
// by add_dlq_command (commands.hpp).

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "commands.hpp"
#include "dlq_records.hpp"

namespace fte::cli::dlq {

/// The selection flags as typed (empty: not given).
struct SelectionFlags {
  std::string reason;
  std::string group;
  std::string customer;
  std::string topic;
  std::string from;
  std::string to;
  std::string offsets;
  std::string event_id;
};

/// Checks and resolves the flags: the reason code, the origin topic (with
/// or without the deployment's prefix), the times (`--from` not after
/// `--to`), the DLQ offset ranges, the customer (looked up in `database`,
/// only when --customer is given). @throws UsageError
[[nodiscard]] Selection make_selection(const Context& context, const SelectionFlags& flags, pqxx::connection* database);

/// A connection to the deployment's database, with a clear error when it
/// does not answer. @throws std::runtime_error
[[nodiscard]] std::unique_ptr<pqxx::connection> connect_database(const Context& context);

/// The DLQ topic of the deployment, checked (Kafka answers, topic exists).
[[nodiscard]] DlqSource open_dlq(const Context& context, std::chrono::milliseconds timeout);

/// A time in milliseconds since the epoch, RFC 3339.
[[nodiscard]] std::string format_ms(std::int64_t ms);

struct RedriveFlags {
  SelectionFlags selection;
  bool all = false;
  bool force = false;
  bool yes = false;
  bool dry_run = false;
  bool json = false;
  int timeout_ms = 30'000;
};

/// `fte dlq redrive` (dlq_redrive.cpp).
int redrive(const Context& context, const RedriveFlags& flags);

} // namespace fte::cli::dlq
