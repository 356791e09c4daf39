#include "fte/kafka/producer.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <array>
#include <atomic>
#include <memory>
#include <thread>

#include "fte/common/config.hpp"
#include "fte/kafka/handles.hpp"

namespace fte::kafka {

struct Producer::Impl {
  Impl(ProducerOptions o, Logger l) : options(std::move(o)), logger(std::move(l)) {}
  ProducerOptions options;
  Logger logger;
  KafkaHandle handle;
  std::atomic<bool> broker_available{false};
  std::atomic<bool> stopping{false};
  std::thread poller;
  int wake_read_fd = -1;  ///< external_poll: librdkafka writes a byte to the
  int wake_write_fd = -1; ///< pipe's other end when its main queue fills

  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static int on_stats(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
};

namespace {

// Owned by librdkafka from enqueue until the delivery report.
struct DeliveryBox {
  Producer::DeliveryHandler handler;
};

void invoke(const Producer::DeliveryHandler& handler, const DeliveryReport& report, const Logger& logger) {
  // No exception may cross a librdkafka callback.
  try {
    handler(report);
  } catch (const std::exception& e) {
    logger.error("delivery handler threw", {{"error", e.what()}, {"topic", report.topic}});
  } catch (...) {
    logger.error("delivery handler threw a non-standard exception", {{"topic", report.topic}});
  }
}

} // namespace

ProducerRecord ProducerRecord::from_event(std::string topic, std::string key, const events::CloudEvent& event) {
  return ProducerRecord{std::move(topic), std::move(key), events::serialize(event), events::kafka_headers(event)};
}

ProducerOptions ProducerOptions::from_env(const Environment& env, std::string client_id) {
  using std::chrono::milliseconds;
  ProducerOptions options;
  options.client = ClientSettings::from_env(env, std::move(client_id));
  options.delivery_timeout =
      env.get_millis("FTE_PRODUCE_TIMEOUT_MS", options.delivery_timeout, milliseconds(100), milliseconds(300'000));
  options.linger = env.get_millis("FTE_PRODUCER_LINGER_MS", options.linger, milliseconds(0), milliseconds(1'000));
  return options;
}

Producer::Producer(ProducerOptions options, Logger logger)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(logger))) {
  const auto& opts = impl_->options;
  const std::map<std::string, std::string> defaults = {
      {"compression.type", "lz4"},
      {"linger.ms", std::to_string(opts.linger.count())},
      // Nagle stays on by default in librdkafka 2.0.2 and adds tens of ms.
      {"socket.nagle.disable", "true"},
      {"statistics.interval.ms", "1000"},
  };
  // Settings the delivery guarantee and the partitioning contract rest on.
  const std::map<std::string, std::string> overrides = {
      {"acks", "all"},
      {"enable.idempotence", "true"},
      {"partitioner", "murmur2_random"},
      {"message.timeout.ms", std::to_string(impl_->options.delivery_timeout.count())},
  };
  ConfHandle conf = make_conf(opts.client, defaults, overrides);
  rd_kafka_conf_set_opaque(conf.get(), impl_.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::on_delivery);
  rd_kafka_conf_set_stats_cb(conf.get(), &Impl::on_stats);
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::on_error);
  std::array<char, 512> error{};
  impl_->handle.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error.data(), error.size()));
  if (!impl_ || !impl_->handle) {
    throw ConfigError("kafka producer", error.data());
  }
  (void)conf.release(); // rd_kafka_new took ownership
  if (!impl_->options.external_poll) {
    impl_->poller = std::thread([impl = impl_.get()] {
      while (!impl->stopping.load()) {
        rd_kafka_poll(impl->handle.get(), 50);
      }
    });
    return;
  }
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_NONBLOCK | O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "producer: pipe2 for delivery wake-ups");
  }
  impl_->wake_read_fd = fds[0];
  impl_->wake_write_fd = fds[1];
  const QueueHandle main_queue(rd_kafka_queue_get_main(impl_->handle.get()));
  static constexpr char kWake = '1';
  rd_kafka_queue_io_event_enable(main_queue.get(), impl_->wake_write_fd, &kWake, 1);
}

int Producer::poll() {
  std::array<char, 256> drain{};
  while (::read(impl_->wake_read_fd, drain.data(), drain.size()) > 0) {
  }
  // librdkafka writes to the pipe only when its queue goes from empty to
  // non-empty, so serve it until it is empty again.
  int served = 0;
  for (int n = rd_kafka_poll(impl_->handle.get(), 0); n > 0; n = rd_kafka_poll(impl_->handle.get(), 0))
    served += n;
  return served;
}

