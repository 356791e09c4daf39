#include "fte/kafka/murmur2.hpp"

#include <gtest/gtest.h>

namespace fte::kafka {
namespace {

// Vectors from librdkafka's unittest_murmur2 (PROTOCOLS.md, Partitioning).
TEST(Murmur2, MatchesLibrdkafkaAndJavaVectors) {
  EXPECT_EQ(murmur2("kafka"), 0xd067cf64U);
  EXPECT_EQ(murmur2(""), 0x106e08d9U);
  EXPECT_EQ(murmur2("1234"), 0x9fc97b14U);
  EXPECT_EQ(murmur2("234"), 0xe7c009caU);
  EXPECT_EQ(murmur2("34"), 0x873930daU);
  EXPECT_EQ(murmur2("4"), 0x5a4b5ca1U);
  EXPECT_EQ(murmur2("giberish123456789"), 0x8f552b0cU);
}

TEST(Murmur2, PartitionIsPositiveHashModuloCount) {
  EXPECT_EQ(partition_for_key("kafka", 12), 4);
  EXPECT_EQ(partition_for_key("kafka", 3), 1);
  EXPECT_EQ(partition_for_key("", 12), 9);
}

} // namespace
} // namespace fte::kafka
