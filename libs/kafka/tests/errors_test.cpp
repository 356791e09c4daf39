#include "fte/kafka/errors.hpp"
#include "fte/kafka/rdkafka_interop.hpp"

#include <gtest/gtest.h>

namespace fte::kafka {
namespace {

TEST(Errors, PossiblyPersistedWinsOverTheErrorCode) {
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED),
            errc::possibly_persisted);
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_MSG_STATUS_NOT_PERSISTED), errc::timed_out);
}

TEST(Errors, ClassifiesRetryableAndFatal) {
  EXPECT_TRUE(is_retryable(classify(RD_KAFKA_RESP_ERR__QUEUE_FULL)));
  EXPECT_TRUE(is_retryable(classify(RD_KAFKA_RESP_ERR__TRANSPORT)));
  EXPECT_TRUE(is_retryable(classify(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)));
  EXPECT_TRUE(is_retryable(classify(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)));
  EXPECT_FALSE(is_retryable(classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)));
  EXPECT_FALSE(is_retryable(classify(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)));
  EXPECT_FALSE(is_retryable(classify(RD_KAFKA_RESP_ERR__FATAL)));
  EXPECT_EQ(classify(RD_KAFKA_RESP_ERR_NO_ERROR), errc::ok);
}

TEST(Errors, ErrorCodesHaveACategoryAndMessages) {
  const std::error_code code = make_error_code(errc::possibly_persisted);
  EXPECT_STREQ(code.category().name(), "fte.kafka");
  EXPECT_NE(code.message().find("possibly persisted"), std::string::npos);
  const ProduceError error(errc::queue_full, "queue full");
  EXPECT_TRUE(error.retryable());
}

} // namespace
} // namespace fte::kafka
