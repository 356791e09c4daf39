#include "knowledge_base.hpp"

namespace fte::agent {
namespace {

// The lexemes come from PostgreSQL's own parser and are quoted, so no input
// can inject tsquery operators; 'simple' keeps the already-stemmed lexemes.
constexpr const char* kBestArticleSql = R"sql(
SELECT kb.id, kb.slug, kb.title, kb.body, ts_rank_cd(kb.search, q.query, 32) AS score
FROM knowledge_base kb,
     (SELECT to_tsquery('simple', coalesce(array_to_string(array(
          SELECT quote_literal(lexeme) FROM unnest(to_tsvector('english', $1))), ' | '), '')) AS query) q
WHERE kb.search @@ q.query
ORDER BY score DESC, kb.id
LIMIT 1)sql";

} // namespace

std::optional<KnowledgeMatch> best_article(pqxx::transaction_base& tx, std::string_view text) {
  const auto rows = tx.exec_params(kBestArticleSql, std::string(text));
  if (rows.empty()) {
    return std::nullopt;
  }
  const auto& row = rows[0];
  return KnowledgeMatch{row[0].as<long>(), row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>(),
                        row[4].as<double>()};
}

} // namespace fte::agent
