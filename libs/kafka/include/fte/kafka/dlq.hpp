#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fte/kafka/producer.hpp"
#include "fte/kafka/record.hpp"

namespace fte::kafka {

/// Header names a DLQ record carries beside the original ones
/// (proto/asyncapi.yaml, DeadLetterHeaders).
namespace dlq_header {
inline constexpr std::string_view kPrefix = "dlq.";
inline constexpr std::string_view kOriginalTopic = "dlq.original.topic";
inline constexpr std::string_view kOriginalPartition = "dlq.original.partition";
inline constexpr std::string_view kOriginalOffset = "dlq.original.offset";
inline constexpr std::string_view kError = "dlq.error";
inline constexpr std::string_view kAttempts = "dlq.attempts";
inline constexpr std::string_view kService = "dlq.service";
inline constexpr std::string_view kGroup = "dlq.group";
inline constexpr std::string_view kReason = "dlq.reason";
} // namespace dlq_header

/// Header names `fte dlq redrive` adds to a record it sends back to its
/// origin topic. They survive a second trip to the DLQ (make_dlq_record
/// keeps every header but the `dlq.*` ones), so a record that fails again
/// says how often it has been re-driven.
namespace redrive_header {
inline constexpr std::string_view kPrefix = "redrive.";
/// 1, 2, ...: how many times the record has been re-driven.
inline constexpr std::string_view kCount = "redrive.count";
/// The uuid of the `fte dlq redrive` run (dlq_redrives.redrive_id).
inline constexpr std::string_view kId = "redrive.id";
} // namespace redrive_header

/// Why a record went to the DLQ, as a stable code (`dlq.reason`).
enum class DlqReason {
  /// Rejected before handling: not parseable, an envelope or schema
  /// violation, or a type the consumer does not accept.
  invalid_event,
  /// The handler, or a permanent database error, said it can never succeed.
  poison,
  /// Failed on every attempt.
  retries_exhausted,
};

[[nodiscard]] std::string_view to_string(DlqReason reason) noexcept;
/// The code as written in `dlq.reason`; nullopt for anything else.
[[nodiscard]] std::optional<DlqReason> parse_dlq_reason(std::string_view text) noexcept;

/// Why and where a record failed: what the `dlq.*` headers say beside its
/// original place.
struct DeadLetter {
  DlqReason reason = DlqReason::retries_exhausted;
  std::string error; ///< the last error; line breaks become spaces in dlq.error
  int attempts = 1;
  std::string service; ///< the consuming service, e.g. agent-worker
  std::string group;   ///< its consumer group, e.g. fte.agent-worker
};

/// The DLQ record for `original`: the same key, value and headers, plus the
/// `dlq.*` headers saying where it came from, why it failed, after how many
/// attempts and in which service and consumer group. The original key keeps
/// the same partition mapping, so a re-drive preserves per-customer order.
[[nodiscard]] ProducerRecord make_dlq_record(const ConsumedRecord& original, const DeadLetter& failure,
                                             std::string dlq_topic);

/// What a DLQ record's headers say. Records written before `dlq.group` and
/// `dlq.reason` existed lack them: `group` is then empty and `reason` is
/// inferred from the error text (see read_dlq_headers).
struct DlqHeaders {
  std::string original_topic; ///< empty when the record has no dlq.original.topic
  std::optional<std::int32_t> original_partition;
  std::optional<std::int64_t> original_offset;
  std::string error;
  std::optional<int> attempts;
  std::string service;
  std::string group;
  std::optional<DlqReason> reason;
  bool reason_inferred = false; ///< no (valid) dlq.reason header: taken from the error text
  int redrive_count = 0;        ///< redrive.count: re-drives before this failure
  std::string redrive_id;       ///< redrive.id of the last re-drive, if any
};

/// Reads the `dlq.*` and `redrive.*` headers. Never throws: a missing or
/// malformed number is nullopt (or 0 for the redrive count).
[[nodiscard]] DlqHeaders read_dlq_headers(const events::Headers& headers);

/// The record `fte dlq redrive` sends for `dlq_record`: back to its origin
/// topic and partition, with the original key, value and headers, every
/// `dlq.*` header removed, and `redrive.count` = `redrive_count`,
/// `redrive.id` = `redrive_id` (replacing earlier ones).
/// @throws std::invalid_argument when the record has no dlq.original.topic.
[[nodiscard]] ProducerRecord make_redrive_record(const ConsumedRecord& dlq_record, int redrive_count,
                                                 std::string_view redrive_id);

} // namespace fte::kafka
