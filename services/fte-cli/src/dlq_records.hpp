#pragma once

// What `fte dlq` knows about the DLQ: its records as entries (origin,
// reason, customer, event id), the selection an engineer makes, whether a
// record was resolved (re-driven and processed), and which customers were
// overtaken (a later message processed while an earlier one waits in the
// DLQ). The functions over entries are pure, so the rules are unit-tested
// without a broker; reading the topics and the database is separate below.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "fte/common/logging.hpp"
#include "fte/kafka/client_config.hpp"
#include "fte/kafka/dlq.hpp"
#include "fte/kafka/record.hpp"
#include "selection.hpp"

namespace fte::cli::dlq {

/// One DLQ record as `fte dlq` sees it.
struct Entry {
  kafka::ConsumedRecord record; ///< as read from the DLQ topic (its place, key, value, headers)
  kafka::DlqHeaders dlq;
  /// dlq.group; for a record written before dlq.group existed, the default
  /// group of its service (`fte.<dlq.service>`).
  std::string group;
  std::string event_id;       ///< the CloudEvent's id; empty when the value has none
  std::string customer_id;    ///< the CloudEvent's `customerid` extension, when present
  std::string customer;       ///< customer_id, else the record key: what list groups by
  std::string correlation_id; ///< empty when unknown
  std::string event_type;     ///< empty when unknown
  bool resolved = false;      ///< its event id is in processed_messages for its group

  [[nodiscard]] std::string place() const {
    return std::to_string(record.partition) + ":" + std::to_string(record.offset);
  }
};

/// Reads what a DLQ record says about itself. Never throws: a value that is
/// not a CloudEvent leaves the event fields empty (an id in a JSON object
/// is still taken, so a schema violation can be found by its id).
[[nodiscard]] Entry to_entry(kafka::ConsumedRecord record);

/// Which DLQ records an engineer means. Every criterion set must hold.
struct Selection {
  std::optional<kafka::DlqReason> reason;
  std::optional<std::string> group;
  std::optional<CustomerKeys> customer;
  std::string customer_arg;         ///< as typed, for the audit row
  std::optional<std::string> topic; ///< the origin topic, prefixed as deployed
  std::optional<std::chrono::system_clock::time_point> from;
  std::optional<std::chrono::system_clock::time_point> to;
  std::vector<OffsetRange> offsets; ///< places on the DLQ topic
  std::string offsets_arg;          ///< as typed
  std::optional<std::string> event_id;

  /// True when no criterion is set (everything matches).
  [[nodiscard]] bool empty() const noexcept;
  /// Whether `entry` meets every criterion. Times are when the record was
  /// written to the DLQ.
  [[nodiscard]] bool matches(const Entry& entry) const;
  /// The criteria as the audit tables keep them.
  [[nodiscard]] nlohmann::json to_json() const;
};

/// A record of an origin topic placed after a DLQ record's origin (same
/// topic and partition, higher offset).
struct LaterRecord {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::string event_id; ///< empty when it is not a CloudEvent

  friend bool operator==(const LaterRecord&, const LaterRecord&) = default;
};

/// What the consumer groups have done: committed offsets per (group, topic,
/// partition) and the (group, event id) pairs in processed_messages.
struct GroupProgress {
  std::map<std::tuple<std::string, std::string, std::int32_t>, std::int64_t> committed;
  std::set<std::pair<std::string, std::string>> processed;

