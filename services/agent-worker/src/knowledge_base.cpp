#include "knowledge_base.hpp"

#include "fte/pg/array_literal.hpp"

namespace fte::agent {
namespace {

// The lexemes come from PostgreSQL's own parser and are quoted, so no input
// can inject tsquery operators; 'simple' keeps the already-stemmed lexemes.
// One row per input text, in order; a text with no match gets NULLs.
constexpr const char* kBestArticles = "agent_best_articles";
constexpr const char* kBestArticlesSql = R"sql(
SELECT t.ord, kb.id, kb.slug, kb.title, kb.body, kb.score
FROM unnest($1::text[]) WITH ORDINALITY AS t(body, ord)
LEFT JOIN LATERAL (
  SELECT a.id, a.slug, a.title, a.body, ts_rank_cd(a.search, q.query, 32) AS score
  FROM knowledge_base a,
       (SELECT to_tsquery('simple', coalesce(array_to_string(array(
            SELECT quote_literal(lexeme) FROM unnest(to_tsvector('english', t.body))), ' | '), '')) AS query) q
  WHERE a.search @@ q.query
  ORDER BY score DESC, a.id
  LIMIT 1) kb ON true
ORDER BY t.ord)sql";

} // namespace

void KnowledgeBase::prepare(pqxx::connection& connection) { connection.prepare(kBestArticles, kBestArticlesSql); }

std::vector<std::optional<KnowledgeMatch>> KnowledgeBase::best_articles(pqxx::transaction_base& tx,
                                                                        const std::vector<std::string>& texts) {
  pg::ArrayLiteral input;
  for (const auto& text : texts)
    input.add(text);
  std::vector<std::optional<KnowledgeMatch>> matches(texts.size());
  for (const auto& row : tx.exec_prepared(kBestArticles, input.str())) {
    const auto index = row[0].as<std::size_t>() - 1;
    if (row[1].is_null() || index >= matches.size()) continue;
    matches[index] = KnowledgeMatch{row[1].as<long>(), row[2].as<std::string>(), row[3].as<std::string>(),
                                    row[4].as<std::string>(), row[5].as<double>()};
  }
  return matches;
}

} // namespace fte::agent
