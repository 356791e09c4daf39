#include "dlq_records.hpp"

#include <algorithm>
#include <unordered_map>

#include "fte/common/time.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/kafka/group_inspector.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::cli::dlq {
namespace {

std::int64_t to_ms(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

std::string json_string(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The place of a record on its origin topic, for one consumer group.
using GroupPlace = std::tuple<std::string, std::string, std::int32_t, std::int64_t>;

} // namespace

Entry to_entry(kafka::ConsumedRecord record) {
  Entry entry;
  entry.dlq = kafka::read_dlq_headers(record.headers);
  entry.group = !entry.dlq.group.empty()     ? entry.dlq.group
                : !entry.dlq.service.empty() ? "fte." + entry.dlq.service
                                             : std::string();
  const auto parsed = events::parse_event(record.value, record.headers);
  if (const auto* event = std::get_if<events::CloudEvent>(&parsed)) {
    entry.event_id = event->id;
    entry.customer_id = event->customerid;
    entry.correlation_id = event->correlationid;
    entry.event_type = event->type;
  } else {
    // Rejected before handling: whatever the value still says.
    const auto json = nlohmann::json::parse(record.value, nullptr, /*allow_exceptions=*/false);
    if (json.is_object()) {
      entry.event_id = json_string(json, "id");
      entry.customer_id = json_string(json, "customerid");
      entry.correlation_id = json_string(json, "correlationid");
      entry.event_type = json_string(json, "type");
    }
    if (entry.correlation_id.empty()) {
      entry.correlation_id = events::find_header(record.headers, events::header::kCorrelationId).value_or("");
    }
    if (entry.event_type.empty()) {
      entry.event_type = events::find_header(record.headers, events::header::kCeType).value_or("");
    }
  }
  entry.customer = !entry.customer_id.empty() ? entry.customer_id : record.key.value_or("");
  entry.record = std::move(record);
  return entry;
}

bool Selection::empty() const noexcept {
  return !reason && !group && !customer && !topic && !from && !to && offsets.empty() && !event_id;
}

bool Selection::matches(const Entry& entry) const {
  if (reason && entry.dlq.reason != *reason) return false;
  if (group && entry.group != *group) return false;
  if (topic && entry.dlq.original_topic != *topic) return false;
  if (event_id && entry.event_id != *event_id) return false;
  if (from && entry.record.timestamp_ms < to_ms(*from)) return false;
  if (to && entry.record.timestamp_ms > to_ms(*to)) return false;
  if (!offsets.empty() && std::none_of(offsets.begin(), offsets.end(), [&](const OffsetRange& range) {
        return range.contains(entry.record.partition, entry.record.offset);
      })) {
    return false;
  }
  if (customer) {
    // DLQ records keep their original key, so any of the customer's keys.
    const auto keys = customer->keys_for(kafka::topics::kDlq);
    const bool by_key = entry.record.key && std::find(keys.begin(), keys.end(), *entry.record.key) != keys.end();
    if (!by_key && entry.customer_id != customer->customer_id) return false;
  }
  return true;
}

nlohmann::json Selection::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  if (reason) out["reason"] = std::string(kafka::to_string(*reason));
  if (group) out["group"] = *group;
  if (customer) {
    out["customer"] = customer_arg;
    out["customer_id"] = customer->customer_id;
  }
  if (topic) out["topic"] = *topic;
  if (from) out["from"] = format_rfc3339(*from);
  if (to) out["to"] = format_rfc3339(*to);
  if (!offsets.empty()) out["offsets"] = offsets_arg;
  if (event_id) out["event_id"] = *event_id;
  return out;
}

std::map<std::size_t, std::vector<LaterRecord>> find_overtaken(const std::vector<Entry>& entries,
                                                               const std::vector<Entry>& all_entries,
                                                               const std::vector<LaterRecord>& later,
                                                               const GroupProgress& progress) {
  // Records still waiting in the DLQ were finished (dead-lettered), not
  // processed, even below the committed offset.
  std::set<GroupPlace> waiting;
  for (const auto& e : all_entries) {
    if (!e.resolved && e.dlq.original_partition && e.dlq.original_offset) {
      waiting.insert({e.group, e.dlq.original_topic, *e.dlq.original_partition, *e.dlq.original_offset});
    }
  }
  std::map<std::tuple<std::string, std::int32_t, std::string>, std::vector<const LaterRecord*>> by_key;
  for (const auto& r : later) {
    if (r.key) by_key[{r.topic, r.partition, *r.key}].push_back(&r);
  }
  std::map<std::size_t, std::vector<LaterRecord>> out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.resolved || !e.record.key || e.dlq.original_topic.empty() || !e.dlq.original_partition ||
        !e.dlq.original_offset) {
      continue;
    }
    const auto candidates = by_key.find({e.dlq.original_topic, *e.dlq.original_partition, *e.record.key});
    if (candidates == by_key.end()) continue;
    const auto committed = progress.committed.find({e.group, e.dlq.original_topic, *e.dlq.original_partition});
    for (const auto* r : candidates->second) {
      if (r->offset <= *e.dlq.original_offset) continue;
      // A re-drive of this very record: it is the entry, not a later message.
      if (!e.event_id.empty() && r->event_id == e.event_id) continue;
      const bool below_commit = committed != progress.committed.end() && r->offset < committed->second &&
                                !waiting.contains({e.group, r->topic, r->partition, r->offset});
      if (below_commit || progress.is_processed(e.group, r->event_id)) out[i].push_back(*r);
    }
  }
  return out;
}

