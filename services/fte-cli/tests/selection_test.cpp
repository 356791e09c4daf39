#include "selection.hpp"

#include <gtest/gtest.h>

#include "commands.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/topics.hpp"

namespace fte::cli {
namespace {

using namespace std::chrono_literals;

const auto kNow = *parse_rfc3339("2026-11-25T12:00:00Z");

TEST(ParseTimeArg, TakesRfc3339AndRelativeForms) {
  EXPECT_EQ(parse_time_arg("2026-11-24T09:00:00Z", "--from", kNow), *parse_rfc3339("2026-11-24T09:00:00Z"));
  EXPECT_EQ(parse_time_arg("2026-11-24T10:00:00+01:00", "--from", kNow), *parse_rfc3339("2026-11-24T09:00:00Z"));
  EXPECT_EQ(parse_time_arg("now", "--to", kNow), kNow);
  EXPECT_EQ(parse_time_arg("-90s", "--from", kNow), kNow - 90s);
  EXPECT_EQ(parse_time_arg("-30m", "--from", kNow), kNow - 30min);
  EXPECT_EQ(parse_time_arg("-2h", "--from", kNow), kNow - 2h);
  EXPECT_EQ(parse_time_arg("2h", "--from", kNow), kNow - 2h);
  EXPECT_EQ(parse_time_arg("-7d", "--from", kNow), kNow - 7 * 24h);
}

TEST(ParseTimeArg, RejectsWhatItCannotRead) {
  for (const auto* bad : {"", "-", "yesterday", "-2w", "-h", "2026-13-01T00:00:00Z", "--2h", "-1.5h"}) {
    try {
      (void)parse_time_arg(bad, "--from", kNow);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--from"), std::string::npos) << e.what();
    }
  }
}

TEST(ParseTimeRange, TakesEitherEndAndRefusesAnInvertedRange) {
  const auto open_end = parse_time_range("-2h", "", kNow);
  EXPECT_EQ(open_end.from, kNow - 2h);
  EXPECT_FALSE(open_end.to.has_value());
  EXPECT_FALSE(parse_time_range("", "", kNow).from.has_value());
  const auto one_instant = parse_time_range("-1h", "-1h", kNow);
  EXPECT_EQ(one_instant.from, one_instant.to);
  try {
    (void)parse_time_range("-1h", "-2h", kNow);
    ADD_FAILURE() << "accepted an inverted range";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("time range is inverted"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)parse_time_range("", "soon", kNow), UsageError);
}

TEST(ParseOffsetRanges, TakesRangesOpenEndsAndSingleOffsets) {
  const auto ranges = parse_offset_ranges("3:100-200, 4:7,5:10-");
  ASSERT_EQ(ranges.size(), 3U);
  EXPECT_EQ(ranges[0].partition, 3);
  EXPECT_EQ(ranges[0].first, 100);
  EXPECT_EQ(ranges[0].last, 200);
  EXPECT_TRUE(ranges[0].contains(3, 150));
  EXPECT_FALSE(ranges[0].contains(3, 201));
  EXPECT_FALSE(ranges[0].contains(4, 150));
  EXPECT_EQ(ranges[1].first, 7);
  EXPECT_EQ(ranges[1].last, 7);
  EXPECT_FALSE(ranges[2].last.has_value());
  EXPECT_TRUE(ranges[2].contains(5, 1'000'000));
}

TEST(ParseOffsetRanges, RejectsMalformedAndInvertedRanges) {
  for (const auto* bad : {"", "3", "3:", ":5", "3:200-100", "a:1", "3:1-b", "-1:4", ","}) {
    EXPECT_THROW((void)parse_offset_ranges(bad), UsageError) << bad;
  }
}

TEST(CustomerKeys, EachTopicIsKeyedByWhatItsWriterKnows) {
  const CustomerKeys keys{"c1", {"ada@example.com"}, {"+15551234567"}};
  EXPECT_EQ(keys.keys_for(kafka::topics::kWebformInbound), std::vector<std::string>{"ada@example.com"});
  EXPECT_EQ(keys.keys_for(kafka::topics::kWhatsappInbound), std::vector<std::string>{"+15551234567"});
  EXPECT_EQ(keys.keys_for(kafka::topics::kTicketsIncoming), std::vector<std::string>{"c1"});
  EXPECT_EQ(keys.keys_for(kafka::topics::kDlq).size(), 3U);
}

TEST(ContractTopicName, AcceptsNamesWithOrWithoutThePrefix) {
  EXPECT_EQ(contract_topic_name("fte.tickets.incoming", ""), "fte.tickets.incoming");
  EXPECT_EQ(contract_topic_name("t1.fte.tickets.incoming", "t1."), "fte.tickets.incoming");
  EXPECT_EQ(contract_topic_name("fte.tickets.incoming", "t1."), "fte.tickets.incoming");
  try {
    (void)contract_topic_name("fte.tickets", "");
    ADD_FAILURE();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("fte.channels.webform.inbound"), std::string::npos);
  }
}

TEST(DatabaseUrls, NameAnotherDatabaseOnTheSameServer) {
  EXPECT_EQ(with_database_name("postgresql://fte@127.0.0.1:15432/fte", "fte_sandbox_a"),
            "postgresql://fte@127.0.0.1:15432/fte_sandbox_a");
  EXPECT_EQ(with_database_name("postgresql://fte@db:5432/fte?sslmode=require", "x"),
            "postgresql://fte@db:5432/x?sslmode=require");
  EXPECT_EQ(with_database_name("postgresql://fte@db:5432", "x"), "postgresql://fte@db:5432/x");
  EXPECT_EQ(with_database_name("host=db port=5432 dbname=fte user=fte", "x"), "host=db port=5432 user=fte dbname=x");
  EXPECT_EQ(database_name_of("postgresql://fte@127.0.0.1:15432/e2e_abc?sslmode=disable"), "e2e_abc");
  EXPECT_EQ(database_name_of("host=db dbname=live user=fte"), "live");
}

TEST(Actor, PrefersFteActor) {
  using Vars = std::map<std::string, std::string, std::less<>>;
  EXPECT_EQ(actor(Environment(Vars{{"FTE_ACTOR", "ci-job-7"}})), "ci-job-7");
  EXPECT_FALSE(actor(Environment(Vars{})).empty());
}

} // namespace
} // namespace fte::cli
