#pragma once

// What `fte replay` and `fte dlq` share to say which records an engineer
// means: times (RFC 3339 or relative to now), offset ranges, a customer by
// id or by one of its identifiers, and who is running the command.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "fte/common/config.hpp"

namespace fte::cli {

/// RFC 3339 (`2026-11-24T09:00:00Z`, any offset) or relative to `now`:
/// `now`, `-90s`, `-30m`, `-2h`, `-7d` (also `2h`, meaning the same).
/// @throws UsageError naming `flag` and the accepted forms.
[[nodiscard]] std::chrono::system_clock::time_point parse_time_arg(std::string_view text, std::string_view flag,
                                                                   std::chrono::system_clock::time_point now);

/// `--from` and `--to` as typed (either may be empty: no bound).
struct TimeRange {
  std::optional<std::chrono::system_clock::time_point> from;
  std::optional<std::chrono::system_clock::time_point> to;
};

/// Both ends through parse_time_arg. @throws UsageError for either, or when
/// the range is inverted (`--from` after `--to`).
[[nodiscard]] TimeRange parse_time_range(std::string_view from, std::string_view to,
                                         std::chrono::system_clock::time_point now);

/// The records of one partition from `first` to `last`, both included
/// (`last` nullopt: to the end of the partition).
struct OffsetRange {
  std::int32_t partition = 0;
  std::int64_t first = 0;
  std::optional<std::int64_t> last;

  [[nodiscard]] bool contains(std::int32_t p, std::int64_t offset) const noexcept {
    return p == partition && offset >= first && (!last || offset <= *last);
  }
};

/// `P:A-B`, `P:A-` (to the end) or `P:A` (one record), comma-separated:
/// `3:100-200,4:7`. @throws UsageError.
[[nodiscard]] std::vector<OffsetRange> parse_offset_ranges(std::string_view text);

/// A customer and every key its records carry on the fte.* topics: the
/// customer id (tickets, escalations, metrics, the DLQ copies of those), its
/// email addresses (web form) and phone numbers (WhatsApp).
struct CustomerKeys {
  std::string customer_id;
  std::vector<std::string> emails; ///< lower case
  std::vector<std::string> phones; ///< E.164

  /// Every key, the customer id first.
  [[nodiscard]] std::vector<std::string> all_keys() const;
  /// The keys a topic with this contract name (no prefix) is keyed by.
  [[nodiscard]] std::vector<std::string> keys_for(std::string_view contract_topic) const;
};

/// Resolves a customer id (UUID), an email address or a phone number in
/// international form to the customer and its keys.
/// @throws UsageError when it parses as none of them or no customer has it.
[[nodiscard]] CustomerKeys resolve_customer(pqxx::connection& connection, std::string_view id_or_identifier);

/// Who runs the command, for the audit tables: FTE_ACTOR when set (a CI job,
/// a bastion that knows the person), else the login name and host.
[[nodiscard]] std::string actor(const Environment& env);

/// The topic's contract name (without the deployment's FTE_TOPIC_PREFIX),
/// for a topic given either way. @throws UsageError for a topic that is not
/// one of the seven, listing them.
[[nodiscard]] std::string contract_topic_name(std::string_view topic, std::string_view prefix);

/// The same PostgreSQL URL naming another database on the same server:
/// `postgresql://fte@host:5432/fte?sslmode=require` with `fte_sandbox_x`
/// gives `postgresql://fte@host:5432/fte_sandbox_x?sslmode=require`; a
/// key/value string (`host=... dbname=fte`) gets its dbname replaced.
[[nodiscard]] std::string with_database_name(const std::string& url, const std::string& database);

/// The database a URL names (`fte` when it names none, as libpq defaults
/// to the user's name only when there is no user either).
[[nodiscard]] std::string database_name_of(const std::string& url);

/// Asks `question` on the terminal and reads y/yes. False without a
/// terminal on stdin (a script must pass --yes).
[[nodiscard]] bool confirm_on_terminal(const std::string& question);

} // namespace fte::cli
