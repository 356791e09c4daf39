#include "fte/kafka/consumer_runner.hpp"

#include <array>
#include <cstring>
#include <deque>
#include <random>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "fte/kafka/dlq.hpp"
#include "fte/kafka/murmur2.hpp"
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
  options.lanes = static_cast<int>(env.get_int("FTE_CONSUMER_LANES", options.lanes, 1, 256));
  options.max_in_flight =
      static_cast<int>(env.get_int("FTE_CONSUMER_MAX_IN_FLIGHT", options.max_in_flight, 1, 1'000'000));
  options.commit_interval =
      env.get_millis("FTE_COMMIT_INTERVAL_MS", options.commit_interval, milliseconds(10), milliseconds(600'000));
  options.shutdown_timeout =
      env.get_millis("FTE_SHUTDOWN_TIMEOUT_MS", options.shutdown_timeout, milliseconds(100), milliseconds(600'000));
  options.dlq_topic = env.get_or("FTE_DLQ_TOPIC", TopicNames::from_env(env).dlq);
  options.retry = RetryPolicy::from_env(env);
  return options;
}

// ---------------------------------------------------------------- metrics

struct ConsumerRunner::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : records(prometheus::BuildCounter()
                    .Name("fte_consumer_records_total")
                    .Help("Records finished by the consumer runner, by outcome")
                    .Register(registry)),
        attempts(prometheus::BuildCounter()
                     .Name("fte_consumer_handler_attempts_total")
                     .Help("Handler invocations, by result")
                     .Register(registry)),
        rebalances(prometheus::BuildCounter()
                       .Name("fte_consumer_rebalances_total")
                       .Help("Rebalance events, by kind")
                       .Register(registry)),
        commits(prometheus::BuildCounter()
                    .Name("fte_consumer_commits_total")
                    .Help("Offset commits, by result")
                    .Register(registry)),
        handle_seconds(prometheus::BuildHistogram()
                           .Name("fte_consumer_handle_seconds")
                           .Help("Time to finish a record, retries included")
                           .Register(registry)
                           .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                            0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})) {}

  prometheus::Family<prometheus::Counter>& records;
  prometheus::Family<prometheus::Counter>& attempts;
  prometheus::Family<prometheus::Counter>& rebalances;
  prometheus::Family<prometheus::Counter>& commits;
  prometheus::Histogram& handle_seconds;
};

// ---------------------------------------------------------------- lanes

// A worker thread with a FIFO queue. Records of one key always land on the
// same lane, which is what keeps a customer's messages in order.
class ConsumerRunner::Lane {
public:
  explicit Lane(std::function<void(const ConsumedRecord&)> work) : work_(std::move(work)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Lane() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  void push(ConsumedRecord record) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(record));
    }
    ready_.notify_one();
  }

private:
  void loop() {
    for (;;) {
      ConsumedRecord record;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) {
          return; // closing and nothing left
        }
        record = std::move(queue_.front());
        queue_.pop_front();
      }
      work_(record);
    }
  }

  std::function<void(const ConsumedRecord&)> work_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<ConsumedRecord> queue_;
  bool closing_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------- runner

namespace {

nlohmann::json describe(const rd_kafka_topic_partition_list_t* partitions) {
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < partitions->cnt; ++i) {
    list.push_back(std::string(partitions->elems[i].topic) + "/" + std::to_string(partitions->elems[i].partition));
  }
  return list;
}

} // namespace

