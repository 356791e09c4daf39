#include "fte/kafka/consumer_runner.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "batch_lane.hpp"
#include "consumer_metrics.hpp"
#include "fte/kafka/dlq.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/kafka/murmur2.hpp"
#include "fte/kafka/offset_tracker.hpp"
#include "fte/kafka/topics.hpp"

namespace fte::kafka {

// ---------------------------------------------------------------- options

ConsumerOptions ConsumerOptions::from_env(const Environment& env, std::string service_name, std::string group_id,
                                          std::vector<std::string> topics) {
  using std::chrono::milliseconds;
  ConsumerOptions options;
  options.client = ClientSettings::from_env(env, service_name);
  options.service_name = std::move(service_name);
  options.group_id = std::move(group_id);
  options.topics = std::move(topics);
  options.group_instance_id = env.get("FTE_POD_NAME");
  const int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  options.lanes = static_cast<int>(env.get_int("FTE_CONSUMER_LANES", std::clamp(2 * cores, 2, 16), 1, 256));
  options.max_in_flight =
      static_cast<int>(env.get_int("FTE_CONSUMER_MAX_IN_FLIGHT", options.max_in_flight, 1, 10'000'000));
  options.batch_max_records =
      static_cast<int>(env.get_int("FTE_CONSUMER_BATCH_MAX", options.batch_max_records, 1, 100'000));
  options.batch_max_wait =
      env.get_millis("FTE_CONSUMER_BATCH_WAIT_MS", options.batch_max_wait, milliseconds(0), milliseconds(10'000));
  options.commit_interval =
      env.get_millis("FTE_COMMIT_INTERVAL_MS", options.commit_interval, milliseconds(10), milliseconds(600'000));
  options.shutdown_timeout =
      env.get_millis("FTE_SHUTDOWN_TIMEOUT_MS", options.shutdown_timeout, milliseconds(100), milliseconds(600'000));
  options.dlq_topic = env.get_or("FTE_DLQ_TOPIC", TopicNames::from_env(env).dlq);
  options.retry = RetryPolicy::from_env(env);
  return options;
}

// ---------------------------------------------------------------- implementation

namespace {

nlohmann::json describe(const rd_kafka_topic_partition_list_t* partitions) {
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < partitions->cnt; ++i) {
    list.push_back(std::string(partitions->elems[i].topic) + "/" + std::to_string(partitions->elems[i].partition));
  }
  return list;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A record that passed the envelope, schema and type checks.
struct Checked {
  ConsumedRecord* record;
  events::CloudEvent event;
};

} // namespace

class ConsumerRunner::Impl {
public:
  Impl(ConsumerOptions options, RecordHandler record_handler, BatchHandler batch_handler, Producer& dlq, Logger logger,
       const std::shared_ptr<prometheus::Registry>& metrics);
  ~Impl();

  void run();
  void stop() noexcept {
    stop_requested_ = true;
    progress_changed_.notify_all();
  }

  EventValidator validator;
  std::atomic<bool> assigned{false};
  std::atomic<std::uint64_t> handled{0}, attempts{0}, dead_lettered{0}, commits{0}, batches{0};

private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);
  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void dispatch(ConsumedRecord record);
  void process_batch(std::vector<ConsumedRecord>& batch);
  std::optional<std::string> check(const ConsumedRecord& record, events::CloudEvent& event) const;
  /// Runs a whole batch through the batch handler, retrying it whole while a
  /// dependency is unavailable. False when it failed otherwise.
  bool try_whole_batch(std::vector<Checked>& checked);
  /// One record with in-place retries; returns whether it finished (handled
  /// or dead-lettered) rather than being abandoned.
  bool process_one(Checked& item, int first_attempt);
  bool dead_letter(const ConsumedRecord& record, DlqReason reason, const std::string& error, int attempts);
  void finish(const std::vector<std::pair<const ConsumedRecord*, bool>>& outcomes);
  void commit(const std::vector<PartitionKey>* only);
  /// Sets the lag gauge of every assigned partition. Run-loop thread only.
  void export_lag();
  prometheus::Gauge& lag_gauge(const PartitionKey& key);
  bool wait_idle(const std::vector<PartitionKey>* only, std::chrono::milliseconds timeout);
  /// Sleeps, but wakes early when a stop is requested; returns false then.
  bool pause(std::chrono::milliseconds delay);

  ConsumerOptions options_;
  RecordHandler record_handler_;
  BatchHandler batch_handler_;
  Producer& dlq_;
  Logger logger_;
  std::unique_ptr<detail::ConsumerMetrics> metrics_;
  KafkaHandle consumer_;
  std::vector<std::unique_ptr<detail::BatchLane>> lanes_;

  mutable std::mutex progress_mutex_;
  std::condition_variable progress_changed_;
  OffsetTracker tracker_;

  std::atomic<bool> stop_requested_{false};
};

ConsumerRunner::Impl::Impl(ConsumerOptions options, RecordHandler record_handler, BatchHandler batch_handler,
                           Producer& dlq, Logger logger, const std::shared_ptr<prometheus::Registry>& metrics)
    : options_(std::move(options)), record_handler_(std::move(record_handler)),
      batch_handler_(std::move(batch_handler)), dlq_(dlq), logger_(std::move(logger)) {
  if (metrics) {
    metrics_ = std::make_unique<detail::ConsumerMetrics>(*metrics);
  }
  const std::map<std::string, std::string> defaults = {
      {"auto.offset.reset", "earliest"},
      {"socket.nagle.disable", "true"},
      {"enable.partition.eof", "false"},
      // A fetch returns as soon as there is data; with none it waits up to
      // 100 ms. Fuller fetches (fetch.min.bytes 64 KiB, 5 ms wait) were
      // tried at 1,000 messages/s: the broker's CPU went from 0.68 of a
      // core to 0.47 in one run and 0.70 in the next, so they are not the
      // default (docs/benchmarks.md).
      {"fetch.wait.max.ms", "100"},
  };
  std::map<std::string, std::string> overrides = {
      {"group.id", options_.group_id},
      // Offsets are committed by this runner, only for finished records.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"partition.assignment.strategy", "cooperative-sticky"},
  };
  if (options_.group_instance_id) {
    overrides["group.instance.id"] = *options_.group_instance_id;
  }
  ConfHandle conf = make_conf(options_.client, defaults, overrides);
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::on_rebalance);
  std::array<char, 512> error{};
  consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  if (!consumer_) {
    throw ConfigError("kafka consumer", error.data());
  }
  (void)conf.release();
  rd_kafka_poll_set_consumer(consumer_.get());
  // A per-record handler gets batches of one: its HandleResult is per record.
  const auto batch_max = record_handler_ ? 1 : options_.batch_max_records;
  const auto wait = record_handler_ ? std::chrono::milliseconds(0) : options_.batch_max_wait;
  for (int i = 0; i < options_.lanes; ++i) {
    lanes_.push_back(
        std::make_unique<detail::BatchLane>([this](std::vector<ConsumedRecord>& batch) { process_batch(batch); },
                                            static_cast<std::size_t>(batch_max), wait));
  }
}

ConsumerRunner::Impl::~Impl() {
  stop();
  lanes_.clear(); // joins the lanes after they finish what they hold
}

void ConsumerRunner::Impl::run() {
  PartitionListHandle subscription(rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())));
  for (const auto& topic : options_.topics) {
    rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (const auto err = rd_kafka_subscribe(consumer_.get(), subscription.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("subscribe to " + nlohmann::json(options_.topics).dump() + ": " + rd_kafka_err2str(err));
  }
  logger_.info("consumer started", {{"group", options_.group_id},
                                    {"topics", options_.topics},
                                    {"lanes", options_.lanes},
                                    {"batch_max_records", record_handler_ ? 1 : options_.batch_max_records},
                                    {"batch_max_wait_ms", options_.batch_max_wait.count()},
                                    {"static_member", options_.group_instance_id.has_value()}});

  auto next_commit = std::chrono::steady_clock::now() + options_.commit_interval;
  while (!stop_requested_.load()) {
    if (std::chrono::steady_clock::now() >= next_commit) {
      commit(nullptr);
      export_lag();
      next_commit = std::chrono::steady_clock::now() + options_.commit_interval;
    }
    {
      std::unique_lock lock(progress_mutex_);
      if (tracker_.in_flight() >= options_.max_in_flight) {
        // Back-pressure: stop fetching until lanes catch up. Heartbeats go on
        // in librdkafka's background thread.
        progress_changed_.wait_for(lock, std::chrono::milliseconds(100));
        continue;
      }
    }
    MessageHandle msg(rd_kafka_consumer_poll(consumer_.get(), 100));
    if (!msg) {
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        logger_.warn("consumer error",
                     {{"error", rd_kafka_err2name(msg->err)}, {"reason", rd_kafka_message_errstr(msg.get())}});
      }
      continue;
    }
    dispatch(copy_record(msg.get()));
  }

  logger_.info("consumer stopping: draining in-flight records");
  if (!wait_idle(nullptr, options_.shutdown_timeout)) {
    logger_.warn("shutdown timeout passed with records still in flight; their offsets stay uncommitted");
  }
  commit(nullptr);
  // Serves the final revocation through on_rebalance and leaves the group.
  if (const auto err = rd_kafka_consumer_close(consumer_.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    logger_.warn("consumer close failed", {{"error", rd_kafka_err2name(err)}});
  }
  logger_.info("consumer stopped", {{"handled", handled.load()}, {"dead_lettered", dead_lettered.load()}});
}

void ConsumerRunner::Impl::dispatch(ConsumedRecord record) {
  {
    std::lock_guard lock(progress_mutex_);
    tracker_.dispatched(PartitionKey{record.topic, record.partition}, record.offset);
  }
  const std::uint32_t hash = record.key ? murmur2(*record.key) : static_cast<std::uint32_t>(record.partition);
  lanes_[hash % lanes_.size()]->push(std::move(record));
}

std::optional<std::string> ConsumerRunner::Impl::check(const ConsumedRecord& record, events::CloudEvent& event) const {
  // Parsed once; the validator sees the envelope exactly as it arrived.
  nlohmann::json envelope = nlohmann::json::parse(record.value, nullptr, /*allow_exceptions=*/false);
  if (envelope.is_discarded()) {
    return "poison: invalid envelope: value is not valid JSON";
  }
  if (validator) {
    if (auto violation = validator(envelope)) {
      return "poison: schema violation: " + *violation;
    }
  }
  auto parsed = events::event_from_json(std::move(envelope), record.headers);
  if (auto* error = std::get_if<events::EnvelopeError>(&parsed)) {
    return "poison: invalid envelope: " + error->reason;
  }
  event = std::move(std::get<events::CloudEvent>(parsed));
  if (!options_.accepted_types.empty() && std::find(options_.accepted_types.begin(), options_.accepted_types.end(),
                                                    event.type) == options_.accepted_types.end()) {
    return "poison: " + options_.service_name + " does not handle event type '" + event.type + "'";
  }
  return std::nullopt;
}

void ConsumerRunner::Impl::process_batch(std::vector<ConsumedRecord>& batch) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::pair<const ConsumedRecord*, bool>> outcomes;
  outcomes.reserve(batch.size());
  std::vector<Checked> checked;
  checked.reserve(batch.size());
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (auto& record : batch) {
    if (metrics_ && record.timestamp_ms > 0) {
      metrics_->record_age.Observe(static_cast<double>(std::max<std::int64_t>(0, now_ms - record.timestamp_ms)) /
                                   1000.0);
    }
    events::CloudEvent event;
    if (auto problem = check(record, event)) {
      logger_.warn(
          "record rejected before handling; dead-lettering",
          {{"topic", record.topic}, {"partition", record.partition}, {"offset", record.offset}, {"reason", *problem}});
      outcomes.emplace_back(&record, dead_letter(record, DlqReason::invalid_event, *problem, 1));
      continue;
    }
    checked.push_back(Checked{&record, std::move(event)});
  }
  if (metrics_ && !checked.empty()) {
    metrics_->batch_size.Observe(static_cast<double>(checked.size()));
  }

  if (!checked.empty()) {
    if (batch_handler_ && try_whole_batch(checked)) {
      for (const auto& item : checked)
        outcomes.emplace_back(item.record, true);
    } else {
      // A per-record handler, or a batch that failed whole: one record at a
      // time, so the retry, the backoff and the DLQ act on the bad one alone.
      // A lone record whose batch failed has had its first attempt: it waits
      // the first backoff and goes on at attempt 2. In a larger batch the
      // failure may be another record's, so each starts at attempt 1.
      int first_attempt = 1;
      if (batch_handler_ && checked.size() == 1) {
        std::minstd_rand rng(static_cast<unsigned>(checked.front().record->offset));
        std::this_thread::sleep_for(options_.retry.delay(1, rng));
        first_attempt = 2;
      }
      for (auto& item : checked)
        outcomes.emplace_back(item.record, process_one(item, first_attempt));
    }
  }
  if (metrics_) {
    metrics_->handle_seconds.Observe(seconds_since(started));
  }
  finish(outcomes);
}

bool ConsumerRunner::Impl::try_whole_batch(std::vector<Checked>& checked) {
  std::vector<Delivery> deliveries;
  deliveries.reserve(checked.size());
  for (const auto& item : checked)
    deliveries.push_back(Delivery{*item.record, item.event, 1, logger_});
  std::minstd_rand rng(static_cast<unsigned>(checked.front().record->offset));
  for (int outage = 1;; ++outage) {
    const auto started = std::chrono::steady_clock::now();
    ++attempts;
    try {
      batch_handler_(std::span<const Delivery>(deliveries));
      if (metrics_) {
        metrics_->attempts_done.Increment();
        metrics_->handler_seconds.Observe(seconds_since(started));
      }
      handled += checked.size();
      ++batches;
      if (metrics_)
        metrics_->records.Add({{"topic", checked.front().record->topic}, {"outcome", "handled"}})
            .Increment(static_cast<double>(checked.size()));
      return true;
    } catch (const UnavailableError& e) {
      if (metrics_) metrics_->attempts_unavailable.Increment();
      const auto delay = options_.retry.delay(std::min(outage, 10), rng);
      logger_.warn("a dependency is unavailable; retrying the batch",
                   {{"reason", e.what()}, {"records", checked.size()}, {"retry_in_ms", delay.count()}});
      // Stopping: the per-record path finishes or abandons what it can.
      if (stop_requested_.load() || !pause(delay)) {
        return false;
      }
    } catch (const std::exception& e) {
      if (metrics_) {
        metrics_->attempts_retry.Increment();
        metrics_->batch_fallbacks.Increment();
      }
      if (checked.size() > 1) {
        logger_.warn("batch failed; retrying its records one at a time",
                     {{"reason", e.what()}, {"records", checked.size()}});
      } else {
        logger_.warn("handler failed; retrying in place",
                     {{"reason", e.what()}, {"attempt", 1}, {"event_id", checked.front().event.id}});
      }
      return false;
    }
  }
}

bool ConsumerRunner::Impl::process_one(Checked& item, int first_attempt) {
  const ConsumedRecord& record = *item.record;
  std::minstd_rand rng(
      static_cast<unsigned>(std::hash<std::string>{}(item.event.id) ^ static_cast<unsigned>(record.offset)));
  int outage = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int attempt = first_attempt;;) {
    HandleResult result;
    bool unavailable = false;
    const auto call_started = std::chrono::steady_clock::now();
    try {
      ++attempts;
      const Delivery delivery{record, item.event, attempt, logger_};
      if (record_handler_) {
        result = record_handler_(delivery);
      } else {
        batch_handler_(std::span<const Delivery>(&delivery, 1));
        result = HandleResult::done();
      }
    } catch (const PoisonError& e) {
      result = HandleResult::poison(e.what());
    } catch (const UnavailableError& e) {
      unavailable = true;
      result = HandleResult::retry(e.what());
    } catch (const std::exception& e) {
      result = HandleResult::retry(e.what());
    } catch (...) {
      result = HandleResult::retry("unknown exception");
    }
    if (metrics_) metrics_->handler_seconds.Observe(seconds_since(call_started));
    switch (result.status) {
    case HandleResult::Status::done:
      if (metrics_) {
        metrics_->attempts_done.Increment();
        metrics_->records.Add({{"topic", record.topic}, {"outcome", "handled"}}).Increment();
      }
      ++handled;
      return true;
    case HandleResult::Status::poison:
      if (metrics_) metrics_->attempts_poison.Increment();
      logger_.warn("handler rejected the record as poison; dead-lettering",
                   {{"reason", result.reason}, {"event_id", item.event.id}, {"offset", record.offset}});
      return dead_letter(record, DlqReason::poison, "poison: " + result.reason, attempt);
    case HandleResult::Status::retry: break;
    }
    if (unavailable) {
      if (metrics_) metrics_->attempts_unavailable.Increment();
      const auto delay = options_.retry.delay(std::min(++outage, 10), rng);
      logger_.warn("a dependency is unavailable; retrying without using up an attempt",
                   {{"reason", result.reason}, {"event_id", item.event.id}, {"retry_in_ms", delay.count()}});
      if (stop_requested_.load() && std::chrono::steady_clock::now() - started > options_.shutdown_timeout) {
        logger_.warn("stopping with a dependency still unavailable; the record stays uncommitted",
                     {{"event_id", item.event.id}, {"offset", record.offset}});
        return false;
      }
      pause(delay);
      continue;
    }
    if (metrics_) metrics_->attempts_retry.Increment();
    if (attempt >= options_.retry.max_attempts) {
      logger_.error("record failed on every attempt; dead-lettering",
                    {{"reason", result.reason}, {"attempts", attempt}, {"event_id", item.event.id}});
      return dead_letter(record, DlqReason::retries_exhausted, result.reason, attempt);
    }
    const auto delay = options_.retry.delay(attempt, rng);
    logger_.warn(
        "handler failed; retrying in place",
        {{"reason", result.reason}, {"attempt", attempt}, {"event_id", item.event.id}, {"retry_in_ms", delay.count()}});
    // A stop does not cut retries short: the record finishes (or reaches the
    // DLQ) before its offset can be committed.
    std::this_thread::sleep_for(delay);
    ++attempt;
  }
}

bool ConsumerRunner::Impl::dead_letter(const ConsumedRecord& record, DlqReason reason, const std::string& error,
                                       int attempt_count) {
  const auto started = std::chrono::steady_clock::now();
  std::minstd_rand rng(static_cast<unsigned>(record.offset));
  const DeadLetter failure{reason, error, attempt_count, options_.service_name, options_.group_id};
  for (int attempt = 1;; ++attempt) {
    const auto report = dlq_.send(make_dlq_record(record, failure, options_.dlq_topic));
    if (report.ok()) {
      ++dead_lettered;
      if (metrics_) {
        metrics_->records.Add({{"topic", record.topic}, {"outcome", "dead_lettered"}}).Increment();
      }
      logger_.info("record dead-lettered", {{"topic", record.topic},
                                            {"partition", record.partition},
                                            {"offset", record.offset},
                                            {"reason", std::string(to_string(reason))},
                                            {"error", error},
                                            {"dlq_partition", report.partition},
                                            {"dlq_offset", report.offset}});
      return true;
    }
    logger_.error("could not write to the DLQ; will retry",
                  {{"error", report.error.message()}, {"detail", report.detail}, {"offset", record.offset}});
    if (stop_requested_.load() && std::chrono::steady_clock::now() - started > options_.shutdown_timeout) {
      return false; // the offset stays uncommitted: the record comes back next time
    }
    std::this_thread::sleep_for(options_.retry.delay(std::min(attempt, 10), rng));
  }
}

void ConsumerRunner::Impl::finish(const std::vector<std::pair<const ConsumedRecord*, bool>>& outcomes) {
  {
    std::lock_guard lock(progress_mutex_);
    for (const auto& [record, done] : outcomes)
      tracker_.finished(PartitionKey{record->topic, record->partition}, record->offset, done);
  }
  progress_changed_.notify_all();
}

bool ConsumerRunner::Impl::pause(std::chrono::milliseconds delay) {
  if (stop_requested_.load()) {
    // Already stopping: still wait (a short while), or a retry loop that
    // keeps going until its deadline would hammer the dependency.
    std::this_thread::sleep_for(std::min(delay, std::chrono::milliseconds(250)));
    return false;
  }
  std::unique_lock lock(progress_mutex_);
  return !progress_changed_.wait_for(lock, delay, [this] { return stop_requested_.load(); });
}

bool ConsumerRunner::Impl::wait_idle(const std::vector<PartitionKey>* only, std::chrono::milliseconds timeout) {
  std::unique_lock lock(progress_mutex_);
  return progress_changed_.wait_for(lock, timeout,
                                    [&] { return only == nullptr ? tracker_.in_flight() == 0 : tracker_.idle(*only); });
}

void ConsumerRunner::Impl::commit(const std::vector<PartitionKey>* only) {
  std::vector<OffsetTracker::Position> positions;
  {
    std::lock_guard lock(progress_mutex_);
    positions = only == nullptr ? tracker_.committable() : tracker_.committable(*only);
  }
  if (positions.empty()) {
    return;
  }
  PartitionListHandle offsets(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
  for (const auto& p : positions) {
    rd_kafka_topic_partition_list_add(offsets.get(), p.key.topic.c_str(), p.key.partition)->offset = p.offset;
  }
  const auto started = std::chrono::steady_clock::now();
  const auto err = rd_kafka_commit(consumer_.get(), offsets.get(), /*async=*/0);
  if (metrics_) {
    metrics_->commit_seconds.Observe(seconds_since(started));
    (err == RD_KAFKA_RESP_ERR_NO_ERROR ? metrics_->commits_ok : metrics_->commits_error).Increment();
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    logger_.warn("offset commit failed; will retry",
                 {{"error", rd_kafka_err2name(err)}, {"offsets", describe(offsets.get())}});
    return;
  }
  ++commits;
  std::lock_guard lock(progress_mutex_);
  for (int i = 0; i < offsets->cnt; ++i) {
    const auto& elem = offsets->elems[i];
    if (elem.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      tracker_.committed(PartitionKey{elem.topic, elem.partition}, elem.offset);
    }
  }
}

prometheus::Gauge& ConsumerRunner::Impl::lag_gauge(const PartitionKey& key) {
  return metrics_->lag.Add(
      {{"group", options_.group_id}, {"topic", key.topic}, {"partition", std::to_string(key.partition)}});
}

void ConsumerRunner::Impl::export_lag() {
  if (!metrics_) {
    return;
  }
  std::vector<OffsetTracker::Position> positions;
  {
    std::lock_guard lock(progress_mutex_);
    positions = tracker_.positions();
  }
  for (auto& p : positions) {
    if (p.offset < 0) {
      // Nothing dispatched since the assignment: the fetch position is where
      // the group stands (its committed offset, once the first fetch began).
      PartitionListHandle list(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(list.get(), p.key.topic.c_str(), p.key.partition);
      if (rd_kafka_position(consumer_.get(), list.get()) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p.offset = list->elems[0].offset;
      }
    }
    // The cached watermark from the last fetch answer: no broker round trip.
    std::int64_t low = -1;
    std::int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), p.key.topic.c_str(), p.key.partition, &low, &high) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    if (const auto lag = partition_lag(high, p.offset)) {
      lag_gauge(p.key).Set(static_cast<double>(*lag));
    }
  }
}

void ConsumerRunner::Impl::on_rebalance(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  try {
    self->rebalance(err, partitions);
  } catch (const std::exception& e) {
    // No exception may cross a librdkafka callback.
    self->logger_.error("rebalance handling failed", {{"error", e.what()}});
  }
}

void ConsumerRunner::Impl::rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  std::vector<PartitionKey> keys;
  for (int i = 0; i < partitions->cnt; ++i) {
    keys.push_back(PartitionKey{partitions->elems[i].topic, partitions->elems[i].partition});
  }
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    logger_.info("partitions assigned",
                 {{"partitions", describe(partitions)}, {"protocol", rd_kafka_rebalance_protocol(rk)}});
    if (metrics_) metrics_->rebalances.Add({{"kind", "assign"}}).Increment();
    {
      std::lock_guard lock(progress_mutex_);
      for (const auto& key : keys)
        tracker_.assign(key);
    }
    if (cooperative) {
      ErrorHandle error(rd_kafka_incremental_assign(rk, partitions));
      if (error) logger_.error("incremental assign failed", {{"error", rd_kafka_error_string(error.get())}});
    } else {
      rd_kafka_assign(rk, partitions);
    }
    assigned = true;
    return;
  }

  const bool lost = rd_kafka_assignment_lost(rk) != 0;
  logger_.info(lost ? "partitions lost" : "partitions revoked", {{"partitions", describe(partitions)}});
  if (metrics_) metrics_->rebalances.Add({{"kind", lost ? "lost" : "revoke"}}).Increment();
  // Finish what is in flight for these partitions, then commit it, so the
  // next owner starts right after the last finished record.
  if (!wait_idle(&keys, options_.shutdown_timeout)) {
    logger_.warn("revoked partitions still had records in flight after the shutdown timeout");
  }
  if (!lost) {
    commit(&keys);
  }
  {
    std::lock_guard lock(progress_mutex_);
    for (const auto& key : keys)
      tracker_.revoke(key);
  }
  if (metrics_) {
    // Another member reports these partitions now; a stale gauge here would
    // double their lag in a sum over the group.
    for (const auto& key : keys)
      metrics_->lag.Remove(&lag_gauge(key));
  }
  if (cooperative) {
    ErrorHandle error(rd_kafka_incremental_unassign(rk, partitions));
    if (error) logger_.error("incremental unassign failed", {{"error", rd_kafka_error_string(error.get())}});
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

// ---------------------------------------------------------------- facade

ConsumerRunner::ConsumerRunner(ConsumerOptions options, RecordHandler handler, Producer& dlq_producer, Logger logger,
                               std::shared_ptr<prometheus::Registry> metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), nullptr, dlq_producer, std::move(logger),
                                   metrics)) {}

ConsumerRunner::ConsumerRunner(ConsumerOptions options, BatchHandler handler, Producer& dlq_producer, Logger logger,
                               std::shared_ptr<prometheus::Registry> metrics)
    : impl_(std::make_unique<Impl>(std::move(options), nullptr, std::move(handler), dlq_producer, std::move(logger),
                                   metrics)) {}

ConsumerRunner::~ConsumerRunner() = default;

void ConsumerRunner::set_validator(EventValidator validator) { impl_->validator = std::move(validator); }
void ConsumerRunner::run() { impl_->run(); }
void ConsumerRunner::stop() noexcept { impl_->stop(); }
bool ConsumerRunner::assigned() const noexcept { return impl_->assigned.load(); }

ConsumerRunner::Counters ConsumerRunner::counters() const noexcept {
  return Counters{impl_->handled.load(), impl_->attempts.load(), impl_->dead_lettered.load(), impl_->commits.load(),
                  impl_->batches.load()};
}

} // namespace fte::kafka
