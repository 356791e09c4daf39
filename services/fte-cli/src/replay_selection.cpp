#include "replay_selection.hpp"

#include <algorithm>
#include <map>

#include "commands.hpp"
#include "fte/common/time.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/kafka/murmur2.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::cli {
namespace {

std::int64_t millis_of(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

} // namespace

nlohmann::json ReplaySelection::to_json() const {
  nlohmann::json out = {{"topics", contract_topics}, {"topic_prefix", topic_prefix}};
  if (from) out["from"] = format_rfc3339(*from);
  if (to) out["to"] = format_rfc3339(*to);
  if (!offsets.empty()) {
    auto& list = out["offsets"] = nlohmann::json::array();
    for (const auto& r : offsets)
      list.push_back({{"partition", r.partition},
                      {"first", r.first},
                      {"last", r.last ? nlohmann::json(*r.last) : nlohmann::json(nullptr)}});
  }
  if (customer) out["customer_id"] = customer->customer_id;
  if (correlation_id) out["correlation_id"] = *correlation_id;
  if (!event_types.empty()) out["types"] = event_types;
  return out;
}

std::vector<SelectedRecord> select_records(kafka::TopicReader& reader, const ReplaySelection& selection,
                                           Progress* scanned) {
  if (selection.from && selection.to && *selection.from > *selection.to) {
    throw UsageError("the time range is inverted: --from " + format_rfc3339(*selection.from) + " is after --to " +
                     format_rfc3339(*selection.to));
  }
  std::vector<SelectedRecord> out;
  for (const auto& contract : selection.contract_topics) {
    const auto topic = selection.topic_prefix + contract;
    const int partition_count = reader.partition_count(topic);
    // A customer lives in the partitions its keys hash to: only those are read.
    std::set<std::string> keys;
    std::vector<std::int32_t> partitions;
    if (selection.customer) {
      for (const auto& key : selection.customer->keys_for(contract))
        keys.insert(key);
      if (keys.empty()) continue; // e.g. no phone number: nothing on the WhatsApp topic
      std::set<std::int32_t> unique;
      for (const auto& key : keys)
        unique.insert(kafka::partition_for_key(key, partition_count));
      partitions.assign(unique.begin(), unique.end());
    }
    if (!selection.offsets.empty()) {
      std::set<std::int32_t> ranged;
      for (const auto& range : selection.offsets) {
        if (range.partition >= partition_count) {
          throw UsageError("--offsets names partition " + std::to_string(range.partition) + " but " + topic + " has " +
                           std::to_string(partition_count));
        }
        if (partitions.empty() || std::find(partitions.begin(), partitions.end(), range.partition) != partitions.end())
          ranged.insert(range.partition);
      }
      partitions.assign(ranged.begin(), ranged.end());
      if (partitions.empty()) continue;
    }
    auto spans = reader.spans(topic, selection.from, partitions);
    for (auto& span : spans) {
      if (selection.offsets.empty()) continue;
      // Narrow to the union of the ranges on this partition.
      std::int64_t lo = span.end, hi = span.begin;
      for (const auto& r : selection.offsets) {
        if (r.partition != span.partition) continue;
        lo = std::min(lo, std::max(span.begin, r.first));
        hi = std::max(hi, r.last ? std::min(span.end, *r.last + 1) : span.end);
      }
      span.begin = lo;
      span.end = std::max(lo, hi);
    }
    const auto to_ms = selection.to ? std::optional<std::int64_t>(millis_of(*selection.to)) : std::nullopt;
    reader.read(topic, spans, [&](const kafka::ConsumedRecord& record) {
      if (scanned != nullptr) scanned->advance();
      if (to_ms && record.timestamp_ms > *to_ms) return kafka::ReadOn::stop_partition;
      if (!selection.offsets.empty() &&
          std::none_of(selection.offsets.begin(), selection.offsets.end(),
                       [&](const OffsetRange& r) { return r.contains(record.partition, record.offset); })) {
        return kafka::ReadOn::next;
      }
      if (!keys.empty() && (!record.key || !keys.contains(*record.key))) return kafka::ReadOn::next;
      if (selection.correlation_id &&
          events::find_header(record.headers, events::header::kCorrelationId) != *selection.correlation_id) {
        return kafka::ReadOn::next;
      }
      SelectedRecord selected{record, contract, std::nullopt};
      const auto parsed = events::parse_event(record.value, record.headers);
      const auto* event = std::get_if<events::CloudEvent>(&parsed);
      if (event != nullptr) selected.event_id = event->id;
      if (!selection.event_types.empty() &&
          (event == nullptr || std::find(selection.event_types.begin(), selection.event_types.end(), event->type) ==
                                   selection.event_types.end())) {
        return kafka::ReadOn::next;
      }
      out.push_back(std::move(selected));
      return kafka::ReadOn::next;
    });
  }
  return out;
}

std::set<std::string> customers_of(pqxx::connection& live, const std::vector<SelectedRecord>& records) {
  std::set<std::string> customers;
  pg::ArrayLiteral kinds, values;
  for (const auto& r : records) {
    if (!r.record.key) continue;
    if (r.contract_topic == kafka::topics::kWebformInbound || r.contract_topic == kafka::topics::kEmailInbound) {
      kinds.add("email");
      values.add(*r.record.key);
    } else if (r.contract_topic == kafka::topics::kWhatsappInbound) {
      kinds.add("phone");
      values.add(*r.record.key);
    } else {
      customers.insert(*r.record.key);
    }
  }
  if (kinds.size() > 0) {
    pqxx::read_transaction tx(live);
    for (const auto& row :
         tx.exec_params("SELECT DISTINCT i.customer_id::text FROM unnest($1::text[], $2::text[]) AS k(kind, value) "
                        "JOIN customer_identifiers i ON i.kind = k.kind AND i.value = k.value",
                        kinds.str(), values.str()))
      customers.insert(row[0].as<std::string>());
  }
  return customers;
}

} // namespace fte::cli
