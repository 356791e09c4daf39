#include "fte/runtime/outbox.hpp"

#include <algorithm>
#include <future>
#include <mutex>
#include <unordered_set>

#include <prometheus/histogram.h>

#include "fte/pg/array_literal.hpp"
#include "fte/runtime/periodic_task.hpp"

namespace fte::runtime {
namespace {

constexpr const char* kOutboxInsert = "fte_outbox_insert";
constexpr const char* kOutboxInsertSql =
    "INSERT INTO outbox (consumer_group, source_event_id, seq, topic, record_key, record_value, headers) "
    "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[])";
constexpr const char* kOutboxPending = "fte_outbox_pending";
constexpr const char* kOutboxPendingSql =
    "SELECT source_event_id, seq, topic, record_key, record_value, headers FROM outbox "
    "WHERE consumer_group = $1 AND source_event_id = ANY($2::text[]) ORDER BY source_event_id, seq";
// The oldest source events first, each with all of its rows.
constexpr const char* kOutboxLeftBehind = "fte_outbox_left_behind";
constexpr const char* kOutboxLeftBehindSql =
    "SELECT o.source_event_id, o.seq, o.topic, o.record_key, o.record_value, o.headers FROM outbox o "
    "JOIN (SELECT source_event_id, min(created_at) AS first FROM outbox "
    "      WHERE consumer_group = $1 AND created_at < now() - $2::bigint * interval '1 millisecond' "
    "      GROUP BY source_event_id ORDER BY first LIMIT $3) s USING (source_event_id) "
    "WHERE o.consumer_group = $1 ORDER BY s.first, o.source_event_id, o.seq";
constexpr const char* kOutboxDelete = "fte_outbox_delete";
constexpr const char* kOutboxDeleteSql =
    "DELETE FROM outbox WHERE consumer_group = $1 AND source_event_id = ANY($2::text[])";

std::string headers_json(const events::Headers& headers) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& h : headers)
    list.push_back({h.name, h.value});
  return list.dump();
}

events::Headers headers_from_json(const std::string& text) {
  events::Headers headers;
  for (const auto& pair : nlohmann::json::parse(text))
    headers.push_back({pair.at(0).get<std::string>(), pair.at(1).get<std::string>()});
  return headers;
}

kafka::ProducerRecord record_from_row(const pqxx::row& row) {
  kafka::ProducerRecord record;
  record.topic = row[2].as<std::string>();
  if (!row[3].is_null()) record.key = row[3].as<std::string>();
  record.value = row[4].as<std::string>();
  record.headers = headers_from_json(row[5].as<std::string>());
  return record;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Sends in order, then awaits every acknowledgement; the first failure, or "".
std::string send_all(kafka::Producer& producer, std::vector<kafka::ProducerRecord> records) {
  std::vector<std::future<kafka::DeliveryReport>> acks;
  acks.reserve(records.size());
  for (auto& record : records)
    acks.push_back(producer.send_async(std::move(record)));
  std::string failure;
  for (auto& ack : acks) {
    const auto report = ack.get();
    if (!report.ok() && failure.empty()) {
      failure = "publishing to " + report.topic + " failed: " + report.error.message() + " (" + report.detail + ")";
    }
  }
  return failure;
}

} // namespace

void Outputs::add_event(const std::string& source_event_id, std::string topic, std::string key,
                        const events::CloudEvent& event) {
  const int seq = next_seq_[source_event_id]++;
  items_.push_back(
      Item{source_event_id, seq, kafka::ProducerRecord::from_event(std::move(topic), std::move(key), event)});
}

// Deletes published outbox rows in the background, for every caller at once.
class Outbox::Cleaner {
public:
  Cleaner(const std::string& owner, pg::ConnectionPool& database, std::chrono::milliseconds interval,
          const Logger& logger, prometheus::Histogram* seconds)
      : owner_(owner), database_(database), logger_(logger), seconds_(seconds),
        task_(interval, [this](bool stopping) { tick(stopping); }) {}

  void published(std::vector<std::string> ids) {
    std::lock_guard lock(mutex_);
    for (auto& id : ids) {
      published_.insert(id);
      queued_.push_back(std::move(id));
    }
  }

