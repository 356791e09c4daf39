#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <pqxx/pqxx>

namespace fte::agent {

struct KnowledgeMatch {
  long id = 0;
  std::string slug;
  std::string title;
  std::string body;
  double score = 0; ///< ts_rank_cd normalised to [0, 1): rank / (rank + 1)
};

/// The best knowledge-base article for a customer's text, by PostgreSQL
/// full-text search. The text's own lexemes (English stemming, stop words
/// dropped) are OR-ed, so an article matching most of them ranks first; the
/// caller decides whether the score is confident enough to answer.
[[nodiscard]] std::optional<KnowledgeMatch> best_article(pqxx::transaction_base& tx, std::string_view text);

} // namespace fte::agent
