#include "fte/runtime/exactly_once.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <unordered_set>

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "fte/pg/array_literal.hpp"
#include "fte/runtime/periodic_task.hpp"

namespace fte::runtime {
namespace {

// Sorted ids claim in a fixed order, so two batches that share ids (a
// redelivery racing a rebalance) cannot deadlock on the primary key.
constexpr const char* kClaim = "fte_claim";
constexpr const char* kClaimSql = "INSERT INTO processed_messages (consumer_group, message_id) "
                                  "SELECT $1, id FROM unnest($2::text[]) AS t(id) ORDER BY id "
                                  "ON CONFLICT (consumer_group, message_id) DO NOTHING RETURNING message_id";
constexpr const char* kOutboxInsert = "fte_outbox_insert";
constexpr const char* kOutboxInsertSql =
    "INSERT INTO outbox (consumer_group, source_event_id, seq, topic, record_key, record_value, headers) "
    "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[])";
constexpr const char* kOutboxPending = "fte_outbox_pending";
constexpr const char* kOutboxPendingSql =
    "SELECT source_event_id, seq, topic, record_key, record_value, headers FROM outbox "
    "WHERE consumer_group = $1 AND source_event_id = ANY($2::text[]) ORDER BY source_event_id, seq";
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

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

void Outputs::add_event(const std::string& source_event_id, std::string topic, std::string key,
                        const events::CloudEvent& event) {
  int seq = 0;
  for (auto it = items_.rbegin(); it != items_.rend() && it->source_event_id == source_event_id; ++it)
    seq = std::max(seq, it->seq + 1);
  items_.push_back(
      Item{source_event_id, seq, kafka::ProducerRecord::from_event(std::move(topic), std::move(key), event)});
}

struct ExactlyOnceHandler::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : family(prometheus::BuildHistogram()
                   .Name("fte_consumer_stage_seconds")
                   .Help("Time of each stage of an exactly-once batch: dedup claim, domain handler, outbox write, "
                         "commit, acknowledgement wait, outbox cleanup")
                   .Register(registry)),
        claim(add("claim")), handler(add("handler")), outbox(add("outbox_write")), commit(add("commit")),
        ack_wait(add("ack_wait")), cleanup(add("outbox_cleanup")) {}
  prometheus::Histogram& add(const std::string& stage) {
    return family.Add({{"stage", stage}},
                      prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                              0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10});
  }
  prometheus::Family<prometheus::Histogram>& family;
  prometheus::Histogram& claim;
  prometheus::Histogram& handler;
  prometheus::Histogram& outbox;
  prometheus::Histogram& commit;
  prometheus::Histogram& ack_wait;
  prometheus::Histogram& cleanup;
};

// Deletes published outbox rows in the background, for every lane at once.
class ExactlyOnceHandler::OutboxCleaner {
public:
  OutboxCleaner(const std::string& group, pg::ConnectionPool& database, std::chrono::milliseconds interval,
                const Logger& logger, prometheus::Histogram* seconds)
      : group_(group), database_(database), logger_(logger), seconds_(seconds),
        task_(interval, [this](bool stopping) { tick(stopping); }) {}

  void published(std::vector<std::string> ids) {
    std::lock_guard lock(mutex_);
    for (auto& id : ids) {
      published_.insert(id);
      queued_.push_back(std::move(id));
    }
  }

  /// True while `id`'s outputs are published and their rows not yet deleted:
  /// a redelivery in that window must not publish them again.
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
      tx.exec_prepared(kOutboxDelete, group_, array.str());
      tx.commit();
    } catch (const std::exception& e) {
      // Harmless meanwhile: rows still listed here are not republished, and
      // what is left at a crash is pruned with processed_messages.
      logger_.warn("could not clear the outbox after publishing; will retry",
                   {{"error", e.what()}, {"events", ids.size()}});
      return false;
    }
    if (seconds_ != nullptr) seconds_->Observe(seconds_since(started));
    return true;
  }

  const std::string& group_;
  pg::ConnectionPool& database_;
  const Logger& logger_;
  prometheus::Histogram* seconds_;
  mutable std::mutex mutex_;
  std::vector<std::string> queued_;
  std::unordered_set<std::string> published_;
  PeriodicTask task_; // last: its thread stops first, while the members above still exist
};