ListSummary summarize(const std::vector<Entry>& entries,
                      const std::map<std::size_t, std::vector<LaterRecord>>& overtaken) {
  using RowKey = std::tuple<std::string, std::string, std::string, std::string, bool>;
  std::map<RowKey, ListRow> rows;
  std::map<RowKey, std::set<std::tuple<std::string, std::int32_t, std::int64_t>>> overtaking_of_row;
  std::set<std::tuple<std::string, std::int32_t, std::int64_t>> overtaking;
  ListSummary summary;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::string reason(e.dlq.reason ? kafka::to_string(*e.dlq.reason) : "unknown");
    const RowKey key{e.dlq.original_topic, e.group, reason, e.customer, e.resolved};
    auto [it, fresh] = rows.try_emplace(key);
    auto& row = it->second;
    if (fresh) {
      row.origin_topic = e.dlq.original_topic;
      row.group = e.group;
      row.reason = reason;
      row.customer = e.customer;
      row.key = e.record.key.value_or("");
      row.resolved = e.resolved;
      row.oldest_ms = row.newest_ms = e.record.timestamp_ms;
      row.oldest_place = e.place();
    }
    ++row.count;
    if (e.record.timestamp_ms < row.oldest_ms) {
      row.oldest_ms = e.record.timestamp_ms;
      row.oldest_place = e.place();
      row.key = e.record.key.value_or("");
    }
    row.newest_ms = std::max(row.newest_ms, e.record.timestamp_ms);
    ++summary.records;
    if (e.resolved) ++summary.resolved_records;
    if (const auto found = overtaken.find(i); found != overtaken.end()) {
      for (const auto& r : found->second) {
        overtaking_of_row[key].insert({r.topic, r.partition, r.offset});
        overtaking.insert({r.topic, r.partition, r.offset});
      }
    }
  }
  std::set<std::string> customers;
  for (auto& [key, row] : rows) {
    row.overtaken_by = overtaking_of_row[key].size();
    if (row.overtaken_by > 0) customers.insert(row.customer);
    summary.rows.push_back(std::move(row));
  }
  summary.overtaken_customers = customers.size();
  summary.overtaking_records = overtaking.size();
  return summary;
}

std::string escape_text(std::string_view text, bool one_line) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  const auto escape_byte = [&](unsigned char c) {
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += one_line ? "\\n" : "\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      escape_byte(c);
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      // A UTF-8 sequence is kept whole when it is well formed (no overlong
      // forms, no surrogates, nothing above U+10FFFF); otherwise its first
      // byte is escaped and the rest is looked at again.
      const std::size_t width = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      bool valid = width > 0 && i + width <= text.size();
      std::uint32_t code = width == 2 ? (c & 0x1F) : width == 3 ? (c & 0x0F) : (c & 0x07);
      for (std::size_t k = 1; valid && k < width; ++k) {
        const auto next = static_cast<unsigned char>(text[i + k]);
        valid = (next & 0xC0) == 0x80;
        code = (code << 6) | (next & 0x3F);
      }
      if (valid) {
        valid = (width == 2 && code >= 0x80) || (width == 3 && code >= 0x800 && (code < 0xD800 || code > 0xDFFF)) ||
                (width == 4 && code >= 0x10000 && code <= 0x10FFFF);
      }
      if (!valid) {
        escape_byte(c);
      } else {
        out.append(text.substr(i, width));
        i += width;
        continue;
      }
    }
    ++i;
  }
  return out;
}

