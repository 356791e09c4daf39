#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "fte/knowledge/embedder.hpp"
#include "fte/knowledge/labels.hpp"

namespace fte::knowledge {

/// An article as stored (knowledge_base).
struct Article {
  std::int64_t id = 0;
  std::string slug;
  std::string title;
  std::string body;
};

/// What an article's vector is computed from (role passage).
[[nodiscard]] inline std::string passage_text(const Article& article) { return article.title + "\n" + article.body; }

/// A past resolution: a customer message and the article that answered it
/// (nullopt: a person answered and no article fits).
struct Example {
  std::int64_t id = 0;
  std::string text;
  std::optional<std::int64_t> article_id;
};

/// A labelled message the threshold is picked on.
struct CalibrationMessage {
  std::int64_t id = 0;
  std::string text;
  std::optional<std::int64_t> expected_article_id; ///< nullopt: the right outcome is a handoff
};

/// Everything the agent decides from, as read in one transaction, and the
/// last change-feed position it includes.
struct Snapshot {
  std::vector<Article> articles;
  std::vector<Example> examples;
  std::vector<CalibrationMessage> calibration;
  std::int64_t change_seq = 0;
};

/// A change since a snapshot (kb_changes): reload or drop the row.
struct Change {
  std::int64_t seq = 0;
  std::string kind; ///< article, example, calibration
  std::int64_t ref = 0;
  bool deleted = false;
};

struct ImportCounts {
  std::size_t added = 0;
  std::size_t updated = 0;
  std::size_t unchanged = 0;
  std::size_t removed = 0;
  std::vector<RowError> errors;
};

/// The knowledge tables (migration 0008): articles, examples, calibration,
/// stored embeddings, the audit and the change feed. Every function works
/// inside the caller's transaction, so a change and its audit row commit
/// together, and the triggers' NOTIFY reaches the agent-workers only then.
/// `actor` names the person or process, as the audit shows it.
namespace store {

[[nodiscard]] Snapshot load(pqxx::transaction_base& tx);
/// Changes after `seq`, oldest first, at most `limit`.
[[nodiscard]] std::vector<Change> changes_since(pqxx::transaction_base& tx, std::int64_t seq, std::size_t limit);
[[nodiscard]] std::optional<Article> article_by_id(pqxx::transaction_base& tx, std::int64_t id);
[[nodiscard]] std::optional<Article> article_by_slug(pqxx::transaction_base& tx, std::string_view slug);
[[nodiscard]] std::optional<Example> example_by_id(pqxx::transaction_base& tx, std::int64_t id);
[[nodiscard]] std::optional<CalibrationMessage> calibration_by_id(pqxx::transaction_base& tx, std::int64_t id);

using knowledge::valid_slug; // labels.hpp

/// Adds or edits the article `slug`; returns true when it was added.
/// @throws std::invalid_argument for a bad slug or an empty title or body
bool put_article(pqxx::transaction_base& tx, std::string_view actor, const Article& article);
/// Removes the article and its examples; false when there was none.
bool remove_article(pqxx::transaction_base& tx, std::string_view actor, std::string_view slug);
/// Upserts by slug; with `replace`, removes the articles the list lacks.
ImportCounts import_articles(pqxx::transaction_base& tx, std::string_view actor, const std::vector<Article>& articles,
                             bool replace);

/// Adds past resolutions (duplicates of a stored one are counted
/// unchanged; unknown slugs are errors, the good rows are kept).
ImportCounts add_examples(pqxx::transaction_base& tx, std::string_view actor, std::string_view source,
                          const std::vector<LabelledText>& rows);
/// The escalation desk's call when a person resolves a conversation: the
/// customer's message, answered with `slug` (or without an article).
/// @throws std::invalid_argument for an unknown slug
void record_resolution(pqxx::transaction_base& tx, std::string_view actor, std::string_view text,
                       std::optional<std::string_view> slug);
/// Removes examples by id; returns how many existed.
std::size_t remove_examples(pqxx::transaction_base& tx, std::string_view actor, const std::vector<std::int64_t>& ids);

/// Replaces the calibration set (unknown slugs are errors).
ImportCounts replace_calibration(pqxx::transaction_base& tx, std::string_view actor,
                                 const std::vector<LabelledText>& rows);

/// The stored vectors of `texts` (by role) for `model`; misses are empty.
[[nodiscard]] std::vector<Vector> stored_vectors(pqxx::transaction_base& tx, const std::string& model,
                                                 std::size_t dimensions, const std::vector<std::string>& texts,
                                                 TextRole role);
/// Stores vectors (existing ones are kept).
void store_vectors(pqxx::transaction_base& tx, const std::string& model, const std::vector<std::string>& texts,
                   TextRole role, const std::vector<Vector>& vectors);

/// Deletes change-feed rows older than `days` (every reader is far past them).
void prune_changes(pqxx::transaction_base& tx, int days);

} // namespace store
} // namespace fte::knowledge
