#include "fte/knowledge/store.hpp"

#include <map>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "fte/common/ids.hpp"
#include "fte/common/text.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::knowledge::store {
namespace {

void audit(pqxx::transaction_base& tx, std::string_view actor, std::string_view action, std::string_view slug,
           const nlohmann::json& detail) {
  tx.exec_params("INSERT INTO kb_audit (actor, action, slug, detail) VALUES ($1, $2, NULLIF($3, ''), $4::jsonb)",
                 std::string(actor), std::string(action), std::string(slug), detail.dump());
}

Article article_of(const pqxx::row& row) {
  return Article{row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::string>(),
                 row[3].as<std::string>()};
}

std::optional<std::int64_t> optional_id(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::int64_t>();
}

std::string text_key(const std::string& text, TextRole role) {
  return sha256_hex((role == TextRole::query ? "q" : "p") + text);
}

// slug -> id of every article, for resolving labelled rows.
std::map<std::string, std::int64_t, std::less<>> article_ids(pqxx::transaction_base& tx) {
  std::map<std::string, std::int64_t, std::less<>> ids;
  for (const auto& row : tx.exec("SELECT slug, id FROM knowledge_base"))
    ids.emplace(row[0].as<std::string>(), row[1].as<std::int64_t>());
  return ids;
}

// The rows whose slug is known (or kEscalate), as (text, article id or NULL)
// arrays; the others as errors.
struct Resolved {
  pg::ArrayLiteral texts, articles;
  std::vector<RowError> errors;
};
Resolved resolve(pqxx::transaction_base& tx, const std::vector<LabelledText>& rows) {
  const auto ids = article_ids(tx);
  Resolved out;
  for (const auto& row : rows) {
    if (row.text.empty() || row.text.size() > 10000) {
      out.errors.push_back({row.line, "the text must have 1 to 10000 bytes"});
      continue;
    }
    if (row.slug == kEscalate) {
      out.texts.add(row.text);
      out.articles.add_null();
      continue;
    }
    const auto it = ids.find(row.slug);
    if (it == ids.end()) {
      out.errors.push_back({row.line, "no article has the slug '" + row.slug + "'"});
      continue;
    }
    out.texts.add(row.text);
    out.articles.add(it->second);
  }
  return out;
}

} // namespace

Snapshot load(pqxx::transaction_base& tx) {
  Snapshot snapshot;
  // Read the feed position first: a change committed after it is applied
  // again later, which is harmless (upserts are idempotent).
  snapshot.change_seq = tx.exec1("SELECT coalesce(max(seq), 0) FROM kb_changes")[0].as<std::int64_t>();
  for (const auto& row : tx.exec("SELECT id, slug, title, body FROM knowledge_base ORDER BY id"))
    snapshot.articles.push_back(article_of(row));
  for (const auto& row : tx.exec("SELECT id, text, article_id FROM kb_examples ORDER BY id"))
    snapshot.examples.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), optional_id(row[2])});
  for (const auto& row : tx.exec("SELECT id, text, expected_article_id FROM kb_calibration ORDER BY id"))
    snapshot.calibration.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), optional_id(row[2])});
  return snapshot;
}

std::vector<Change> changes_since(pqxx::transaction_base& tx, std::int64_t seq, std::size_t limit) {
  std::vector<Change> changes;
  for (const auto& row :
       tx.exec_params("SELECT seq, kind, ref, op FROM kb_changes WHERE seq > $1 ORDER BY seq LIMIT $2", seq,
                      static_cast<std::int64_t>(limit))) {
    changes.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::int64_t>(),
                       row[3].as<std::string>() == "delete"});
  }
  return changes;
}