ExactlyOnceHandler::ExactlyOnceHandler(std::string group, pg::ConnectionPool& database, kafka::Producer& producer,
                                       const DomainHandler& domain, Logger logger,
                                       const std::shared_ptr<prometheus::Registry>& metrics,
                                       std::chrono::milliseconds cleanup_interval)
    : group_(std::move(group)), database_(database), producer_(producer), domain_(domain), logger_(std::move(logger)) {
  if (metrics) metrics_ = std::make_unique<Metrics>(*metrics);
  cleaner_ = std::make_unique<OutboxCleaner>(group_, database_, cleanup_interval, logger_,
                                             metrics_ ? &metrics_->cleanup : nullptr);
}

ExactlyOnceHandler::~ExactlyOnceHandler() = default;

void ExactlyOnceHandler::prepare(pqxx::connection& connection) {
  connection.prepare(kClaim, kClaimSql);
  connection.prepare(kOutboxInsert, kOutboxInsertSql);
  connection.prepare(kOutboxPending, kOutboxPendingSql);
  connection.prepare(kOutboxDelete, kOutboxDeleteSql);
}

void ExactlyOnceHandler::operator()(std::span<const kafka::Delivery> batch) const {
  try {
    handle(batch);
  } catch (const kafka::PoisonError&) {
    throw;
  } catch (const kafka::UnavailableError&) {
    throw;
  } catch (const std::exception& e) {
    if (pg::is_unavailable(e)) {
      throw kafka::UnavailableError(std::string("database unavailable: ") + e.what());
    }
    if (pg::is_permanent(e)) {
      throw kafka::PoisonError("permanent database error (SQLSTATE " + pg::sqlstate_of(e) + "): " + e.what());
    }
    throw;
  }
}