  [[nodiscard]] bool is_processed(const std::string& group, const std::string& event_id) const {
    return !event_id.empty() && processed.contains({group, event_id});
  }
};

/// For each unresolved entry of `entries` (by index), the later records of
/// its key on its origin partition that its group has processed: below the
/// group's committed offset there (and not themselves waiting in the DLQ
/// for that group, per `all_entries`), or with an event id the group has in
/// processed_messages. A re-drive of the entry itself (the same event id)
/// does not count. Entries with no key, no origin or no overtaking record
/// are absent.
[[nodiscard]] std::map<std::size_t, std::vector<LaterRecord>> find_overtaken(const std::vector<Entry>& entries,
                                                                             const std::vector<Entry>& all_entries,
                                                                             const std::vector<LaterRecord>& later,
                                                                             const GroupProgress& progress);

/// One line of `fte dlq list`: the DLQ records of one origin topic, group,
/// reason and customer (and resolved or not).
struct ListRow {
  std::string origin_topic;
  std::string group;
  std::string reason;
  std::string customer;
  std::string key; ///< the record key of the oldest record (an email or phone on channel topics)
  bool resolved = false;
  std::size_t count = 0;
  std::int64_t oldest_ms = 0;
  std::int64_t newest_ms = 0;
  std::string oldest_place; ///< partition:offset on the DLQ, for `fte dlq show`
  /// Later records of this customer processed while one of these waits
  /// (distinct records; 0: not overtaken).
  std::size_t overtaken_by = 0;
};

struct ListSummary {
  std::vector<ListRow> rows; ///< ordered by origin topic, group, reason, customer
  std::size_t records = 0;
  std::size_t resolved_records = 0;
  std::size_t overtaken_customers = 0;
  std::size_t overtaking_records = 0;
};

/// Groups `entries` into rows. `overtaken` is find_overtaken's answer for
/// the same entries.
[[nodiscard]] ListSummary summarize(const std::vector<Entry>& entries,
                                    const std::map<std::size_t, std::vector<LaterRecord>>& overtaken);

/// A record value for a person: JSON indented, anything else as text with
/// control characters, backslashes and bytes that are not UTF-8 escaped
/// (`\n` stays a line break). `is_json` says which it was.
struct Payload {
  bool is_json = false;
  std::string text;
};
[[nodiscard]] Payload pretty_payload(std::string_view value);
/// `text` with control characters, backslashes and invalid UTF-8 escaped
/// as `\t`, `\\`, `\xNN`; line breaks stay unless `one_line` (then `\n`).
[[nodiscard]] std::string escape_text(std::string_view text, bool one_line = false);

// ------------------------------------------------------------ reading

/// The DLQ topic and the database behind one command.
class DlqSource {
public:
  /// Checks that Kafka answers and the DLQ topic exists.
  /// @throws std::runtime_error "Kafka at <bootstrap> is not answering ..."
  /// or naming the missing topic.
  DlqSource(kafka::ClientSettings settings, std::string dlq_topic, Logger logger, std::chrono::milliseconds timeout);

  [[nodiscard]] const std::string& topic() const noexcept { return topic_; }

  /// Every DLQ record written at or after `since` (all when nullopt).
  [[nodiscard]] std::vector<Entry> read(std::optional<std::chrono::system_clock::time_point> since) const;
  /// The DLQ records at these places (missing ones are skipped).
  [[nodiscard]] std::vector<Entry> read_at(const std::vector<std::pair<std::int32_t, std::int64_t>>& places) const;
  /// The DLQ records at `offset` in any partition.
  [[nodiscard]] std::vector<Entry> read_offset(std::int64_t offset) const;

  /// What find_overtaken needs for `entries`: the records of their keys
  /// after each unresolved entry's origin offset on its origin partition,
  /// and the groups' progress on them (committed offsets, and which of those
  /// records' ids processed_messages holds). An origin topic that no longer
  /// exists is skipped and named in `missing_topics`.
  struct LaterScan {
    std::vector<LaterRecord> records;
    GroupProgress progress;
    std::vector<std::string> missing_topics;
  };
  [[nodiscard]] LaterScan later_records(const std::vector<Entry>& entries, pqxx::connection& database) const;

private:
  kafka::ClientSettings settings_;
  std::string topic_;
  Logger logger_;
  std::chrono::milliseconds timeout_;
};

/// Sets `resolved` on each entry whose event id its group has in
/// processed_messages.
void mark_resolved(std::vector<Entry>& entries, pqxx::connection& database);

/// The (group, event id) pairs of `wanted` that processed_messages holds.
[[nodiscard]] std::set<std::pair<std::string, std::string>>
processed_pairs(pqxx::connection& database, const std::vector<std::pair<std::string, std::string>>& wanted);

} // namespace fte::cli::dlq
