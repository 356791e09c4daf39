#include "fte/knowledge/analyzer.hpp"

#include <gtest/gtest.h>

namespace fte::knowledge {
namespace {

TEST(Analyzer, StemsLowercasesAndDropsStopWords) {
  const Analyzer analyzer;
  EXPECT_EQ(analyzer.terms("How do I reset my Passwords?"), (std::vector<std::string>{"how", "reset", "password"}));
  // One term for a word's forms, the possessive included.
  EXPECT_EQ(analyzer.terms("cards card's Card"), (std::vector<std::string>{"card", "card", "card"}));
  EXPECT_EQ(analyzer.terms("running runs"), (std::vector<std::string>{"run", "run"}));
}

TEST(Analyzer, KeepsDigitsAndUtf8WordsWhole) {
  const Analyzer analyzer;
  EXPECT_EQ(analyzer.terms("order 12345"), (std::vector<std::string>{"order", "12345"}));
  const auto terms = analyzer.terms("café déjà-vu");
  ASSERT_FALSE(terms.empty());
  EXPECT_EQ(terms.front().substr(0, 3), "caf");
}

TEST(Analyzer, NothingToSearchOnIsEmpty) {
  const Analyzer analyzer;
  EXPECT_TRUE(analyzer.terms("").empty());
  EXPECT_TRUE(analyzer.terms("   ?!  ").empty());
  EXPECT_TRUE(analyzer.terms("the and of it").empty());
  EXPECT_TRUE(Analyzer::is_stop_word("the"));
  EXPECT_FALSE(Analyzer::is_stop_word("card"));
}

TEST(Analyzer, SurvivesBrokenUtf8) {
  const Analyzer analyzer;
  const std::string broken = "card \xC3 \xFF\xFE balance \xE2\x82";
  const auto terms = analyzer.terms(broken);
  EXPECT_NE(std::find(terms.begin(), terms.end(), "balanc"), terms.end());
}

} // namespace
} // namespace fte::knowledge