void ExactlyOnceHandler::handle(std::span<const kafka::Delivery> batch) const {
  const auto started = std::chrono::steady_clock::now();
  pg::ArrayLiteral id_array;
  {
    std::vector<std::string_view> ids;
    ids.reserve(batch.size());
    for (const auto& d : batch)
      ids.push_back(d.event.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (const auto id : ids)
      id_array.add(id);
  }

  std::vector<const kafka::Delivery*> fresh;
  std::vector<const kafka::Delivery*> seen_before;
  Outputs outputs;
  std::map<std::string, std::vector<kafka::ProducerRecord>, std::less<>> pending; // by source event id
  {
    auto connection = database_.acquire();
    pqxx::work tx(*connection);
    auto stage = std::chrono::steady_clock::now();
    const auto claimed_rows = tx.exec_prepared(kClaim, group_, id_array.str());
    std::unordered_set<std::string> claimed;
    claimed.reserve(claimed_rows.size());
    for (const auto& row : claimed_rows)
      claimed.insert(row[0].as<std::string>());
    for (const auto& d : batch) {
      // The first delivery of a claimed id applies it; a second copy of the
      // same event in one batch is a duplicate like any other.
      if (claimed.erase(d.event.id) > 0) {
        fresh.push_back(&d);
      } else {
        seen_before.push_back(&d);
      }
    }
    if (metrics_) metrics_->claim.Observe(seconds_since(stage));

    if (!fresh.empty()) {
      stage = std::chrono::steady_clock::now();
      domain_.apply(tx, fresh, outputs);
      if (metrics_) metrics_->handler.Observe(seconds_since(stage));
    }
    if (!outputs.empty()) {
      stage = std::chrono::steady_clock::now();
      pg::ArrayLiteral sources, seqs, topics, keys, values, headers;
      for (const auto& item : outputs.items()) {
        sources.add(item.source_event_id);
        seqs.add(static_cast<std::int64_t>(item.seq));
        topics.add(item.record.topic);
        keys.add(item.record.key);
        values.add(item.record.value);
        headers.add(headers_json(item.record.headers));
      }
      tx.exec_prepared(kOutboxInsert, group_, sources.str(), seqs.str(), topics.str(), keys.str(), values.str(),
                       headers.str());
      if (metrics_) metrics_->outbox.Observe(seconds_since(stage));
    }
    if (!seen_before.empty()) {
      // (A second copy of an event applied in this very batch publishes nothing.)
      // Claimed by an earlier attempt that may have died between COMMIT and
      // the acknowledgements: what it left in the outbox is published now.
      pg::ArrayLiteral again;
      std::unordered_set<std::string_view> applied_here;
      for (const auto* d : fresh)
        applied_here.insert(d->event.id);
      for (const auto* d : seen_before) {
        if (!applied_here.contains(d->event.id) && !cleaner_->published_not_cleared(d->event.id)) {
          again.add(d->event.id);
        }
      }
      const auto rows = again.size() > 0 ? tx.exec_prepared(kOutboxPending, group_, again.str()) : pqxx::result();
      for (const auto& row : rows) {
        kafka::ProducerRecord record;
        record.topic = row[2].as<std::string>();
        if (!row[3].is_null()) record.key = row[3].as<std::string>();
        record.value = row[4].as<std::string>();
        record.headers = headers_from_json(row[5].as<std::string>());
        pending[row[0].as<std::string>()].push_back(std::move(record));
      }
    }
    stage = std::chrono::steady_clock::now();
    tx.commit();
    if (metrics_) metrics_->commit.Observe(seconds_since(stage));
  } // the connection goes back to the pool while the broker acknowledges

  // Publish in batch order, so a key's outputs keep the order of its inputs.
  std::vector<std::future<kafka::DeliveryReport>> acks;
  acks.reserve(outputs.items().size() + pending.size());
  std::vector<std::string> published_sources;
  {
    std::size_t next_output = 0;
    const auto& items = outputs.items();
    for (const auto& d : batch) {
      if (auto it = pending.find(d.event.id); it != pending.end()) {
        for (auto& record : it->second)
          acks.push_back(producer_.send_async(std::move(record)));
        published_sources.push_back(d.event.id);
        pending.erase(it);
        continue;
      }
      bool any = false;
      while (next_output < items.size() && items[next_output].source_event_id == d.event.id) {
        acks.push_back(producer_.send_async(items[next_output].record));
        ++next_output;
        any = true;
      }
      if (any) published_sources.push_back(d.event.id);
    }
  }
  const auto ack_started = std::chrono::steady_clock::now();
  std::string failure;
  for (auto& ack : acks) {
    const auto report = ack.get();
    if (!report.ok() && failure.empty()) {
      failure = "publishing to " + report.topic + " failed: " + report.error.message() + " (" + report.detail + ")";
    }
  }
  if (metrics_ && !acks.empty()) metrics_->ack_wait.Observe(seconds_since(ack_started));
  if (!failure.empty()) {
    // Committed, not acknowledged: the retry finds these events claimed and
    // publishes from the outbox.
    throw kafka::UnavailableError(failure);
  }

  if (!published_sources.empty()) {
    cleaner_->published(std::move(published_sources));
  }

  logger_.info("batch processed", {{"records", batch.size()},
                                   {"applied", fresh.size()},
                                   {"duplicates", seen_before.size()},
                                   {"published", acks.size()},
                                   {"ms", seconds_since(started) * 1000.0}});
  if (logger_.enabled(spdlog::level::debug)) {
    for (const auto* d : fresh)
      logger_.debug("event applied", {{"event_id", d->event.id},
                                      {"correlation_id", d->event.correlationid},
                                      {"topic", d->record.topic},
                                      {"partition", d->record.partition},
                                      {"offset", d->record.offset}});
    for (const auto* d : seen_before)
      logger_.debug(
          "event already applied; nothing changed",
          {{"event_id", d->event.id}, {"correlation_id", d->event.correlationid}, {"offset", d->record.offset}});
  }
}

} // namespace fte::runtime