Payload pretty_payload(std::string_view value) {
  const auto json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return {false, escape_text(value)};
  return {true, json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)};
}

// ------------------------------------------------------------ reading

DlqSource::DlqSource(kafka::ClientSettings settings, std::string dlq_topic, Logger logger,
                     std::chrono::milliseconds timeout)
    : settings_(std::move(settings)), topic_(std::move(dlq_topic)), logger_(std::move(logger)), timeout_(timeout) {
  std::vector<kafka::TopicDescription> described;
  try {
    // A dead broker should not cost the whole read timeout to say so.
    kafka::TopicAdmin admin(settings_, logger_, std::min(timeout_, std::chrono::milliseconds(10'000)));
    described = admin.describe({topic_});
  } catch (const kafka::AdminError& e) {
    throw kafka::AdminError("Kafka at " + settings_.bootstrap + " is not answering (" + e.what() +
                            "); is the stack up, and is --bootstrap or FTE_KAFKA_BOOTSTRAP right?");
  }
  if (!described.at(0).exists) {
    throw kafka::AdminError("the DLQ topic " + topic_ + " does not exist on Kafka at " + settings_.bootstrap +
                            " (is FTE_TOPIC_PREFIX right? `fte topics create` makes it)");
  }
}

std::vector<Entry> DlqSource::read(std::optional<std::chrono::system_clock::time_point> since) const {
  std::vector<Entry> entries;
  kafka::TopicReader reader(settings_, logger_, timeout_);
  reader.read_to_end(topic_, since, [&](const kafka::ConsumedRecord& r) { entries.push_back(to_entry(r)); });
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.record.timestamp_ms, a.record.partition, a.record.offset) <
           std::tie(b.record.timestamp_ms, b.record.partition, b.record.offset);
  });
  return entries;
}

std::vector<Entry> DlqSource::read_at(const std::vector<std::pair<std::int32_t, std::int64_t>>& places) const {
  kafka::TopicReader reader(settings_, logger_, timeout_);
  std::vector<std::int32_t> partitions;
  for (const auto& [partition, offset] : places)
    partitions.push_back(partition);
  // Only places still in the log: the reader waits for a record that is
  // gone until its timeout.
  std::vector<kafka::PartitionSpan> spans;
  for (const auto& span : reader.spans(topic_, std::nullopt, partitions)) {
    for (const auto& [partition, offset] : places) {
      if (partition == span.partition && offset >= span.begin && offset < span.end) {
        spans.push_back({partition, offset, offset + 1});
      }
    }
  }
  std::vector<Entry> entries;
  reader.read(topic_, spans, [&](const kafka::ConsumedRecord& r) {
    entries.push_back(to_entry(r));
    return kafka::ReadOn::next;
  });
  return entries;
}

std::vector<Entry> DlqSource::read_offset(std::int64_t offset) const {
  kafka::TopicReader reader(settings_, logger_, timeout_);
  std::vector<std::pair<std::int32_t, std::int64_t>> places;
  for (const auto& span : reader.spans(topic_, std::nullopt)) {
    if (offset >= span.begin && offset < span.end) places.emplace_back(span.partition, offset);
  }
  return places.empty() ? std::vector<Entry>{} : read_at(places);
}

