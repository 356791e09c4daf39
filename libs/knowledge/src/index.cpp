#include "fte/knowledge/index.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace fte::knowledge {
namespace {

// The article's own text as its terms: the title counts twice, since it is
// the question the article answers.
std::string article_text(const Article& article) { return article.title + "\n" + article.title + "\n" + article.body; }

// Eight independent sums: one running sum waits on each addition's latency
// (4 cycles) and was the whole cost of a semantic ranking; eight keep the
// adders busy and let the compiler use vector registers without reordering
// a single sum (fte-knowledge-bench: 156 -> ~25 ms at 100,000 resolutions).
float dot(const float* a, const float* b, std::size_t n) noexcept {
  float sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (std::size_t k = 0; k < 8; ++k)
      sums[k] += a[i + k] * b[i + k];
  }
  float sum = 0;
  for (; i < n; ++i)
    sum += a[i] * b[i];
  for (const float s : sums)
    sum += s;
  return sum;
}

// How sharply semantic neighbours' votes fall with distance (index.cpp rank).
constexpr double kVoteTemperature = 0.05;

// Reciprocal-rank fusion's constant (Cormack et al., 2009).
constexpr double kFusionK = 60.0;

} // namespace

KnowledgeIndex::KnowledgeIndex(const Analyzer& analyzer, RankOptions options)
    : analyzer_(&analyzer), options_(options) {}

std::vector<std::int64_t> KnowledgeIndex::example_ids() const {
  std::vector<std::int64_t> ids;
  ids.reserve(examples_.size());
  for (const auto& [id, stored] : examples_)
    ids.push_back(id);
  return ids;
}

Vector KnowledgeIndex::example_vector(std::int64_t id) const {
  const auto row = row_of_.find(id);
  if (row == row_of_.end()) return {};
  const auto start = example_matrix_.begin() + static_cast<std::ptrdiff_t>(row->second * dimensions_);
  return Vector(start, start + static_cast<std::ptrdiff_t>(dimensions_));
}

void KnowledgeIndex::put_article(const Article& article, Vector vector) {
  remove_article(article.id);
  article_terms_.put(article.id, analyzer_->terms(article_text(article)));
  if (vector.empty()) ++missing_vectors_;
  if (!vector.empty()) dimensions_ = vector.size();
  articles_.emplace(article.id, StoredArticle{article, std::move(vector)});
}

void KnowledgeIndex::remove_article(std::int64_t id) {
  const auto it = articles_.find(id);
  if (it == articles_.end()) return;
  if (it->second.vector.empty()) --missing_vectors_;
  article_terms_.remove(id);
  articles_.erase(it);
}

void KnowledgeIndex::put_example(const Example& example, Vector vector) {
  remove_example(example.id);
  example_terms_.put(example.id, analyzer_->terms(example.text));
  if (vector.empty()) {
    ++missing_vectors_;
  } else {
    dimensions_ = vector.size();
    row_of_[example.id] = example_rows_.size();
    example_rows_.push_back(example.id);
    example_matrix_.insert(example_matrix_.end(), vector.begin(), vector.end());
  }
  examples_.emplace(example.id, StoredExample{example});
}

void KnowledgeIndex::remove_example(std::int64_t id) {
  const auto it = examples_.find(id);
  if (it == examples_.end()) return;
  if (const auto row = row_of_.find(id); row == row_of_.end()) {
    --missing_vectors_;
  } else {
    // Move the last row into the hole: O(dimensions), not O(examples).
    const auto last = example_rows_.size() - 1;
    if (row->second != last) {
      std::copy_n(example_matrix_.begin() + static_cast<std::ptrdiff_t>(last * dimensions_), dimensions_,
                  example_matrix_.begin() + static_cast<std::ptrdiff_t>(row->second * dimensions_));
      example_rows_[row->second] = example_rows_[last];
      row_of_[example_rows_[last]] = row->second;
    }
    example_rows_.pop_back();
    example_matrix_.resize(last * dimensions_);
    row_of_.erase(row);
  }
  example_terms_.remove(id);
  examples_.erase(it);
}

const Article* KnowledgeIndex::article(std::int64_t id) const {
  const auto it = articles_.find(id);
  return it == articles_.end() ? nullptr : &it->second.article;
}

const Example* KnowledgeIndex::example(std::int64_t id) const {
  const auto it = examples_.find(id);
  return it == examples_.end() ? nullptr : &it->second.example;
}

