// The agent's knowledge against a real PostgreSQL: a change made by anyone
// (the CLI's store calls, the desk's record_resolution, plain SQL) reaches a
// running KnowledgeBase within seconds, without a reload; stored vectors
// are reused; every change is audited.
#include "fte/knowledge/knowledge_base.hpp"

#include <thread>

#include <gtest/gtest.h>

#include "fte/testing/stack.hpp"

namespace fte::knowledge {
namespace {

using namespace std::chrono_literals;
constexpr auto kWithinSeconds = 10s;

// A deterministic stand-in for a model: a bag of hashed words, so that
// texts sharing words are close. Counts what it embeds.
class WordsEmbedder final : public Embedder {
public:
  const std::string& model() const noexcept override { return name_; }
  std::size_t dimensions() const noexcept override { return 64; }
  std::vector<Vector> embed(const std::vector<std::string>& texts, TextRole) override {
    embedded += texts.size();
    std::vector<Vector> out;
    for (const auto& text : texts) {
      Vector v(64, 0.0F);
      std::string word;
      for (const char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c))) {
          word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        } else if (!word.empty()) {
          v[std::hash<std::string>{}(word) % 64] += 1.0F;
          word.clear();
        }
      }
      float n = 0;
      for (float x : v)
        n += x * x;
      for (float& x : v)
        x = n > 0 ? x / std::sqrt(n) : 0;
      out.push_back(std::move(v));
    }
    return out;
  }
  std::atomic<std::size_t> embedded{0};

private:
  std::string name_ = "test/words";
};

class KnowledgeTest : public ::testing::Test {
protected:
  testing::StackAddresses stack = testing::StackAddresses::from_env();
  testing::ScratchDatabase db{stack};
  Logger logger = Logger::to_stderr("knowledge-test", spdlog::level::warn);

  KnowledgeOptions fast() const {
    KnowledgeOptions o;
    o.recalibrate_delay = 100ms;
    o.poll_interval = 500ms;
    return o;
  }
  template <class Change> void change(Change&& body) {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    body(tx);
    tx.commit();
  }
  static std::optional<std::string> answer_slug(const KnowledgeBase& kb, const std::string& text) {
    const auto d = kb.decide({text}).at(0);
    if (!d.article) return std::nullopt;
    return d.article->slug;
  }
};

TEST_F(KnowledgeTest, ChangesReachARunningKnowledgeBaseWithinSeconds) {
  KnowledgeBase kb(db.url(), nullptr, fast(), logger);
  kb.load();
  kb.watch();
  EXPECT_EQ(kb.status().articles, 12U); // the seeded FAQ (0002) and its resolutions (0009)
  const auto seeded = kb.status().examples;
  EXPECT_GT(seeded, 100U);
  EXPECT_EQ(answer_slug(kb, "how do I reset my password"), "reset-password");

  change([](pqxx::work& tx) {
    store::put_article(tx, "test", Article{0, "lost-card", "Lost or stolen card", "Freeze the card in the app."});
  });
  EXPECT_TRUE(testing::eventually([&] { return answer_slug(kb, "stolen") == "lost-card"; }, kWithinSeconds));

  // The desk's call: a person resolved a conversation with an article.
  change([](pqxx::work& tx) { store::record_resolution(tx, "desk:ada", "someone nicked my wallet", "lost-card"); });
  EXPECT_TRUE(testing::eventually([&] { return kb.status().examples == seeded + 1; }, kWithinSeconds));
  EXPECT_EQ(answer_slug(kb, "someone nicked my wallet"), "lost-card");
  change([](pqxx::work& tx) {
    EXPECT_THROW(store::record_resolution(tx, "desk:ada", "x", "no-such-article"), std::invalid_argument);
  });

  // A change made with plain SQL is seen too (the triggers write the feed).
  change([](pqxx::work& tx) { tx.exec0("DELETE FROM knowledge_base WHERE slug = 'lost-card'"); });
  EXPECT_TRUE(testing::eventually([&] { return kb.status().articles == 12U && kb.status().examples == seeded; },
                                  kWithinSeconds));
  EXPECT_NE(answer_slug(kb, "stolen"), "lost-card");

  pqxx::connection c(db.url());
  pqxx::read_transaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM kb_audit WHERE actor = 'desk:ada' AND action = 'examples.add'")[0].as<int>(),
            1);
}

TEST_F(KnowledgeTest, CalibratesOnTheCalibrationSetAndRecalibratesOnChange) {
  change([](pqxx::work& tx) {
    tx.exec0("DELETE FROM kb_examples"); // only the calibration set here
    std::vector<LabelledText> rows;
    for (int i = 0; i < 150; ++i)
      rows.push_back({"how can I reset my password please " + std::to_string(i), "reset-password", 0});
    for (int i = 0; i < 60; ++i)
      rows.push_back({"what is the weather like in city " + std::to_string(i), std::string(kEscalate), 0});
    const auto counts = store::replace_calibration(tx, "test", rows);
    EXPECT_EQ(counts.added, 210U);
  });
  KnowledgeBase kb(db.url(), nullptr, fast(), logger);
  kb.load();
  kb.watch();
  const auto before = kb.status();
  EXPECT_TRUE(before.lexical.fitted);
  EXPECT_EQ(before.examples, 0U);
  EXPECT_EQ(before.lexical.labelled, 210U);
  EXPECT_GE(before.lexical.expected_precision, 0.95);
  const auto reset = kb.decide({"how can I reset my password"}).at(0);
  EXPECT_TRUE(reset.answer) << reset.score << " < " << reset.threshold;
  EXPECT_FALSE(kb.decide({"what is the weather like in Paris"}).at(0).answer);

  change([](pqxx::work& tx) { tx.exec0("DELETE FROM kb_calibration"); });
  EXPECT_TRUE(testing::eventually([&] { return !kb.status().lexical.fitted; }, kWithinSeconds));
}

TEST_F(KnowledgeTest, VectorsAreComputedOnceAndStored) {
  change([](pqxx::work& tx) { tx.exec0("DELETE FROM kb_examples"); });
  auto first = std::make_unique<WordsEmbedder>();
  auto* first_counter = first.get();
  {
    KnowledgeBase kb(db.url(), std::move(first), fast(), logger);
    kb.load();
    EXPECT_TRUE(kb.status().semantic);
    EXPECT_EQ(first_counter->embedded, 12U); // the articles
    (void)kb.decide({"zzz qqq"});            // not decisive lexically: embedded
    EXPECT_EQ(first_counter->embedded, 13U);
  }
  auto second = std::make_unique<WordsEmbedder>();
  auto* second_counter = second.get();
  KnowledgeBase kb(db.url(), std::move(second), fast(), logger);
  kb.load();
  EXPECT_EQ(second_counter->embedded, 0U); // read back from kb_embeddings
  kb.watch();
  change([](pqxx::work& tx) { store::record_resolution(tx, "desk:ada", "my parcel never came", "track-order"); });
  EXPECT_TRUE(testing::eventually([&] { return kb.status().examples == 1U && kb.status().semantic; }, kWithinSeconds));
  EXPECT_EQ(second_counter->embedded, 1U);
}

} // namespace
} // namespace fte::knowledge
