#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

namespace fte::kafka {

/// What went wrong with a produce, as fte's callers need to tell it apart:
/// retryable errors become HTTP 503 (the sender retries), fatal ones 500.
enum class errc {
  ok = 0,
  queue_full = 1,         ///< local queue full: back-pressure, retryable
  timed_out = 2,          ///< not delivered within the bound and surely not written
  possibly_persisted = 3, ///< timed out in flight: may be in the log; retry, consumers dedup
  broker_unavailable = 4, ///< no broker or leader right now, retryable
  message_too_large = 5,  ///< will never fit, fatal for this record
  unknown_topic = 6,      ///< the topic does not exist, fatal until provisioned
  fatal = 7,              ///< the producer instance is unusable (idempotence fatal error)
  invalid = 8,            ///< bad arguments, fatal
  shutting_down = 9,      ///< the producer is closing, retryable elsewhere
};

[[nodiscard]] const std::error_category& kafka_category() noexcept;
[[nodiscard]] std::error_code make_error_code(errc e) noexcept;
[[nodiscard]] bool is_retryable(errc e) noexcept;

/// A produce that failed, with whether trying again can succeed.
class ProduceError : public std::runtime_error {
public:
  ProduceError(errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  [[nodiscard]] errc code() const noexcept { return code_; }
  [[nodiscard]] bool retryable() const noexcept { return is_retryable(code_); }

private:
  errc code_;
};

} // namespace fte::kafka

template <> struct std::is_error_code_enum<fte::kafka::errc> : std::true_type {};