DlqSource::LaterScan DlqSource::later_records(const std::vector<Entry>& entries, pqxx::connection& database) const {
  LaterScan scan;
  // Per origin partition: where to start (after the earliest waiting
  // record) and which keys matter there.
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> start;
  std::map<std::pair<std::string, std::int32_t>, std::set<std::string>> keys;
  std::set<std::pair<std::string, std::string>> group_topics;
  for (const auto& e : entries) {
    if (e.resolved || !e.record.key || e.dlq.original_topic.empty() || !e.dlq.original_partition ||
        !e.dlq.original_offset || e.group.empty()) {
      continue;
    }
    const std::pair place{e.dlq.original_topic, *e.dlq.original_partition};
    auto [it, fresh] = start.try_emplace(place, *e.dlq.original_offset + 1);
    if (!fresh) it->second = std::min(it->second, *e.dlq.original_offset + 1);
    keys[place].insert(*e.record.key);
    group_topics.insert({e.group, e.dlq.original_topic});
  }
  if (start.empty()) return scan;

  std::map<std::string, std::vector<std::int32_t>> partitions_of;
  for (const auto& [place, first] : start)
    partitions_of[place.first].push_back(place.second);
  std::set<std::string> missing;
  {
    kafka::TopicAdmin admin(settings_, logger_, timeout_);
    std::vector<std::string> names;
    for (const auto& [topic, _] : partitions_of)
      names.push_back(topic);
    for (const auto& d : admin.describe(names)) {
      if (!d.exists) missing.insert(d.name);
    }
  }
  kafka::TopicReader reader(settings_, logger_, timeout_);
  for (const auto& [topic, partitions] : partitions_of) {
    if (missing.contains(topic)) continue;
    // From just after the earliest waiting record to the end as it is now.
    auto spans = reader.spans(topic, std::nullopt, partitions);
    for (auto& span : spans)
      span.begin = std::clamp(start.at({topic, span.partition}), span.begin, span.end);
    reader.read(topic, spans, [&](const kafka::ConsumedRecord& r) {
      const auto wanted = keys.find({r.topic, r.partition});
      if (!r.key || wanted == keys.end() || !wanted->second.contains(*r.key)) return kafka::ReadOn::next;
      LaterRecord later{r.topic, r.partition, r.offset, r.key, {}};
      const auto parsed = events::parse_event(r.value, r.headers);
      if (const auto* event = std::get_if<events::CloudEvent>(&parsed)) later.event_id = event->id;
      scan.records.push_back(std::move(later));
      return kafka::ReadOn::next;
    });
  }
  {
    std::set<std::string> groups;
    for (const auto& [group, topic] : group_topics)
      groups.insert(group);
    kafka::GroupInspector inspector(settings_, logger_, timeout_);
    for (const auto& [group, offsets] : inspector.committed_offsets({groups.begin(), groups.end()})) {
      for (const auto& [place, offset] : offsets) {
        if (group_topics.contains({group, place.topic})) {
          scan.progress.committed[{group, place.topic, place.partition}] = offset;
        }
      }
    }
  }
  // Records at or past a committed offset may still have been processed
  // (the commit follows every second or so): processed_messages says.
  std::vector<std::pair<std::string, std::string>> wanted;
  for (const auto& [group, topic] : group_topics) {
    for (const auto& r : scan.records) {
      if (r.topic != topic || r.event_id.empty()) continue;
      const auto committed = scan.progress.committed.find({group, topic, r.partition});
      if (committed == scan.progress.committed.end() || r.offset >= committed->second) {
        wanted.emplace_back(group, r.event_id);
      }
    }
  }
  scan.progress.processed = processed_pairs(database, wanted);
  scan.missing_topics.assign(missing.begin(), missing.end());
  return scan;
}

std::set<std::pair<std::string, std::string>>
processed_pairs(pqxx::connection& database, const std::vector<std::pair<std::string, std::string>>& wanted) {
  constexpr const char* kProcessedSql = "SELECT p.consumer_group, p.message_id FROM processed_messages p "
                                        "JOIN unnest($1::text[], $2::text[]) AS w(consumer_group, message_id) "
                                        "ON p.consumer_group = w.consumer_group AND p.message_id = w.message_id";
  constexpr std::size_t kChunk = 5000;
  std::set<std::pair<std::string, std::string>> found;
  pqxx::read_transaction tx(database);
  for (std::size_t at = 0; at < wanted.size(); at += kChunk) {
    pg::ArrayLiteral groups;
    pg::ArrayLiteral ids;
    for (std::size_t i = at; i < std::min(wanted.size(), at + kChunk); ++i) {
      groups.add(wanted[i].first);
      ids.add(wanted[i].second);
    }
    for (const auto& row : tx.exec_params(kProcessedSql, groups.str(), ids.str()))
      found.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  }
  return found;
}

void mark_resolved(std::vector<Entry>& entries, pqxx::connection& database) {
  std::vector<std::pair<std::string, std::string>> wanted;
  for (const auto& e : entries) {
    if (!e.group.empty() && !e.event_id.empty()) wanted.emplace_back(e.group, e.event_id);
  }
  const auto processed = processed_pairs(database, wanted);
  for (auto& e : entries)
    e.resolved = processed.contains({e.group, e.event_id});
}

} // namespace fte::cli::dlq
