#pragma once

// The boundary to librdkafka's C API, for code that holds librdkafka handles
// itself: fte::kafka's own sources, and low-level readers in the CLI and the
// tests. Everything else uses the librdkafka-free headers (producer.hpp,
// consumer_runner.hpp, record.hpp, errors.hpp).

#include <librdkafka/rdkafka.h>

#include "fte/kafka/errors.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/kafka/record.hpp"

namespace fte::kafka {

/// Maps a librdkafka delivery or enqueue error to fte's classes.
/// `status` is the message's persistence status where one is known.
[[nodiscard]] errc classify(rd_kafka_resp_err_t err,
                            rd_kafka_msg_status_t status = RD_KAFKA_MSG_STATUS_NOT_PERSISTED) noexcept;

/// Copies a consumed message (key, value, headers, position) out of librdkafka.
[[nodiscard]] ConsumedRecord copy_record(const rd_kafka_message_t* message);

} // namespace fte::kafka
