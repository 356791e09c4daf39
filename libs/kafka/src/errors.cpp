#include "fte/kafka/errors.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

namespace fte::kafka {
namespace {

class KafkaCategory final : public std::error_category {
public:
  [[nodiscard]] const char* name() const noexcept override { return "fte.kafka"; }
  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
    case errc::ok: return "ok";
    case errc::queue_full: return "producer queue full";
    case errc::timed_out: return "not delivered within the delivery timeout";
    case errc::possibly_persisted: return "delivery outcome unknown (possibly persisted)";
    case errc::broker_unavailable: return "no broker available";
    case errc::message_too_large: return "message too large";
    case errc::unknown_topic: return "unknown topic";
    case errc::fatal: return "fatal producer error";
    case errc::invalid: return "invalid argument";
    case errc::shutting_down: return "producer is shutting down";
    }
    return "unknown kafka error";
  }
};

} // namespace

const std::error_category& kafka_category() noexcept {
  static const KafkaCategory category;
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), kafka_category()}; }

bool is_retryable(errc e) noexcept {
  switch (e) {
  case errc::queue_full:
  case errc::timed_out:
  case errc::possibly_persisted:
  case errc::broker_unavailable:
  case errc::shutting_down: return true;
  default: return false;
  }
}

errc classify(rd_kafka_resp_err_t err, rd_kafka_msg_status_t status) noexcept {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return errc::ok;
  }
  // A failed message that may have reached the log must never be reported as
  // "surely not written": the sender has to retry with the same id.
  if (status == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED) {
    return errc::possibly_persisted;
  }
  switch (err) {
  case RD_KAFKA_RESP_ERR__QUEUE_FULL: return errc::queue_full;
  case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
  case RD_KAFKA_RESP_ERR__TIMED_OUT:
  case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT: return errc::timed_out;
  case RD_KAFKA_RESP_ERR__TRANSPORT:
  case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
  case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
  case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
  case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
  case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: return errc::broker_unavailable;
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE: return errc::message_too_large;
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
  case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION: return errc::unknown_topic;
  case RD_KAFKA_RESP_ERR__FATAL: return errc::fatal;
  case RD_KAFKA_RESP_ERR__DESTROY:
  case RD_KAFKA_RESP_ERR__PURGE_QUEUE: return errc::shutting_down;
  case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT: return errc::possibly_persisted;
  case RD_KAFKA_RESP_ERR__INVALID_ARG: return errc::invalid;
  default: return errc::broker_unavailable;
  }
}

} // namespace fte::kafka
