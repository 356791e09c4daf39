#include "fte/knowledge/decision.hpp"

#include <random>

#include <gtest/gtest.h>

namespace fte::knowledge {
namespace {

// A ranking where article `right` has evidence of strength `strength` and
// article `other` a weaker one.
Ranking ranking_of(std::int64_t right, std::int64_t other, double strength) {
  Ranking r;
  r.query_terms = 4;
  Candidate a;
  a.article_id = right;
  a.lexical = 10 * strength;
  a.lexical_example = 10 * strength;
  a.lexical_votes = strength;
  a.fused = 2;
  Candidate b;
  b.article_id = other;
  b.lexical = 3;
  b.lexical_example = 3;
  b.lexical_votes = 1 - strength;
  b.fused = 1;
  r.candidates = {a, b};
  return r;
}

TEST(Decision, PickThresholdIsTheLowestReachingTheTarget) {
  // Scores 0.9..0.1; the two lowest are wrong.
  std::vector<Judged> judged;
  for (int i = 9; i >= 1; --i)
    judged.push_back({i >= 3 ? std::optional<std::int64_t>(1) : std::optional<std::int64_t>(2), Choice{1, i / 10.0}});
  EXPECT_DOUBLE_EQ(pick_threshold(judged, 1.0), 0.3);
  EXPECT_DOUBLE_EQ(pick_threshold(judged, 0.85), 0.2); // 7 right of 8
  EXPECT_DOUBLE_EQ(pick_threshold({}, 0.95), 1.0);
  // Nothing reaches it: answer nothing.
  EXPECT_DOUBLE_EQ(pick_threshold({{std::nullopt, Choice{1, 0.9}}}, 0.95), 1.0);
}

TEST(Decision, AMarginOfStandardErrorsAsksForMorePrecisionWhereItIsMeasuredOnFew) {
  // 100 answers: the 90 highest right, then 10 wrong.
  std::vector<Judged> judged;
  for (int i = 100; i >= 1; --i)
    judged.push_back({i > 10 ? std::optional<std::int64_t>(1) : std::optional<std::int64_t>(2), Choice{1, i / 100.0}});
  // 0.9 reached at the lowest score: 90 right of 100.
  EXPECT_DOUBLE_EQ(pick_threshold(judged, 0.9), 0.01);
  // One standard error more: the lowest score where precision - SE >= 0.9
  // is 0.04 (90 of 97: 0.9278 - 0.0263).
  EXPECT_DOUBLE_EQ(pick_threshold(judged, 0.9, -1, 1.0), 0.04);
  // Two: 0.06 (90 of 95: 0.9474 - 2 * 0.0229).
  EXPECT_DOUBLE_EQ(pick_threshold(judged, 0.9, -1, 2.0), 0.06);
}

TEST(Decision, MetricsCountRightAnswersAndOutOfScope) {
  const std::vector<Judged> judged = {
      {1, Choice{1, 0.9}},            // right, answered
      {1, Choice{2, 0.8}},            // wrong, answered
      {2, Choice{2, 0.1}},            // right, not answered
      {std::nullopt, Choice{1, 0.7}}, // out of scope, answered
      {std::nullopt, std::nullopt},   // out of scope, nothing retrieved
  };
  const auto m = metrics(judged, 0.5);
  EXPECT_EQ(m.messages, 5U);
  EXPECT_EQ(m.answerable, 3U);
  EXPECT_EQ(m.answers, 3U);
  EXPECT_EQ(m.right, 1U);
  EXPECT_EQ(m.out_of_scope, 2U);
  EXPECT_EQ(m.out_of_scope_answered, 1U);
  EXPECT_DOUBLE_EQ(m.precision, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.coverage, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.top1, 2.0 / 3);
  const auto points = curve(judged, 10);
  ASSERT_FALSE(points.empty());
  EXPECT_DOUBLE_EQ(points.front().threshold, 0.9);
  EXPECT_DOUBLE_EQ(points.front().precision, 1.0);
}

TEST(Decision, FittedModelSeparatesStrongFromWeakEvidence) {
  std::mt19937 random(7);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<LabelledRanking> data;
  for (int i = 0; i < 400; ++i) {
    const double strength = uniform(random);
    // Strong evidence is right; weak evidence is a coin toss between the two.
    const bool right = strength > 0.5 || uniform(random) < 0.3;
    data.push_back({ranking_of(1, 2, strength), right ? std::optional<std::int64_t>(1) : std::nullopt});
  }
  const auto model = fit_model(data);
  const auto strong = choose(ranking_of(1, 2, 0.95), model);
  const auto weak = choose(ranking_of(1, 2, 0.05), model);
  ASSERT_TRUE(strong && weak);
  EXPECT_EQ(strong->article_id, 1);
  EXPECT_GT(strong->score, 0.7);
  EXPECT_LT(weak->score, strong->score);

  const auto calibration = calibrate(data, false, 0.95);
  EXPECT_TRUE(calibration.fitted);
  EXPECT_EQ(calibration.labelled, 400U);
  EXPECT_GE(calibration.expected_precision, 0.95);
  EXPECT_TRUE(judge(ranking_of(1, 2, 0.99), calibration).answer);
  EXPECT_FALSE(judge(ranking_of(1, 2, 0.01), calibration).answer);
}

TEST(Decision, TooLittleDataFallsBackToTheDefaults) {
  const std::vector<LabelledRanking> few = {{ranking_of(1, 2, 0.9), 1}};
  const auto calibration = calibrate(few, true, 0.9);
  EXPECT_FALSE(calibration.fitted);
  EXPECT_DOUBLE_EQ(calibration.threshold, 0.9);
  EXPECT_EQ(calibration.model.weights, default_model(true).weights);
}

TEST(Decision, NothingRetrievedIsNoAnswer) {
  Calibration calibration;
  const auto verdict = judge(Ranking{}, calibration);
  EXPECT_FALSE(verdict.choice);
  EXPECT_FALSE(verdict.answer);
}

} // namespace
} // namespace fte::knowledge

namespace fte::knowledge {
namespace {

TEST(Decision, ThresholdIsPickedForTheAssumedShareOfOutOfScopeMessages) {
  // 90 answerable, all right at 0.9; 10 out of scope, answered at 0.8.
  std::vector<Judged> judged;
  for (int i = 0; i < 90; ++i)
    judged.push_back({1, Choice{1, 0.9}});
  for (int i = 0; i < 10; ++i)
    judged.push_back({std::nullopt, Choice{1, 0.8}});
  // As labelled: 90 right of 100 answers at 0.8 is 0.90.
  EXPECT_DOUBLE_EQ(pick_threshold(judged, 0.9), 0.8);
  // Were half the traffic out of scope, 0.8 would be right half the time.
  EXPECT_DOUBLE_EQ(pick_threshold(judged, 0.9, 0.5), 0.9);
  EXPECT_NEAR(weighted_precision(judged, 0.8, 0.5), 0.5, 1e-9);
  EXPECT_NEAR(weighted_precision(judged, 0.8, -1), 0.9, 1e-9);
  // No out-of-scope message to weigh: unweighted.
  judged.resize(90);
  EXPECT_DOUBLE_EQ(pick_threshold(judged, 0.9, 0.5), 0.9);
}

} // namespace
} // namespace fte::knowledge
