#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fte/knowledge/analyzer.hpp"
#include "fte/knowledge/bm25.hpp"
#include "fte/knowledge/embedder.hpp"
#include "fte/knowledge/store.hpp"

namespace fte::knowledge {

/// What retrieval found for one article and one message: the evidence the
/// decision weighs (decision.hpp). Similarities are cosines in [-1, 1];
/// votes are shares in [0, 1] of the message's nearest past resolutions.
struct Candidate {
  std::int64_t article_id = 0;
  double lexical = 0;          ///< BM25 of the article (title and body)
  double lexical_example = 0;  ///< best BM25 of one of its past resolutions
  double lexical_votes = 0;    ///< its share of the lexical nearest resolutions
  double semantic = 0;         ///< cosine with the article
  double semantic_example = 0; ///< best cosine with one of its past resolutions
  double semantic_votes = 0;   ///< its share of the semantic nearest resolutions
  double fused = 0;            ///< the ranking score (reciprocal ranks of the lists)
};

/// Every article that any list ranked, best `fused` first, and what the
/// nearest resolutions that no article answered weigh.
struct Ranking {
  std::vector<Candidate> candidates;
  double lexical_escalate_votes = 0;  ///< share of lexical neighbours resolved without an article
  double semantic_escalate_votes = 0; ///< the same among semantic neighbours
  bool semantic = false;              ///< a query vector was used
  std::size_t query_terms = 0;        ///< after stop words: 0 means nothing to search on
};

/// How many neighbours vote, and how deep each list is read.
struct RankOptions {
  std::size_t neighbours = 10;
  std::size_t depth = 50;
};

/// The in-memory index of the articles and past resolutions the agent
/// ranks with: BM25 over articles and over examples, and, when vectors are
/// given, exact cosine over both (vectors are unit length; a dot product is
/// the cosine). Changed one row at a time as the change feed arrives.
///
/// Not thread-safe for writers: the KnowledgeBase that owns it takes a
/// shared lock to rank and an exclusive one to change.
class KnowledgeIndex {
public:
  explicit KnowledgeIndex(const Analyzer& analyzer, RankOptions options = {});

  void put_article(const Article& article, Vector vector);
  void remove_article(std::int64_t id);
  void put_example(const Example& example, Vector vector);
  void remove_example(std::int64_t id);

  [[nodiscard]] const Article* article(std::int64_t id) const;
  [[nodiscard]] const Example* example(std::int64_t id) const;
  [[nodiscard]] std::size_t articles() const noexcept { return articles_.size(); }
  /// Every example's id, in no order.
  [[nodiscard]] std::vector<std::int64_t> example_ids() const;
  /// The example's vector (empty when it has none or is unknown).
  [[nodiscard]] Vector example_vector(std::int64_t id) const;
  [[nodiscard]] std::size_t examples() const noexcept { return examples_.size(); }
  /// Whether every article and example has a vector (semantic ranking on).
  [[nodiscard]] bool has_vectors() const noexcept { return missing_vectors_ == 0 && !articles_.empty(); }

  /// Ranks the articles for `text` (`vector`: its query embedding, or
  /// empty for lexical only). `exclude_example`: leave that resolution out,
  /// as if it were not stored (leave-one-out calibration).
  [[nodiscard]] Ranking rank(std::string_view text, const Vector& vector,
                             std::optional<std::int64_t> exclude_example = std::nullopt) const;

private:
  struct StoredArticle {
    Article article;
    Vector vector;
  };
  /// An example's vector lives only in example_matrix_ (row_of_): kept here
  /// too, it doubled the index's memory (3.6 KB a resolution, not 1.8).
  struct StoredExample {
    Example example;
  };

  const Analyzer* analyzer_; // a pointer, so an index can be rebuilt aside and moved in
  RankOptions options_;
  Bm25Index article_terms_;
  Bm25Index example_terms_;
  std::unordered_map<std::int64_t, StoredArticle> articles_;
  std::unordered_map<std::int64_t, StoredExample> examples_;
  /// Examples' vectors packed in rows for a cache-friendly scan; row i is
  /// example_rows_[i].
  std::vector<float> example_matrix_;
  std::vector<std::int64_t> example_rows_;
  std::unordered_map<std::int64_t, std::size_t> row_of_;
  std::size_t dimensions_ = 0;
  std::size_t missing_vectors_ = 0;
};

} // namespace fte::knowledge
