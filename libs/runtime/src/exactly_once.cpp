#include "fte/runtime/exactly_once.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <unordered_map>
#include <unordered_set>

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "fte/pg/array_literal.hpp"

namespace fte::runtime {
namespace {

// Sorted ids claim in a fixed order, so two batches that share ids (a
// redelivery racing a rebalance) cannot deadlock on the primary key.
constexpr const char* kClaim = "fte_claim";
constexpr const char* kClaimSql = "INSERT INTO processed_messages (consumer_group, message_id) "
                                  "SELECT $1, id FROM unnest($2::text[]) AS t(id) ORDER BY id "
                                  "ON CONFLICT (consumer_group, message_id) DO NOTHING RETURNING message_id";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

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

ExactlyOnceHandler::ExactlyOnceHandler(std::string group, pg::ConnectionPool& database, kafka::Producer& producer,
                                       const DomainHandler& domain, Logger logger,
                                       const std::shared_ptr<prometheus::Registry>& metrics,
                                       std::chrono::milliseconds cleanup_interval)
    : group_(std::move(group)), database_(database), producer_(producer), domain_(domain), logger_(std::move(logger)) {
  if (metrics) metrics_ = std::make_unique<Metrics>(*metrics);
  outbox_ = std::make_unique<Outbox>(group_, database_, producer_, logger_, cleanup_interval,
                                     metrics_ ? &metrics_->cleanup : nullptr);
}

ExactlyOnceHandler::~ExactlyOnceHandler() = default;

void ExactlyOnceHandler::prepare(pqxx::connection& connection) {
  connection.prepare(kClaim, kClaimSql);
  Outbox::prepare(connection);
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
  Outbox::RecordsBySource pending; // by source event id
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
      outbox_->write(tx, outputs);
      if (metrics_) metrics_->outbox.Observe(seconds_since(stage));
    }
    if (!seen_before.empty()) {
      // (A second copy of an event applied in this very batch publishes nothing.)
      // Claimed by an earlier attempt that may have died between COMMIT and
      // the acknowledgements: what it left in the outbox is published now.
      std::vector<std::string> again;
      std::unordered_set<std::string_view> applied_here;
      for (const auto* d : fresh)
        applied_here.insert(d->event.id);
      for (const auto* d : seen_before) {
        if (!applied_here.contains(d->event.id)) again.push_back(d->event.id);
      }
      if (!again.empty()) pending = outbox_->left_for(tx, again);
    }
    stage = std::chrono::steady_clock::now();
    tx.commit();
    if (metrics_) metrics_->commit.Observe(seconds_since(stage));
  } // the connection goes back to the pool while the broker acknowledges

  // Publish in batch order, so a key's outputs keep the order of its inputs.
  // Outputs are found by their source event, not by position: a domain may
  // add them in any order (the agent-worker handles ticket messages and
  // delivery statuses of one batch separately).
  std::vector<std::future<kafka::DeliveryReport>> acks;
  acks.reserve(outputs.items().size() + pending.size());
  std::vector<std::string> published_sources;
  {
    const auto& items = outputs.items();
    std::unordered_map<std::string_view, std::vector<std::size_t>> outputs_of;
    for (std::size_t i = 0; i < items.size(); ++i)
      outputs_of[items[i].source_event_id].push_back(i);
    for (const auto& d : batch) {
      if (auto it = pending.find(d.event.id); it != pending.end()) {
        for (auto& record : it->second)
          acks.push_back(producer_.send_async(std::move(record)));
        published_sources.push_back(d.event.id);
        pending.erase(it);
        continue;
      }
      if (auto it = outputs_of.find(d.event.id); it != outputs_of.end()) {
        for (const auto i : it->second)
          acks.push_back(producer_.send_async(items[i].record));
        published_sources.push_back(d.event.id);
        outputs_of.erase(it);
      }
    }
    if (!outputs_of.empty()) {
      // Outputs tied to no event of the batch are a domain bug; they are in
      // the outbox with the rest, so they are published rather than lost.
      logger_.error("outputs name a source event that is not in the batch; publishing them anyway",
                    {{"sources", outputs_of.size()}});
      for (const auto& [source, indexes] : outputs_of) {
        for (const auto i : indexes)
          acks.push_back(producer_.send_async(items[i].record));
        published_sources.emplace_back(source);
      }
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
    outbox_->published(std::move(published_sources));
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
