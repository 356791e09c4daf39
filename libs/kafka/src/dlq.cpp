#include "fte/kafka/dlq.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace fte::kafka {
namespace {

template <class Int> std::optional<Int> header_number(const events::Headers& headers, std::string_view name) {
  const auto text = events::find_header(headers, name);
  if (!text) return std::nullopt;
  Int value{};
  const auto* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || text->empty()) return std::nullopt;
  return value;
}

// The runner's error texts before dlq.reason existed: "poison: invalid
// envelope ...", "poison: schema violation ...", "poison: <service> does not
// handle event type ..." were rejected before handling; any other
// "poison: ..." came from the handler; the rest ran out of attempts.
DlqReason infer_reason(std::string_view error) {
  if (error.starts_with("poison: invalid envelope") || error.starts_with("poison: schema violation") ||
      (error.starts_with("poison: ") && error.find(" does not handle event type ") != std::string_view::npos)) {
    return DlqReason::invalid_event;
  }
  if (error.starts_with("poison: ")) return DlqReason::poison;
  return DlqReason::retries_exhausted;
}

// dlq.error is one line (proto/asyncapi.yaml): PostgreSQL's messages carry
// a CONTEXT or DETAIL line, which would break a header shown line by line.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_break = false;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      in_break = true;
      continue;
    }
    if (in_break && !out.empty()) out.push_back(' ');
    in_break = false;
    out.push_back(c);
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t'))
    out.pop_back();
  return out;
}

} // namespace

std::string_view to_string(DlqReason reason) noexcept {
  switch (reason) {
  case DlqReason::invalid_event: return "invalid_event";
  case DlqReason::poison: return "poison";
  case DlqReason::retries_exhausted: return "retries_exhausted";
  }
  return "retries_exhausted";
}

std::optional<DlqReason> parse_dlq_reason(std::string_view text) noexcept {
  for (const auto reason : {DlqReason::invalid_event, DlqReason::poison, DlqReason::retries_exhausted}) {
    if (text == to_string(reason)) return reason;
  }
  return std::nullopt;
}

ProducerRecord make_dlq_record(const ConsumedRecord& original, const DeadLetter& failure, std::string dlq_topic) {
  ProducerRecord record;
  record.topic = std::move(dlq_topic);
  record.key = original.key;
  record.value = original.value;
  record.headers = original.headers;
  // A record that already went through the DLQ (a re-drive that failed
  // again) gets fresh dlq.* headers, not a second set; its redrive.* headers
  // stay, so the DLQ shows how often it was re-driven.
  std::erase_if(record.headers, [](const events::Header& h) { return h.name.starts_with(dlq_header::kPrefix); });
  const auto add = [&](std::string_view name, std::string value) {
    record.headers.push_back({std::string(name), std::move(value)});
  };
  add(dlq_header::kOriginalTopic, original.topic);
  add(dlq_header::kOriginalPartition, std::to_string(original.partition));
  add(dlq_header::kOriginalOffset, std::to_string(original.offset));
  add(dlq_header::kError, one_line(failure.error));
  add(dlq_header::kAttempts, std::to_string(failure.attempts));
  add(dlq_header::kService, failure.service);
  add(dlq_header::kGroup, failure.group);
  add(dlq_header::kReason, std::string(to_string(failure.reason)));
  return record;
}

DlqHeaders read_dlq_headers(const events::Headers& headers) {
  DlqHeaders out;
  out.original_topic = events::find_header(headers, dlq_header::kOriginalTopic).value_or("");
  out.original_partition = header_number<std::int32_t>(headers, dlq_header::kOriginalPartition);
  out.original_offset = header_number<std::int64_t>(headers, dlq_header::kOriginalOffset);
  out.error = events::find_header(headers, dlq_header::kError).value_or("");
  out.attempts = header_number<int>(headers, dlq_header::kAttempts);
  out.service = events::find_header(headers, dlq_header::kService).value_or("");
  out.group = events::find_header(headers, dlq_header::kGroup).value_or("");
  out.reason = parse_dlq_reason(events::find_header(headers, dlq_header::kReason).value_or(""));
  if (!out.reason) {
    out.reason = infer_reason(out.error);
    out.reason_inferred = true;
  }
  out.redrive_count = std::max(0, header_number<int>(headers, redrive_header::kCount).value_or(0));
  out.redrive_id = events::find_header(headers, redrive_header::kId).value_or("");
  return out;
}

ProducerRecord make_redrive_record(const ConsumedRecord& dlq_record, int redrive_count, std::string_view redrive_id) {
  const auto origin = read_dlq_headers(dlq_record.headers);
  if (origin.original_topic.empty()) {
    throw std::invalid_argument("DLQ record " + dlq_record.topic + "/" + std::to_string(dlq_record.partition) + "@" +
                                std::to_string(dlq_record.offset) + " has no " +
                                std::string(dlq_header::kOriginalTopic) + " header");
  }
  ProducerRecord record;
  record.topic = origin.original_topic;
  // Its own partition, not the partitioner's choice: the same key maps there
  // anyway, and a record without a key keeps its place too.
  record.partition = origin.original_partition.value_or(kAnyPartition);
  record.key = dlq_record.key;
  record.value = dlq_record.value;
  record.headers = dlq_record.headers;
  std::erase_if(record.headers, [](const events::Header& h) {
    return h.name.starts_with(dlq_header::kPrefix) || h.name.starts_with(redrive_header::kPrefix);
  });
  record.headers.push_back({std::string(redrive_header::kCount), std::to_string(redrive_count)});
  record.headers.push_back({std::string(redrive_header::kId), std::string(redrive_id)});
  return record;
}

} // namespace fte::kafka
