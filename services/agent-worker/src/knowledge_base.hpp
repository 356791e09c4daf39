#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

namespace fte::agent {

struct KnowledgeMatch {
  long id = 0;
  std::string slug;
  std::string title;
  std::string body;
  double score = 0; ///< ts_rank_cd normalised to [0, 1): rank / (rank + 1)
};

/// The knowledge base's full-text search, by PostgreSQL. Each text's own
/// lexemes (English stemming, stop words dropped) are OR-ed, so an article
/// matching most of them ranks first; the caller decides whether the score
/// is confident enough to answer.
class KnowledgeBase {
public:
  /// Declares the search statement.
  static void prepare(pqxx::connection& connection);

  /// The best article for each text, in order (nullopt where none matches),
  /// in one statement for the whole batch.
  [[nodiscard]] static std::vector<std::optional<KnowledgeMatch>> best_articles(pqxx::transaction_base& tx,
                                                                                const std::vector<std::string>& texts);
};

} // namespace fte::agent
