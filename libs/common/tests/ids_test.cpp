#include "fte/common/ids.hpp"

#include <set>

#include <gtest/gtest.h>

namespace fte {
namespace {

TEST(Ids, NameBasedUuidMatchesRfc4122Vector) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
  EXPECT_EQ(name_based_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

TEST(Ids, ProviderIdsGiveDeterministicEventIds) {
  const auto first = event_id_from_provider("twilio", "SM0123456789abcdef0123456789abcdef");
  const auto retry = event_id_from_provider("twilio", "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(first, retry);
  EXPECT_TRUE(is_uuid(first.str()));
  EXPECT_NE(first, event_id_from_provider("gmail", "SM0123456789abcdef0123456789abcdef"));
  EXPECT_NE(first, event_id_from_provider("twilio", "SM0123456789abcdef0123456789abcdee"));
}

TEST(Ids, DerivedIdsAreStablePerCauseProducerAndOutput) {
  const EventId cause("0b9e4d0c-7d43-4a7c-9c55-8d5d3c1d2a10");
  EXPECT_EQ(derived_event_id(cause, "channel-normalizer", "ticket"),
            derived_event_id(cause, "channel-normalizer", "ticket"));
  EXPECT_NE(derived_event_id(cause, "channel-normalizer", "ticket"), derived_event_id(cause, "agent-worker", "ticket"));
  EXPECT_NE(derived_event_id(cause, "agent-worker", "escalation"), derived_event_id(cause, "agent-worker", "metric"));
}

TEST(Ids, RandomUuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = random_uuid();
    ASSERT_TRUE(is_uuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000U);
}

TEST(Ids, RejectsMalformedNamespace) {
  EXPECT_THROW((void)name_based_uuid("not-a-uuid", "x"), std::invalid_argument);
  EXPECT_FALSE(is_uuid("886313e1-3b8a-5372-9b90-0c9aee199e5"));
  EXPECT_FALSE(is_uuid("886313e1x3b8a-5372-9b90-0c9aee199e5d"));
}

TEST(Ids, StrongIdsCompareByValue) {
  EXPECT_EQ(CustomerId("a"), CustomerId("a"));
  EXPECT_LT(CustomerId("a"), CustomerId("b"));
  EXPECT_EQ(std::hash<CustomerId>{}(CustomerId("a")), std::hash<std::string>{}("a"));
}

} // namespace
} // namespace fte
