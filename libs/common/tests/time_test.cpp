#include "fte/common/time.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace fte {
namespace {

using namespace std::chrono;

TEST(Time, FormatsUtcWithMilliseconds) {
  const system_clock::time_point at{milliseconds(1764080295123)};
  EXPECT_EQ(format_rfc3339(at), "2025-11-25T14:18:15.123Z");
}

TEST(Time, RoundTrips) {
  const system_clock::time_point at{milliseconds(1764080295123)};
  const auto parsed = parse_rfc3339(format_rfc3339(at));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, at);
}

TEST(Time, ParsesOffsetsAndFractions) {
  const auto utc = parse_rfc3339("2025-11-25T14:18:15Z");
  const auto offset = parse_rfc3339("2025-11-25T16:18:15+02:00");
  ASSERT_TRUE(utc && offset);
  EXPECT_EQ(*utc, *offset);
  const auto nanos = parse_rfc3339("2025-11-25T14:18:15.123456789Z");
  ASSERT_TRUE(nanos);
  EXPECT_EQ(duration_cast<nanoseconds>(*nanos - *utc), nanoseconds(123456789));
}

TEST(Time, RejectsMalformed) {
  for (const char* bad : {"", "2025-11-25", "2025-11-25T14:18:15", "2025-13-25T14:18:15Z", "2025-11-25T14:18:15.Z",
                          "2025-11-25T14:18:15Zjunk", "2025-11-25T14:18:15+0200"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

TEST(Time, RejectsTimesTheClockCannotHold) {
  // Found by fuzz_cloudevent: year 2502 overflowed the nanosecond clock.
  EXPECT_FALSE(parse_rfc3339("2502-03-14T09:26:54.020Z").has_value());
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z").has_value());
  EXPECT_FALSE(parse_rfc3339("1000-01-01T00:00:00Z").has_value());
  EXPECT_TRUE(parse_rfc3339("2262-01-01T00:00:00Z").has_value());
  EXPECT_TRUE(parse_rfc3339("1700-01-01T00:00:00Z").has_value());
}

TEST(Time, TimePointSinceEpochRefusesWhatTheClockCannotHold) {
  EXPECT_EQ(time_point_since_epoch(milliseconds(1764080295123)), system_clock::time_point(milliseconds(1764080295123)));
  EXPECT_EQ(time_point_since_epoch(seconds(-86'400)), system_clock::time_point(hours(-24)));
  EXPECT_FALSE(time_point_since_epoch(milliseconds(253'402'300'799'000)).has_value()); // year 9999
  EXPECT_FALSE(time_point_since_epoch(seconds(-253'402'300'799)).has_value());
  EXPECT_FALSE(time_point_since_epoch(milliseconds(std::numeric_limits<std::int64_t>::max())).has_value());
  EXPECT_TRUE(time_point_since_epoch(seconds(9'223'372'035)).has_value()); // 2262-04-11
}

} // namespace
} // namespace fte
