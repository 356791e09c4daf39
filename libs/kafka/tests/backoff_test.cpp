#include "fte/kafka/backoff.hpp"

#include <random>

#include <gtest/gtest.h>

namespace fte::kafka {
namespace {

using std::chrono::milliseconds;

Environment env(std::map<std::string, std::string, std::less<>> vars) { return Environment(std::move(vars)); }

TEST(RetryPolicy, CeilingGrowsExponentiallyAndIsCapped) {
  RetryPolicy policy;
  policy.initial_backoff = milliseconds(100);
  policy.max_backoff = milliseconds(1000);
  EXPECT_EQ(policy.ceiling(1), milliseconds(100));
  EXPECT_EQ(policy.ceiling(2), milliseconds(200));
  EXPECT_EQ(policy.ceiling(3), milliseconds(400));
  EXPECT_EQ(policy.ceiling(4), milliseconds(800));
  EXPECT_EQ(policy.ceiling(5), milliseconds(1000));
  EXPECT_EQ(policy.ceiling(50), milliseconds(1000));
}

TEST(RetryPolicy, JitterStaysWithinHalfAndFullCeiling) {
  RetryPolicy policy;
  std::mt19937 rng(42);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const auto top = policy.ceiling(attempt);
    milliseconds low = top, high = milliseconds(0);
    for (int i = 0; i < 500; ++i) {
      const auto d = policy.delay(attempt, rng);
      ASSERT_GE(d, top / 2);
      ASSERT_LE(d, top);
      low = std::min(low, d);
      high = std::max(high, d);
    }
    EXPECT_LT(low, high) << "jitter must actually vary the delay";
  }
}

TEST(RetryPolicy, ReadsTheEnvironmentAndRejectsNonsense) {
  const auto policy = RetryPolicy::from_env(env(
      {{"FTE_RETRY_MAX_ATTEMPTS", "3"}, {"FTE_RETRY_INITIAL_BACKOFF_MS", "10"}, {"FTE_RETRY_MAX_BACKOFF_MS", "50"}}));
  EXPECT_EQ(policy.max_attempts, 3);
  EXPECT_EQ(policy.initial_backoff, milliseconds(10));
  EXPECT_EQ(policy.max_backoff, milliseconds(50));
  EXPECT_EQ(RetryPolicy::from_env(env({})).max_attempts, 5);
  EXPECT_THROW((void)RetryPolicy::from_env(env({{"FTE_RETRY_MAX_ATTEMPTS", "0"}})), ConfigError);
  EXPECT_THROW(
      (void)RetryPolicy::from_env(env({{"FTE_RETRY_INITIAL_BACKOFF_MS", "100"}, {"FTE_RETRY_MAX_BACKOFF_MS", "10"}})),
      ConfigError);
}

} // namespace
} // namespace fte::kafka