ConsumerRunner::ConsumerRunner(ConsumerOptions options, RecordHandler handler, Producer& dlq_producer, Logger logger,
                               std::shared_ptr<prometheus::Registry> metrics)
    : options_(std::move(options)), handler_(std::move(handler)), dlq_(dlq_producer), logger_(std::move(logger)) {
  if (metrics) {
    metrics_ = std::make_unique<Metrics>(*metrics);
  }
  const std::map<std::string, std::string> defaults = {
      {"auto.offset.reset", "earliest"},
      {"socket.nagle.disable", "true"},
      {"enable.partition.eof", "false"},
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
  rd_kafka_conf_set_rebalance_cb(conf.get(), &ConsumerRunner::on_rebalance);
  std::array<char, 512> error{};
  consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  if (!consumer_) {
    throw ConfigError("kafka consumer", error.data());
  }
  (void)conf.release();
  rd_kafka_poll_set_consumer(consumer_.get());
  for (int i = 0; i < options_.lanes; ++i) {
    lanes_.push_back(std::make_unique<Lane>([this](const ConsumedRecord& record) { process(record); }));
  }
}

ConsumerRunner::~ConsumerRunner() {
  stop();
  lanes_.clear(); // joins the lanes after they finish what they hold
}

void ConsumerRunner::set_validator(EventValidator validator) { validator_ = std::move(validator); }

void ConsumerRunner::stop() noexcept {
  stop_requested_ = true;
  progress_changed_.notify_all();
}

ConsumerRunner::Counters ConsumerRunner::counters() const noexcept {
  return Counters{handled_.load(), attempts_.load(), dead_lettered_.load(), commits_.load()};
}

void ConsumerRunner::run() {
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
                                    {"static_member", options_.group_instance_id.has_value()}});

  auto next_commit = std::chrono::steady_clock::now() + options_.commit_interval;
  while (!stop_requested_.load()) {
    if (std::chrono::steady_clock::now() >= next_commit) {
      commit(nullptr);
      next_commit = std::chrono::steady_clock::now() + options_.commit_interval;
    }
    {
      std::unique_lock lock(progress_mutex_);
      if (in_flight_ >= options_.max_in_flight) {
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
  logger_.info("consumer stopped", {{"handled", handled_.load()}, {"dead_lettered", dead_lettered_.load()}});
}

void ConsumerRunner::dispatch(ConsumedRecord record) {
  {
    std::lock_guard lock(progress_mutex_);
    auto& progress = progress_[PartitionKey{record.topic, record.partition}];
    progress.pending.insert(record.offset);
    ++progress.running;
    progress.next_offset = std::max(progress.next_offset, record.offset + 1);
    ++in_flight_;
  }
  const std::uint32_t hash = record.key ? murmur2(*record.key) : static_cast<std::uint32_t>(record.partition);
  lanes_[hash % lanes_.size()]->push(std::move(record));
}

void ConsumerRunner::process(const ConsumedRecord& record) {
  const auto started = std::chrono::steady_clock::now();
  Logger log = logger_.with({{"topic", record.topic}, {"partition", record.partition}, {"offset", record.offset}});
  auto parsed = events::parse_event(record.value, record.headers);
  if (auto* error = std::get_if<events::EnvelopeError>(&parsed)) {
    log.warn("record is not a valid CloudEvent; dead-lettering", {{"reason", error->reason}});
    finish(record, dead_letter(record, "poison: invalid envelope: " + error->reason, 1, log));
    return;
  }
  const auto& event = std::get<events::CloudEvent>(parsed);
  log = log.with({{"event_id", event.id}, {"correlation_id", event.correlationid}, {"type", event.type}});
  if (validator_) {
    if (auto violation = validator_(event)) {
      log.warn("event violates its schema; dead-lettering", {{"reason", *violation}});
      finish(record, dead_letter(record, "poison: schema violation: " + *violation, 1, log));
      return;
    }
  }

  std::minstd_rand rng(
      static_cast<unsigned>(std::hash<std::string>{}(event.id) ^ static_cast<unsigned>(record.offset)));
  for (int attempt = 1;; ++attempt) {
    HandleResult result;
    try {
      ++attempts_;
      result = handler_(Delivery{record, event, attempt, log});
    } catch (const PoisonError& e) {
      result = HandleResult::poison(e.what());
    } catch (const std::exception& e) {
      result = HandleResult::retry(e.what());
    } catch (...) {
      result = HandleResult::retry("unknown exception");
    }
    if (metrics_) {
      static constexpr std::array<const char*, 3> kNames = {"done", "retry", "poison"};
      metrics_->attempts.Add({{"result", kNames[static_cast<std::size_t>(result.status)]}}).Increment();
    }
    if (result.status == HandleResult::Status::done) {
      ++handled_;
      if (metrics_) {
        metrics_->records.Add({{"topic", record.topic}, {"outcome", "handled"}}).Increment();
        metrics_->handle_seconds.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      finish(record, true);
      return;
    }
    if (result.status == HandleResult::Status::poison) {
      log.warn("handler rejected the record as poison; dead-lettering", {{"reason", result.reason}});
      finish(record, dead_letter(record, "poison: " + result.reason, attempt, log));
      return;
    }
    if (attempt >= options_.retry.max_attempts) {
      log.error("record failed on every attempt; dead-lettering", {{"reason", result.reason}, {"attempts", attempt}});
      finish(record, dead_letter(record, result.reason, attempt, log));
      return;
    }
    const auto delay = options_.retry.delay(attempt, rng);
    log.warn("handler failed; retrying in place",
             {{"reason", result.reason}, {"attempt", attempt}, {"retry_in_ms", delay.count()}});
    // A stop does not cut retries short: the record finishes (or reaches the
    // DLQ) before its offset can be committed.
    std::this_thread::sleep_for(delay);
  }
}

bool ConsumerRunner::dead_letter(const ConsumedRecord& record, const std::string& reason, int attempts,
                                 const Logger& log) {
  const auto started = std::chrono::steady_clock::now();
  std::minstd_rand rng(static_cast<unsigned>(record.offset));
  for (int attempt = 1;; ++attempt) {
    const auto report = dlq_.send(make_dlq_record(record, reason, attempts, options_.service_name, options_.dlq_topic));
    if (report.ok()) {
      ++dead_lettered_;
      if (metrics_) {
        metrics_->records.Add({{"topic", record.topic}, {"outcome", "dead_lettered"}}).Increment();
      }
      log.info("record dead-lettered", {{"dlq_partition", report.partition}, {"dlq_offset", report.offset}});
      return true;
    }
    log.error("could not write to the DLQ; will retry", {{"error", report.error.message()}, {"detail", report.detail}});
    if (stop_requested_.load() && std::chrono::steady_clock::now() - started > options_.shutdown_timeout) {
      return false; // the offset stays uncommitted: the record comes back next time
    }
    std::this_thread::sleep_for(options_.retry.delay(std::min(attempt, 10), rng));
  }
}

void ConsumerRunner::finish(const ConsumedRecord& record, bool done) {
  {
    std::lock_guard lock(progress_mutex_);
    auto it = progress_.find(PartitionKey{record.topic, record.partition});
    if (it != progress_.end()) {
      if (done) {
        it->second.pending.erase(record.offset);
      }
      --it->second.running;
    }
    --in_flight_;
  }
  progress_changed_.notify_all();
}

bool ConsumerRunner::wait_idle(const std::vector<PartitionKey>* only, std::chrono::milliseconds timeout) {
  std::unique_lock lock(progress_mutex_);
  return progress_changed_.wait_for(lock, timeout, [&] {
    if (only == nullptr) {
      return in_flight_ == 0;
    }
    for (const auto& key : *only) {
      if (auto it = progress_.find(key); it != progress_.end() && it->second.running > 0) {
        return false;
      }
    }
    return true;
  });
}

void ConsumerRunner::commit(const std::vector<PartitionKey>* only) {
  PartitionListHandle offsets(rd_kafka_topic_partition_list_new(8));
  {
    std::lock_guard lock(progress_mutex_);
    auto add = [&](const PartitionKey& key, const PartitionProgress& progress) {
      // Up to the lowest unfinished offset: everything below it is done.
      const std::int64_t committable = progress.pending.empty() ? progress.next_offset : *progress.pending.begin();
      if (committable >= 0 && committable > progress.committed) {
        rd_kafka_topic_partition_list_add(offsets.get(), key.topic.c_str(), key.partition)->offset = committable;
      }
    };
    if (only == nullptr) {
      for (const auto& [key, progress] : progress_)
        add(key, progress);
    } else {
      for (const auto& key : *only) {
        if (auto it = progress_.find(key); it != progress_.end()) add(key, it->second);
      }
    }
  }
  if (offsets->cnt == 0) {
    return;
  }
  const auto err = rd_kafka_commit(consumer_.get(), offsets.get(), /*async=*/0);
  if (metrics_) {
    metrics_->commits.Add({{"result", err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok" : "error"}}).Increment();
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    logger_.warn("offset commit failed; will retry",
                 {{"error", rd_kafka_err2name(err)}, {"offsets", describe(offsets.get())}});
    return;
  }
  ++commits_;
  std::lock_guard lock(progress_mutex_);
  for (int i = 0; i < offsets->cnt; ++i) {
    const auto& elem = offsets->elems[i];
    if (auto it = progress_.find(PartitionKey{elem.topic, elem.partition}); it != progress_.end()) {
      if (elem.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        it->second.committed = std::max(it->second.committed, elem.offset);
      }
    }
  }
}

void ConsumerRunner::on_rebalance(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<ConsumerRunner*>(opaque);
  try {
    self->rebalance(err, partitions);
  } catch (const std::exception& e) {
    // No exception may cross a librdkafka callback.
    self->logger_.error("rebalance handling failed", {{"error", e.what()}});
  }
}

void ConsumerRunner::rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
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
        progress_[key] = PartitionProgress{};
    }
    if (cooperative) {
      ErrorHandle error(rd_kafka_incremental_assign(rk, partitions));
      if (error) logger_.error("incremental assign failed", {{"error", rd_kafka_error_string(error.get())}});
    } else {
      rd_kafka_assign(rk, partitions);
    }
    assigned_ = true;
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
      progress_.erase(key);
  }
  if (cooperative) {
    ErrorHandle error(rd_kafka_incremental_unassign(rk, partitions));
    if (error) logger_.error("incremental unassign failed", {{"error", rd_kafka_error_string(error.get())}});
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

} // namespace fte::kafka
