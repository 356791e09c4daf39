#include "fte/knowledge/bm25.hpp"

#include <gtest/gtest.h>

namespace fte::knowledge {
namespace {

using Terms = std::vector<std::string>;

TEST(Bm25Index, RanksTheDocumentWithTheRarerTermsFirst) {
  Bm25Index index;
  index.put(1, Terms{"card", "lost", "card"});
  index.put(2, Terms{"card", "fee"});
  index.put(3, Terms{"password", "reset"});
  const auto hits = index.search(Terms{"lost", "card"}, 10);
  ASSERT_EQ(hits.size(), 2U);
  EXPECT_EQ(hits[0].id, 1);
  EXPECT_EQ(hits[1].id, 2);
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_TRUE(index.search(Terms{"unknown"}, 10).empty());
}

TEST(Bm25Index, ChangesRankAsAFreshIndexWould) {
  Bm25Index changed;
  changed.put(1, Terms{"a", "b"});
  changed.put(2, Terms{"b", "c"});
  changed.put(3, Terms{"c", "d", "d"});
  changed.put(2, Terms{"x"}); // replaced
  changed.remove(3);
  for (int i = 10; i < 200; ++i) { // enough churn to compact
    changed.put(i, Terms{"z"});
    changed.remove(i);
  }
  Bm25Index fresh;
  fresh.put(1, Terms{"a", "b"});
  fresh.put(2, Terms{"x"});
  EXPECT_EQ(changed.size(), 2U);
  const auto a = changed.search(Terms{"b", "x"}, 10);
  const auto b = fresh.search(Terms{"b", "x"}, 10);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_NEAR(a[i].score, b[i].score, 1e-9);
  }
}

TEST(Bm25Index, LimitKeepsTheBest) {
  Bm25Index index;
  for (int i = 1; i <= 50; ++i) {
    Terms terms(static_cast<std::size_t>(i), "filler");
    terms.push_back("needle");
    index.put(i, terms);
  }
  const auto hits = index.search(Terms{"needle"}, 5);
  ASSERT_EQ(hits.size(), 5U);
  EXPECT_EQ(hits[0].id, 1); // the shortest document
}

} // namespace
} // namespace fte::knowledge