Producer::~Producer() {
  if (!impl_ || !impl_->handle) {
    return;
  }
  const auto remaining = rd_kafka_flush(impl_->handle.get(), static_cast<int>(impl_->options.delivery_timeout.count()));
  if (remaining != RD_KAFKA_RESP_ERR_NO_ERROR) {
    impl_->logger.warn("producer closing with undelivered records; reporting them failed",
                       {{"in_flight", rd_kafka_outq_len(impl_->handle.get())}});
    rd_kafka_purge(impl_->handle.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  }
  impl_->stopping = true;
  if (impl_->poller.joinable()) {
    impl_->poller.join();
  }
  // Serve the reports of purged records so every handler runs once.
  rd_kafka_poll(impl_->handle.get(), 0);
  if (impl_->wake_read_fd >= 0) {
    const QueueHandle main_queue(rd_kafka_queue_get_main(impl_->handle.get()));
    rd_kafka_queue_io_event_enable(main_queue.get(), -1, nullptr, 0);
    ::close(impl_->wake_read_fd);
    ::close(impl_->wake_write_fd);
  }
}

bool Producer::broker_available() const noexcept { return impl_->broker_available.load(); }
const ProducerOptions& Producer::options() const noexcept { return impl_->options; }
rd_kafka_s* Producer::native() const noexcept { return impl_->handle.get(); }
int Producer::delivery_fd() const noexcept { return impl_->wake_read_fd; }

int Producer::in_flight() const { return rd_kafka_outq_len(impl_->handle.get()); }

void Producer::send_async(ProducerRecord record, DeliveryHandler handler) {
  auto box = std::make_unique<DeliveryBox>(DeliveryBox{std::move(handler)});
  HeadersHandle headers(rd_kafka_headers_new(record.headers.size()));
  for (const auto& h : record.headers) {
    rd_kafka_header_add(headers.get(), h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                        static_cast<ssize_t>(h.value.size()));
  }
  const void* key = record.key ? record.key->data() : nullptr;
  const std::size_t key_len = record.key ? record.key->size() : 0;
  // librdkafka's RD_KAFKA_V_* macros are C casts.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif
  const rd_kafka_resp_err_t err =
      rd_kafka_producev(impl_->handle.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()),
                        RD_KAFKA_V_PARTITION(record.partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(record.value.data(), record.value.size()),
                        RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_OPAQUE(box.get()), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not enqueued: librdkafka owns neither the headers nor the box.
    const errc code = classify(err);
    DeliveryReport report{make_error_code(code), rd_kafka_err2str(err), record.topic, -1, -1};
    invoke(box->handler, report, impl_->logger);
    return;
  }
  (void)headers.release(); // librdkafka owns the headers now
  (void)box.release();     // freed in on_delivery
}

std::future<DeliveryReport> Producer::send_async(ProducerRecord record) {
  auto promise = std::make_shared<std::promise<DeliveryReport>>();
  auto future = promise->get_future();
  send_async(std::move(record), [promise](const DeliveryReport& report) { promise->set_value(report); });
  return future;
}

DeliveryReport Producer::send(ProducerRecord record) { return send_async(std::move(record)).get(); }

bool Producer::flush(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(impl_->handle.get(), static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void Producer::Impl::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  std::unique_ptr<DeliveryBox> box(static_cast<DeliveryBox*>(message->_private));
  DeliveryReport report;
  report.topic = rd_kafka_topic_name(message->rkt);
  report.partition = message->partition;
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    report.offset = message->offset;
    self->broker_available = true;
  } else {
    const auto code = classify(message->err, rd_kafka_message_status(message));
    report.error = make_error_code(code);
    report.detail = rd_kafka_err2str(message->err);
  }
  if (box) {
    invoke(box->handler, report, self->logger);
  }
}

int Producer::Impl::on_stats(rd_kafka_t* /*rk*/, char* json, size_t json_len, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  try {
    const auto stats = nlohmann::json::parse(std::string_view(json, json_len));
    bool up = false;
    if (const auto brokers = stats.find("brokers"); brokers != stats.end()) {
      for (const auto& [name, broker] : brokers->items()) {
        if (broker.value("nodeid", -1) >= 0 && broker.value("state", "") == "UP") {
          up = true;
          break;
        }
      }
    }
    self->broker_available = up;
  } catch (const std::exception& e) {
    self->logger.warn("could not read librdkafka statistics", {{"error", e.what()}});
  }
  return 0; // librdkafka frees the JSON
}

void Producer::Impl::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    self->broker_available = false;
  }
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> fatal{};
    const auto original = rd_kafka_fatal_error(rk, fatal.data(), fatal.size());
    self->logger.error("fatal producer error", {{"error", rd_kafka_err2name(original)}, {"reason", fatal.data()}});
    return;
  }
  self->logger.warn("kafka producer error", {{"error", rd_kafka_err2name(code)}, {"reason", reason}});
}

} // namespace fte::kafka