Ranking KnowledgeIndex::rank(std::string_view text, const Vector& vector,
                             std::optional<std::int64_t> exclude_example) const {
  Ranking ranking;
  std::map<std::int64_t, Candidate> by_article;
  const auto candidate = [&](std::int64_t id) -> Candidate& {
    auto& c = by_article[id];
    c.article_id = id;
    return c;
  };
  const auto terms = analyzer_->terms(text);
  ranking.query_terms = terms.size();

  // Lexical: the articles, then the past resolutions and their votes.
  const auto lexical_articles = article_terms_.search(terms, options_.depth);
  for (std::size_t r = 0; r < lexical_articles.size(); ++r) {
    auto& c = candidate(lexical_articles[r].id);
    c.lexical = lexical_articles[r].score;
    c.fused += 1.0 / (kFusionK + static_cast<double>(r + 1));
  }
  {
    auto hits = example_terms_.search(terms, options_.depth + 1);
    if (exclude_example) {
      std::erase_if(hits, [&](const Scored& s) { return s.id == *exclude_example; });
    }
    double total = 0;
    std::size_t rank = 0;
    for (const auto& hit : hits) {
      const auto& example = examples_.at(hit.id).example;
      const bool voter = rank < options_.neighbours;
      if (voter) total += hit.score;
      if (!example.article_id) {
        if (voter) ranking.lexical_escalate_votes += hit.score;
      } else {
        auto& c = candidate(*example.article_id);
        if (c.lexical_example == 0) c.fused += 1.0 / (kFusionK + static_cast<double>(rank + 1));
        c.lexical_example = std::max(c.lexical_example, hit.score);
        if (voter) c.lexical_votes += hit.score;
      }
      ++rank;
    }
    if (total > 0) {
      ranking.lexical_escalate_votes /= total;
      for (auto& [id, c] : by_article)
        c.lexical_votes /= total;
    }
  }

  // Semantic: exact cosine with every article and every past resolution.
  if (!vector.empty() && vector.size() == dimensions_ && has_vectors()) {
    ranking.semantic = true;
    std::vector<std::pair<float, std::int64_t>> articles;
    articles.reserve(articles_.size());
    for (const auto& [id, stored] : articles_)
      articles.emplace_back(dot(vector.data(), stored.vector.data(), dimensions_), id);
    std::sort(articles.begin(), articles.end(), std::greater<>());
    for (std::size_t r = 0; r < articles.size(); ++r) {
      auto& c = candidate(articles[r].second);
      c.semantic = articles[r].first;
      if (r < options_.depth) c.fused += 1.0 / (kFusionK + static_cast<double>(r + 1));
    }
    std::vector<std::pair<float, std::int64_t>> nearest;
    nearest.reserve(example_rows_.size());
    for (std::size_t row = 0; row < example_rows_.size(); ++row) {
      if (exclude_example && example_rows_[row] == *exclude_example) continue;
      nearest.emplace_back(dot(vector.data(), example_matrix_.data() + row * dimensions_, dimensions_),
                           example_rows_[row]);
    }
    const auto keep = std::min(nearest.size(), options_.depth);
    std::partial_sort(nearest.begin(), nearest.begin() + static_cast<std::ptrdiff_t>(keep), nearest.end(),
                      std::greater<>());
    double total = 0;
    for (std::size_t r = 0; r < keep; ++r) {
      const auto [similarity, id] = nearest[r];
      const auto& example = examples_.at(id).example;
      const bool voter = r < options_.neighbours;
      // Votes weighted by similarity, sharply: sentence-embedding cosines
      // crowd into a narrow band (0.75-0.95 for E5), so a neighbour 0.05
      // closer should count e times more, not 6% more.
      const double weight = std::exp((static_cast<double>(similarity) - 1.0) / kVoteTemperature);
      if (voter) total += weight;
      if (!example.article_id) {
        if (voter) ranking.semantic_escalate_votes += weight;
        continue;
      }
      auto& c = candidate(*example.article_id);
      if (c.semantic_example == 0) c.fused += 1.0 / (kFusionK + static_cast<double>(r + 1));
      c.semantic_example = std::max(c.semantic_example, static_cast<double>(similarity));
      if (voter) c.semantic_votes += weight;
    }
    if (total > 0) {
      ranking.semantic_escalate_votes /= total;
      for (auto& [id, c] : by_article)
        c.semantic_votes /= total;
    }
  }

  ranking.candidates.reserve(by_article.size());
  for (auto& [id, c] : by_article) {
    if (articles_.contains(id)) ranking.candidates.push_back(c);
  }
  std::sort(ranking.candidates.begin(), ranking.candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.fused != b.fused ? a.fused > b.fused : a.article_id < b.article_id;
  });
  return ranking;
}

} // namespace fte::knowledge