std::optional<Article> article_by_id(pqxx::transaction_base& tx, std::int64_t id) {
  const auto rows = tx.exec_params("SELECT id, slug, title, body FROM knowledge_base WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  return article_of(rows[0]);
}

std::optional<Article> article_by_slug(pqxx::transaction_base& tx, std::string_view slug) {
  const auto rows =
      tx.exec_params("SELECT id, slug, title, body FROM knowledge_base WHERE slug = $1", std::string(slug));
  if (rows.empty()) return std::nullopt;
  return article_of(rows[0]);
}

std::optional<Example> example_by_id(pqxx::transaction_base& tx, std::int64_t id) {
  const auto rows = tx.exec_params("SELECT id, text, article_id FROM kb_examples WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  return Example{rows[0][0].as<std::int64_t>(), rows[0][1].as<std::string>(), optional_id(rows[0][2])};
}

std::optional<CalibrationMessage> calibration_by_id(pqxx::transaction_base& tx, std::int64_t id) {
  const auto rows = tx.exec_params("SELECT id, text, expected_article_id FROM kb_calibration WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  return CalibrationMessage{rows[0][0].as<std::int64_t>(), rows[0][1].as<std::string>(), optional_id(rows[0][2])};
}

bool put_article(pqxx::transaction_base& tx, std::string_view actor, const Article& article) {
  if (!valid_slug(article.slug))
    throw std::invalid_argument("'" + article.slug + "' is not a slug (1-100 of a-z, 0-9 and -, not 'escalate')");
  if (article.title.empty() || article.body.empty()) throw std::invalid_argument("an article needs a title and a body");
  const auto before = article_by_slug(tx, article.slug);
  if (before && before->title == article.title && before->body == article.body) return false;
  tx.exec_params("INSERT INTO knowledge_base (slug, title, body) VALUES ($1, $2, $3) "
                 "ON CONFLICT (slug) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body, updated_at = now()",
                 article.slug, article.title, article.body);
  nlohmann::json detail{{"title", article.title}};
  if (before) detail["before"] = {{"title", before->title}, {"body", before->body}};
  audit(tx, actor, before ? "article.edit" : "article.add", article.slug, detail);
  return !before;
}

bool remove_article(pqxx::transaction_base& tx, std::string_view actor, std::string_view slug) {
  const auto rows =
      tx.exec_params("WITH gone AS (DELETE FROM knowledge_base WHERE slug = $1 RETURNING id, title, body) "
                     "SELECT title, body, (SELECT count(*) FROM kb_examples e WHERE e.article_id = gone.id) FROM gone",
                     std::string(slug));
  if (rows.empty()) return false;
  audit(tx, actor, "article.rm", slug,
        {{"before", {{"title", rows[0][0].as<std::string>()}, {"body", rows[0][1].as<std::string>()}}},
         {"examples_removed", rows[0][2].as<std::int64_t>()}});
  return true;
}

ImportCounts import_articles(pqxx::transaction_base& tx, std::string_view actor, const std::vector<Article>& articles,
                             bool replace) {
  ImportCounts counts;
  std::set<std::string> slugs;
  for (std::size_t i = 0; i < articles.size(); ++i) {
    const auto& article = articles[i];
    if (!slugs.insert(article.slug).second) {
      counts.errors.push_back({i + 1, "the slug '" + article.slug + "' appears twice"});
      continue;
    }
    try {
      const auto before = article_by_slug(tx, article.slug);
      if (put_article(tx, actor, article)) {
        ++counts.added;
      } else if (before && before->title == article.title && before->body == article.body) {
        ++counts.unchanged;
      } else {
        ++counts.updated;
      }
    } catch (const std::invalid_argument& e) {
      counts.errors.push_back({i + 1, e.what()});
    }
  }
  if (replace) {
    pg::ArrayLiteral keep;
    for (const auto& slug : slugs)
      keep.add(slug);
    for (const auto& row :
         tx.exec_params("SELECT slug FROM knowledge_base WHERE slug <> ALL($1::text[])", keep.str())) {
      if (remove_article(tx, actor, row[0].as<std::string>())) ++counts.removed;
    }
  }
  audit(tx, actor, "articles.import", "",
        {{"added", counts.added},
         {"updated", counts.updated},
         {"unchanged", counts.unchanged},
         {"removed", counts.removed},
         {"errors", counts.errors.size()},
         {"replace", replace}});
  return counts;
}

ImportCounts add_examples(pqxx::transaction_base& tx, std::string_view actor, std::string_view source,
                          const std::vector<LabelledText>& rows) {
  auto resolved = resolve(tx, rows);
  ImportCounts counts;
  counts.errors = std::move(resolved.errors);
  if (resolved.texts.size() > 0) {
    const auto added =
        tx.exec_params1("WITH ins AS (INSERT INTO kb_examples (text, article_id, source, created_by) "
                        "SELECT t, a, $3, $4 FROM unnest($1::text[], $2::bigint[]) AS u(t, a) "
                        "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins",
                        resolved.texts.str(), resolved.articles.str(), std::string(source), std::string(actor))[0]
            .as<std::size_t>();
    counts.added = added;
    counts.unchanged = resolved.texts.size() - added;
  }
  audit(
      tx, actor, "examples.add", "",
      {{"source", source}, {"added", counts.added}, {"unchanged", counts.unchanged}, {"errors", counts.errors.size()}});
  return counts;
}

void record_resolution(pqxx::transaction_base& tx, std::string_view actor, std::string_view text,
                       std::optional<std::string_view> slug) {
  // Refused before anything is written (add_examples audits even a batch
  // with bad rows, as an import's record).
  if (slug && !article_by_slug(tx, *slug)) throw std::invalid_argument("no article '" + std::string(*slug) + "'");
  const LabelledText row{std::string(text), slug ? std::string(*slug) : std::string(kEscalate), 0};
  const auto counts = add_examples(tx, actor, "desk", {row});
  if (!counts.errors.empty()) throw std::invalid_argument(counts.errors.front().reason);
}

std::size_t remove_examples(pqxx::transaction_base& tx, std::string_view actor, const std::vector<std::int64_t>& ids) {
  pg::ArrayLiteral list;
  for (const auto id : ids)
    list.add(id);
  const auto removed =
      tx.exec_params1("WITH gone AS (DELETE FROM kb_examples WHERE id = ANY($1::bigint[]) RETURNING 1) "
                      "SELECT count(*) FROM gone",
                      list.str())[0]
          .as<std::size_t>();
  audit(tx, actor, "examples.rm", "", {{"ids", ids}, {"removed", removed}});
  return removed;
}

ImportCounts replace_calibration(pqxx::transaction_base& tx, std::string_view actor,
                                 const std::vector<LabelledText>& rows) {
  auto resolved = resolve(tx, rows);
  ImportCounts counts;
  counts.errors = std::move(resolved.errors);
  counts.removed = tx.exec("DELETE FROM kb_calibration").affected_rows();
  if (resolved.texts.size() > 0) {
    counts.added = tx.exec_params1("WITH ins AS (INSERT INTO kb_calibration (text, expected_article_id, created_by) "
                                   "SELECT t, a, $3 FROM unnest($1::text[], $2::bigint[]) AS u(t, a) "
                                   "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins",
                                   resolved.texts.str(), resolved.articles.str(), std::string(actor))[0]
                       .as<std::size_t>();
  }
  audit(tx, actor, "calibration.replace", "",
        {{"added", counts.added}, {"removed", counts.removed}, {"errors", counts.errors.size()}});
  return counts;
}

std::vector<Vector> stored_vectors(pqxx::transaction_base& tx, const std::string& model, std::size_t dimensions,
                                   const std::vector<std::string>& texts, TextRole role) {
  std::vector<Vector> out(texts.size());
  if (texts.empty()) return out;
  std::map<std::string, std::vector<std::size_t>> where;
  pg::ArrayLiteral keys;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto key = text_key(texts[i], role);
    auto& slots = where[key];
    if (slots.empty()) keys.add(key);
    slots.push_back(i);
  }
  for (const auto& row : tx.exec_params("SELECT encode(text_hash, 'hex'), vector FROM kb_embeddings "
                                        "WHERE model = $1 AND dimensions = $2 AND text_hash = ANY("
                                        "SELECT decode(h, 'hex') FROM unnest($3::text[]) AS h)",
                                        model, static_cast<std::int64_t>(dimensions), keys.str())) {
    const pqxx::binarystring bytes(row[1]);
    const auto vector = unpack_vector(std::string_view(bytes.get(), bytes.size()), dimensions);
    for (const auto slot : where[row[0].as<std::string>()])
      out[slot] = vector;
  }
  return out;
}

void store_vectors(pqxx::transaction_base& tx, const std::string& model, const std::vector<std::string>& texts,
                   TextRole role, const std::vector<Vector>& vectors) {
  // Hex through a text array: one statement for any number of vectors.
  pg::ArrayLiteral keys, blobs;
  std::size_t dimensions = 0;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < texts.size() && i < vectors.size(); ++i) {
    if (vectors[i].empty()) continue;
    auto key = text_key(texts[i], role);
    if (!seen.insert(key).second) continue;
    dimensions = vectors[i].size();
    keys.add(key);
    blobs.add(hex_encode(pack_vector(vectors[i])));
  }
  if (keys.size() == 0) return;
  tx.exec_params("INSERT INTO kb_embeddings (model, text_hash, dimensions, vector) "
                 "SELECT $1, decode(k, 'hex'), $2, decode(v, 'hex') FROM unnest($3::text[], $4::text[]) AS u(k, v) "
                 "ON CONFLICT DO NOTHING",
                 model, static_cast<std::int64_t>(dimensions), keys.str(), blobs.str());
}

void prune_changes(pqxx::transaction_base& tx, int days) {
  tx.exec_params("DELETE FROM kb_changes WHERE at < now() - make_interval(days => $1)", days);
}

} // namespace fte::knowledge::store
