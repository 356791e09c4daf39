#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace fte::knowledge {

/// A document's BM25 score for one query.
struct Scored {
  std::int64_t id = 0;
  double score = 0;
};

/// Okapi BM25 over term lists (Analyzer::terms), in memory, changed one
/// document at a time: put() and remove() adjust document frequencies and
/// the average length at once, so a search after a change ranks as a fresh
/// build would (Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5)), which
/// is never negative). Removed documents leave their postings behind until
/// they outnumber the live ones; then the postings are rebuilt.
///
/// Not thread-safe for writers: KnowledgeIndex guards it (many searches or
/// one change at a time).
class Bm25Index {
public:
  struct Params {
    double k1 = 1.2;
    double b = 0.75;
  };

  Bm25Index() = default;
  explicit Bm25Index(Params params) : params_(params) {}

  /// Adds document `id`, or replaces it when it exists.
  void put(std::int64_t id, const std::vector<std::string>& terms);
  /// Removes document `id`; nothing when it does not exist.
  void remove(std::int64_t id);

  /// Every live document sharing a term with `query` (each distinct term
  /// counted once), best first, ties by id, at most `limit`.
  [[nodiscard]] std::vector<Scored> search(const std::vector<std::string>& query, std::size_t limit) const;

  [[nodiscard]] std::size_t size() const noexcept { return live_; }

private:
  struct Posting {
    std::uint32_t slot;
    std::uint32_t tf;
  };
  struct Document {
    std::int64_t id = 0;
    std::uint32_t length = 0;
    bool live = false;
    std::vector<std::uint32_t> terms; ///< distinct term ids, for df on removal
  };
  void compact();

  Params params_;
  std::unordered_map<std::string, std::uint32_t> term_ids_;
  std::vector<std::vector<Posting>> postings_; ///< by term id; may hold dead slots
  std::vector<std::uint32_t> df_;              ///< live documents per term id
  std::vector<Document> documents_;            ///< by slot
  std::unordered_map<std::int64_t, std::uint32_t> slot_of_;
  std::size_t live_ = 0;
  std::size_t dead_ = 0;
  std::uint64_t total_length_ = 0;
};

} // namespace fte::knowledge
