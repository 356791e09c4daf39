#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fte/knowledge/index.hpp"

namespace fte::knowledge {

/// What the decision reads of one candidate, in a fixed order (the model's
/// weights follow it). Plain numbers, so the rule is testable without an
/// index or a database.
inline constexpr std::size_t kFeatureCount = 12;
using Features = std::array<double, kFeatureCount>;
[[nodiscard]] Features features_of(const Ranking& ranking, const Candidate& candidate);
/// The features' names, for `fte eval --json` and the ADR.
[[nodiscard]] const std::array<const char*, kFeatureCount>& feature_names();

/// P(this candidate is the right article | its features): a logistic model.
struct ScoreModel {
  std::array<double, kFeatureCount + 1> weights{}; ///< bias first
  [[nodiscard]] double probability(const Features& features) const noexcept;
};

/// The model fitted on CLINC150's calibration split (data/clinc150, ADR
/// 0018), used while the current knowledge has too few labelled messages
/// to fit its own: one for lexical retrieval, one with embeddings.
[[nodiscard]] ScoreModel default_model(bool semantic);

/// A labelled message the model and threshold are fitted on: its ranking
/// and the right article (nullopt: the right outcome is a handoff).
struct LabelledRanking {
  Ranking ranking;
  std::optional<std::int64_t> expected;
};

/// Fits the model by L2-regularised logistic regression (Newton's method)
/// over every candidate of every labelled message: the expected article is
/// the positive, the other candidates (all of them, for a handoff) negatives.
[[nodiscard]] ScoreModel fit_model(const std::vector<LabelledRanking>& data, double l2 = 1.0);

/// The answer a ranking supports: the candidate the model scores highest,
/// with that score. nullopt when nothing was retrieved.
struct Choice {
  std::int64_t article_id = 0;
  double score = 0;
};
[[nodiscard]] std::optional<Choice> choose(const Ranking& ranking, const ScoreModel& model);
/// The `k` candidates the model scores highest, highest first.
[[nodiscard]] std::vector<Choice> top_choices(const Ranking& ranking, const ScoreModel& model, std::size_t k);

/// One point of a precision-coverage curve.
struct CurvePoint {
  double threshold = 0;
  double precision = 0; ///< right answers / answers at or above the threshold
  double coverage = 0;  ///< right answers / answerable messages
  std::size_t answers = 0;
};

/// A message's decision against its label, for the metrics.
struct Judged {
  std::optional<std::int64_t> expected; ///< nullopt: should be handed over
  std::optional<Choice> choice;         ///< the top candidate, whatever its score
};

/// The lowest threshold whose answers (score >= it) on `judged` are right
/// at least `target_precision` of the time; 1.0 (answer nothing) when no
/// threshold reaches it.
///
/// Precision depends on how many messages have no answer in the knowledge,
/// and labelled sets rarely have the share real traffic has (past
/// resolutions are nearly all answerable). With `out_of_scope_share` in
/// [0, 1), the messages are weighted so that those expecting a handover
/// count for that share of the traffic: the precision is the one expected
/// at that mix. Negative, or a set lacking either kind: unweighted.
///
/// `margin_se` asks for that many standard errors of margin: the threshold
/// is picked where the precision less `margin_se` standard errors (over the
/// weighted answers' effective count) still reaches the target, so that a
/// precision measured on a few hundred messages is not promised at the
/// point where it just touches the target by chance.
[[nodiscard]] double pick_threshold(const std::vector<Judged>& judged, double target_precision,
                                    double out_of_scope_share = -1, double margin_se = 0);

/// The precision of the answers at `threshold`, weighted as pick_threshold
/// weighs them.
[[nodiscard]] double weighted_precision(const std::vector<Judged>& judged, double threshold, double out_of_scope_share);

/// Precision and coverage at each distinct score, highest threshold first,
/// thinned to about `points` points.
[[nodiscard]] std::vector<CurvePoint> curve(const std::vector<Judged>& judged, std::size_t points);

/// What the agent is held to: the model and the threshold, and where they
/// came from.
struct Calibration {
  ScoreModel model;
  double threshold = 0.95;
  double target_precision = 0.95;
  double out_of_scope_share = -1; ///< the traffic mix the precision is for (pick_threshold)
  double expected_precision = 0;  ///< on the calibration data (cross-fitted, weighted), or the target
  std::size_t labelled = 0;       ///< labelled messages used (0: the defaults)
  std::size_t from_examples = 0;  ///< of which past resolutions, left out one at a time
  bool fitted = false;            ///< false: default_model and threshold = target
};

/// Fits the model on `data` in `folds` parts (each part scored by the model
/// fitted on the others, so the threshold is picked on scores the model did
/// not see), then refits on all of it. With fewer than `min_labelled`
/// messages or `min_positive` answerable ones, the default model is used and
/// the threshold is the target itself (the model's probability is
/// calibrated on CLINC150).
///
/// `decides` (when not empty, one flag per message) limits the threshold's
/// pick to the messages this model will decide: the semantic stage sees only
/// what the lexical one did not answer, the harder messages, and a threshold
/// picked on all of them would promise too much.
[[nodiscard]] Calibration calibrate(const std::vector<LabelledRanking>& data, bool semantic, double target_precision,
                                    double out_of_scope_share = -1, double margin_se = 0,
                                    const std::vector<bool>& decides = {}, std::size_t folds = 5,
                                    std::size_t min_labelled = 100, std::size_t min_positive = 30);

/// The agent's call on one message from one ranking: the best candidate,
/// answered when its score reaches the calibration's threshold.
/// With `context` > 0, the verdict also carries that many best candidates
/// (what an LLM is shown).
struct Verdict {
  std::optional<Choice> choice;
  double threshold = 1.0;
  bool answer = false;
  std::vector<Choice> context; ///< highest first; empty unless asked for
};
[[nodiscard]] Verdict judge(const Ranking& ranking, const Calibration& calibration, std::size_t context = 0);

/// The evaluation figures of `fte eval`.
struct Metrics {
  std::size_t messages = 0;
  std::size_t answerable = 0;
  std::size_t answers = 0;
  std::size_t right = 0;
  std::size_t out_of_scope = 0; ///< messages whose right outcome is a handoff
  std::size_t out_of_scope_answered = 0;
  double precision = 0; ///< right / answers (1 when nothing was answered)
  double coverage = 0;  ///< right / answerable
  double top1 = 0;      ///< the top candidate is right, whatever its score, over answerable
};
[[nodiscard]] Metrics metrics(const std::vector<Judged>& judged, double threshold);

} // namespace fte::knowledge
