#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"
#include "fte/knowledge/analyzer.hpp"
#include "fte/knowledge/decision.hpp"
#include "fte/knowledge/embedder.hpp"
#include "fte/knowledge/index.hpp"
#include "fte/knowledge/store.hpp"

namespace fte::knowledge {

struct KnowledgeOptions {
  /// Answers must be right this often (FTE_AGENT_TARGET_PRECISION): the
  /// threshold is picked for it on the current knowledge's evaluation.
  double target_precision = 0.95;
  /// The share of messages the knowledge has no answer for, that precision
  /// is promised at (FTE_AGENT_OUT_OF_SCOPE_SHARE; pick_threshold).
  double out_of_scope_share = 0.5;
  /// Standard errors of margin between the precision measured on the
  /// calibration data and the target (FTE_AGENT_PRECISION_MARGIN;
  /// pick_threshold).
  double precision_margin_se = 0;
  /// How many past resolutions, left out one at a time, join the
  /// calibration set (FTE_KB_CALIBRATION_EXAMPLES): more is a steadier
  /// threshold and a longer recalibration.
  std::size_t calibration_examples = 5000;
  /// How long after a change the model is refitted (changes arriving
  /// meanwhile are folded into one refit).
  std::chrono::milliseconds recalibrate_delay{2000};
  /// The change feed is read at least this often, should a NOTIFY be lost.
  std::chrono::milliseconds poll_interval{5000};
  /// Distinct message texts whose vectors are remembered.
  std::size_t embedding_cache = 20'000;
  RankOptions rank;

  /// FTE_AGENT_TARGET_PRECISION, FTE_AGENT_OUT_OF_SCOPE_SHARE, FTE_KB_CALIBRATION_EXAMPLES,
  /// FTE_KB_RECALIBRATE_DELAY_MS, FTE_KB_POLL_INTERVAL_MS,
  /// FTE_EMBEDDINGS_CACHE. @throws ConfigError
  static KnowledgeOptions from_env(const Environment& env);
};

/// Which ranking decided: BM25 alone, or BM25 with embeddings.
enum class Method { lexical, semantic };
[[nodiscard]] const char* method_name(Method method) noexcept;

/// The knowledge's call on one message.
struct KnowledgeDecision {
  std::optional<Article> article; ///< the best candidate, answered or not
  double score = 0;               ///< its P(right)
  double threshold = 1;
  bool answer = false;
  Method method = Method::lexical;
  /// The best candidates with their P(right), highest first, when decide()
  /// was asked for context (what an LLM answers from).
  std::vector<std::pair<Article, double>> context;
};

/// The current calibration, for `fte eval`, `fte kb status` and the metrics.
struct KnowledgeStatus {
  std::size_t articles = 0;
  std::size_t examples = 0;
  std::size_t calibration_messages = 0;
  bool semantic = false;
  std::string embedding_model;
  Calibration lexical;
  Calibration semantic_calibration;
  std::int64_t change_seq = 0;
};

/// The agent's knowledge in this process: the articles, the past
/// resolutions and the calibration set, indexed in memory (KnowledgeIndex),
/// with the model and threshold fitted on them (ADR 0018).
///
/// A message is ranked lexically first; when that answer is not decisive
/// (below the lexical threshold) and an embedder is configured, it is
/// embedded and ranked again with vectors, and the semantic model decides.
/// Each stage's threshold reaches the target precision on its own, so their
/// union does too (measured by `fte eval`).
///
/// watch() follows the change feed (LISTEN fte_knowledge, kb_changes):
/// each change is applied to the index in place, and the model is refitted
/// shortly after, without a restart. decide() may be called from any
/// thread while that happens.
class KnowledgeBase {
public:
  /// @param embedder null: lexical only
  KnowledgeBase(std::string database_url, std::unique_ptr<Embedder> embedder, KnowledgeOptions options, Logger logger);
  ~KnowledgeBase();
  KnowledgeBase(const KnowledgeBase&) = delete;
  KnowledgeBase& operator=(const KnowledgeBase&) = delete;

  /// Reads everything, embeds what has no stored vector (and stores it),
  /// builds the index and calibrates. @throws on a database error
  void load();
  /// Follows the change feed on a thread of its own until destruction.
  void watch();

  /// The decisions for `texts`, in order. An embedding failure falls back
  /// to the lexical decision (logged, counted).
  [[nodiscard]] std::vector<KnowledgeDecision> decide(const std::vector<std::string>& texts,
                                                      std::size_t context = 0) const;

  [[nodiscard]] KnowledgeStatus status() const;
  /// Embedding calls that failed since start.
  [[nodiscard]] std::uint64_t embedding_failures() const noexcept { return embedding_failures_.load(); }

private:
  struct Calibrations {
    Calibration lexical;
    Calibration semantic;
  };
  std::vector<Vector> vectors_for(const std::vector<std::string>& texts, TextRole role);
  Calibrations recalibrate() const;
  void apply(const std::vector<Change>& changes);
  void follow();

  std::string database_url_;
  std::unique_ptr<Embedder> embedder_;
  KnowledgeOptions options_;
  Logger logger_;
  Analyzer analyzer_;

  mutable std::shared_mutex mutex_; ///< guards index_, calibration_set_, calibrations_, change_seq_
  KnowledgeIndex index_;
  std::vector<CalibrationMessage> calibration_set_;
  std::vector<Vector> calibration_vectors_; ///< by position in calibration_set_ (empty: lexical only)
  Calibrations calibrations_;
  std::int64_t change_seq_ = 0;

  mutable std::atomic<std::uint64_t> embedding_failures_{0};
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread watcher_;
};

} // namespace fte::knowledge