  [[nodiscard]] bool published_not_cleared(const std::string& id) const {
    std::lock_guard lock(mutex_);
    return published_.contains(id);
  }

private:
  void tick(bool stopping) {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mutex_);
      ids.swap(queued_);
    }
    if (ids.empty()) return;
    const bool cleared = clean(ids);
    std::lock_guard lock(mutex_);
    if (cleared) {
      for (const auto& id : ids)
        published_.erase(id);
    } else if (!stopping) {
      // The database is away (an outage, a restart): try again next tick.
      queued_.insert(queued_.end(), std::make_move_iterator(ids.begin()), std::make_move_iterator(ids.end()));
    }
  }
  bool clean(const std::vector<std::string>& ids) {
    const auto started = std::chrono::steady_clock::now();
    pg::ArrayLiteral array;
    for (const auto& id : ids)
      array.add(id);
    try {
      auto connection = database_.acquire();
      pqxx::work tx(*connection);
      tx.exec("SET LOCAL synchronous_commit TO OFF");
      tx.exec_prepared(kOutboxDelete, owner_, array.str());
      tx.commit();
    } catch (const std::exception& e) {
      // Harmless meanwhile: rows still listed here are not republished, and
      // what is left at a crash is republished by its owner or pruned.
      logger_.warn("could not clear the outbox after publishing; will retry",
                   {{"error", e.what()}, {"events", ids.size()}});
      return false;
    }
    if (seconds_ != nullptr) seconds_->Observe(seconds_since(started));
    return true;
  }

  const std::string& owner_;
  pg::ConnectionPool& database_;
  const Logger& logger_;
  prometheus::Histogram* seconds_;
  mutable std::mutex mutex_;
  std::vector<std::string> queued_;
  std::unordered_set<std::string> published_;
  PeriodicTask task_; // last: its thread stops first, while the members above still exist
};

Outbox::Outbox(std::string owner, pg::ConnectionPool& database, kafka::Producer& producer, Logger logger,
               std::chrono::milliseconds cleanup_interval, prometheus::Histogram* cleanup_seconds)
    : owner_(std::move(owner)), producer_(producer), logger_(std::move(logger)) {
  cleaner_ = std::make_unique<Cleaner>(owner_, database, cleanup_interval, logger_, cleanup_seconds);
}

Outbox::~Outbox() = default;

void Outbox::prepare(pqxx::connection& connection) {
  connection.prepare(kOutboxInsert, kOutboxInsertSql);
  connection.prepare(kOutboxPending, kOutboxPendingSql);
  connection.prepare(kOutboxLeftBehind, kOutboxLeftBehindSql);
  connection.prepare(kOutboxDelete, kOutboxDeleteSql);
}

void Outbox::write(pqxx::work& tx, const Outputs& outputs) const {
  if (outputs.empty()) return;
  pg::ArrayLiteral sources, seqs, topics, keys, values, headers;
  for (const auto& item : outputs.items()) {
    sources.add(item.source_event_id);
    seqs.add(static_cast<std::int64_t>(item.seq));
    topics.add(item.record.topic);
    keys.add(item.record.key);
    values.add(item.record.value);
    headers.add(headers_json(item.record.headers));
  }
  tx.exec_prepared(kOutboxInsert, owner_, sources.str(), seqs.str(), topics.str(), keys.str(), values.str(),
                   headers.str());
}

Outbox::RecordsBySource Outbox::left_for(pqxx::work& tx, const std::vector<std::string>& source_event_ids) const {
  RecordsBySource result;
  pg::ArrayLiteral ids;
  for (const auto& id : source_event_ids) {
    if (!published_not_cleared(id)) ids.add(id);
  }
  if (ids.size() == 0) return result;
  for (const auto& row : tx.exec_prepared(kOutboxPending, owner_, ids.str()))
    result[row[0].as<std::string>()].push_back(record_from_row(row));
  return result;
}

std::vector<std::pair<std::string, std::vector<kafka::ProducerRecord>>>
Outbox::left_behind(pqxx::work& tx, std::chrono::milliseconds min_age, std::size_t limit) const {
  std::vector<std::pair<std::string, std::vector<kafka::ProducerRecord>>> result;
  for (const auto& row : tx.exec_prepared(kOutboxLeftBehind, owner_, static_cast<std::int64_t>(min_age.count()),
                                          static_cast<std::int64_t>(limit))) {
    auto source = row[0].as<std::string>();
    if (published_not_cleared(source)) continue;
    if (result.empty() || result.back().first != source)
      result.emplace_back(std::move(source), std::vector<kafka::ProducerRecord>{});
    result.back().second.push_back(record_from_row(row));
  }
  return result;
}

std::string Outbox::publish(const Outputs& outputs) const {
  std::vector<std::pair<std::string, std::vector<kafka::ProducerRecord>>> records;
  for (const auto& item : outputs.items()) {
    if (records.empty() || records.back().first != item.source_event_id) {
      records.emplace_back(item.source_event_id, std::vector<kafka::ProducerRecord>{});
    }
    records.back().second.push_back(item.record);
  }
  return publish(std::move(records));
}

std::string Outbox::publish(std::vector<std::pair<std::string, std::vector<kafka::ProducerRecord>>> records) const {
  std::vector<kafka::ProducerRecord> flat;
  std::vector<std::string> sources;
  for (auto& [source, list] : records) {
    sources.push_back(source);
    for (auto& record : list)
      flat.push_back(std::move(record));
  }
  if (flat.empty()) return {};
  auto failure = send_all(producer_, std::move(flat));
  if (failure.empty()) published(std::move(sources));
  return failure;
}

void Outbox::published(std::vector<std::string> source_event_ids) const {
  cleaner_->published(std::move(source_event_ids));
}

bool Outbox::published_not_cleared(const std::string& source_event_id) const {
  return cleaner_->published_not_cleared(source_event_id);
}

} // namespace fte::runtime
