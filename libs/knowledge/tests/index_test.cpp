#include "fte/knowledge/index.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace fte::knowledge {
namespace {

Vector unit(std::initializer_list<float> values) {
  Vector v(values);
  float n = 0;
  for (float x : v)
    n += x * x;
  for (float& x : v)
    x /= std::sqrt(n);
  return v;
}

class IndexTest : public ::testing::Test {
protected:
  Analyzer analyzer;
  KnowledgeIndex index{analyzer};
  void SetUp() override {
    index.put_article({1, "lost-card", "Lost or stolen card", "Freeze the card in the app."}, unit({1, 0, 0}));
    index.put_article({2, "reset-password", "Reset your password", "Use the forgot link."}, unit({0, 1, 0}));
    index.put_example({10, "my wallet was stolen", 1}, unit({0.9F, 0.1F, 0}));
    index.put_example({11, "someone took my wallet", 1}, unit({0.95F, 0, 0.05F}));
    index.put_example({12, "what is the meaning of life", std::nullopt}, unit({0, 0, 1}));
  }
};

TEST_F(IndexTest, LexicalFindsTheArticleAndTheResolutionsVote) {
  const auto ranking = index.rank("my wallet was stolen yesterday", {});
  ASSERT_FALSE(ranking.candidates.empty());
  EXPECT_FALSE(ranking.semantic);
  const auto& top = ranking.candidates.front();
  EXPECT_EQ(top.article_id, 1);
  EXPECT_GT(top.lexical_example, 0);
  EXPECT_NEAR(top.lexical_votes, 1.0, 1e-9);
}

TEST_F(IndexTest, SemanticVotesAndEscalateVotes) {
  ASSERT_TRUE(index.has_vectors());
  const auto ranking = index.rank("zzz", unit({0.1F, 0, 1}));
  EXPECT_TRUE(ranking.semantic);
  EXPECT_GT(ranking.semantic_escalate_votes, 0.5);
  const auto lost = index.rank("zzz", unit({1, 0, 0}));
  ASSERT_FALSE(lost.candidates.empty());
  EXPECT_EQ(lost.candidates.front().article_id, 1);
  EXPECT_GT(lost.candidates.front().semantic_example, 0.9);
}

TEST_F(IndexTest, LeaveOneOutIgnoresThatExample) {
  const auto with = index.rank("someone took my wallet", {});
  const auto without = index.rank("someone took my wallet", {}, 11);
  ASSERT_FALSE(with.candidates.empty());
  ASSERT_FALSE(without.candidates.empty());
  EXPECT_GT(with.candidates.front().lexical_example, without.candidates.front().lexical_example);
}

TEST_F(IndexTest, RemovalsAndReplacementsAreSeenAtOnce) {
  index.remove_example(10);
  index.remove_example(11);
  EXPECT_EQ(index.examples(), 1U);
  EXPECT_EQ(index.example_vector(12).size(), 3U);
  EXPECT_TRUE(index.example_vector(10).empty());
  const auto ranking = index.rank("someone took my wallet", unit({1, 0, 0}));
  for (const auto& c : ranking.candidates)
    EXPECT_EQ(c.semantic_example, 0.0);
  index.put_article({2, "reset-password", "Change your passphrase", "Settings."}, unit({0, 1, 0}));
  EXPECT_EQ(index.articles(), 2U);
  EXPECT_EQ(index.article(2)->title, "Change your passphrase");
  index.remove_article(1);
  const auto after = index.rank("stolen card", {});
  for (const auto& c : after.candidates)
    EXPECT_NE(c.article_id, 1);
}

TEST_F(IndexTest, AMissingVectorTurnsSemanticsOff) {
  index.put_example({13, "no vector", 2}, {});
  EXPECT_FALSE(index.has_vectors());
  EXPECT_FALSE(index.rank("card", unit({1, 0, 0})).semantic);
  index.remove_example(13);
  EXPECT_TRUE(index.has_vectors());
}

TEST_F(IndexTest, HoldsAHundredThousandExamples) {
  Analyzer a;
  KnowledgeIndex big(a);
  big.put_article({1, "a", "Alpha", "alpha text"}, {});
  for (std::int64_t i = 0; i < 100'000; ++i)
    big.put_example({i + 100, "message number " + std::to_string(i) + " about alpha", 1}, {});
  EXPECT_EQ(big.examples(), 100'000U);
  const auto ranking = big.rank("message number 4242", {});
  ASSERT_FALSE(ranking.candidates.empty());
  EXPECT_EQ(ranking.candidates.front().article_id, 1);
}

} // namespace
} // namespace fte::knowledge
