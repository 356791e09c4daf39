// `fte eval FILE.csv`: the agent's answer-or-escalate decision, made
// exactly as the agent-worker makes it (the same load, calibration and
// agent::decide), measured against labelled messages.
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "fte/agent_rules/decision.hpp"
#include "fte/knowledge/knowledge_base.hpp"
#include "fte/knowledge/labelled_csv.hpp"

namespace fte::cli {
namespace {

namespace kn = fte::knowledge;

struct EvalFlags {
  std::string file;
  std::size_t curve_points = 20;
  std::size_t confusions = 10;
  bool json = false;
};

std::string percent(double x) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << 100 * x << "%";
  return s.str();
}

std::string fixed3(double x) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << x;
  return s.str();
}

int evaluate(const Context& context, const EvalFlags& flags) {
  kn::LabelledCsv set;
  try {
    set = kn::parse_labelled_csv(read_input(flags.file), "expected");
  } catch (const std::invalid_argument& e) {
    throw UsageError(flags.file + ": " + e.what());
  }
  for (const auto& e : set.errors)
    std::cerr << flags.file << ": line " << e.line << ": " << e.reason << " (left out)\n";

  kn::KnowledgeBase knowledge(database_url(context), kn::embedder_from_env(context.env),
                              kn::KnowledgeOptions::from_env(context.env), context.logger);
  knowledge.load();
  std::vector<std::string> texts;
  texts.reserve(set.rows.size());
  for (const auto& row : set.rows)
    texts.push_back(row.text);
  const auto started = std::chrono::steady_clock::now();
  const auto decisions = knowledge.decide(texts);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const agent::EscalationPolicy policy;

  // Slugs as small ids, for the metrics' plain functions.
  std::map<std::string, std::int64_t> id_of;
  const auto id = [&](const std::string& slug) { return id_of.try_emplace(slug, id_of.size() + 1).first->second; };
  std::vector<kn::Judged> judged;
  std::size_t answers = 0, right = 0, answerable = 0, out_of_scope = 0, out_of_scope_answered = 0, by_policy = 0,
              top_right = 0;
  std::map<std::string, std::size_t> by_method;
  std::map<std::pair<std::string, std::string>, std::size_t> confusions;
  nlohmann::json per_message = nlohmann::json::array();
  for (std::size_t i = 0; i < set.rows.size(); ++i) {
    const auto& row = set.rows[i];
    const auto decision = agent::decide(policy.evaluate(row.text, "normal"), "normal", decisions[i]);
    const bool escalate_expected = row.slug == kn::kEscalate;
    const auto& article = decision.knowledge.article;
    escalate_expected ? ++out_of_scope : ++answerable;
    if (!escalate_expected && article && article->slug == row.slug) ++top_right;
    const bool policy_escalated = decision.escalation && decision.escalation->reason != "low_confidence";
    if (policy_escalated) ++by_policy;
    kn::Judged j;
    if (!escalate_expected) j.expected = id(row.slug);
    // A message the policy hands over is never answered, whatever its score.
    if (article && !policy_escalated) j.choice = kn::Choice{id(article->slug), decision.knowledge.score};
    judged.push_back(j);
    const std::string outcome = decision.answered() ? article->slug : std::string(kn::kEscalate);
    if (decision.answered()) {
      ++answers;
      ++by_method[kn::method_name(decision.knowledge.method)];
      if (outcome == row.slug) ++right;
      if (escalate_expected) ++out_of_scope_answered;
    }
    if (outcome != row.slug) ++confusions[{row.slug, outcome}];
    if (flags.json)
      per_message.push_back({{"line", row.line},
                             {"expected", row.slug},
                             {"outcome", outcome},
                             {"best_article", article ? nlohmann::json(article->slug) : nlohmann::json(nullptr)},
                             {"score", decision.knowledge.score},
                             {"threshold", decision.knowledge.threshold},
                             {"method", kn::method_name(decision.knowledge.method)},
                             {"reason", decision.escalation ? decision.escalation->reason : ""}});
  }
  const double precision = answers ? static_cast<double>(right) / static_cast<double>(answers) : 1.0;
  const double coverage = answerable ? static_cast<double>(right) / static_cast<double>(answerable) : 0.0;
  const auto points = kn::curve(judged, flags.curve_points);
  std::vector<std::pair<std::size_t, std::pair<std::string, std::string>>> top;
  for (const auto& [pair, count] : confusions)
    top.emplace_back(count, pair);
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  if (top.size() > flags.confusions) top.resize(flags.confusions);
  const auto status = knowledge.status();

  if (flags.json) {
    nlohmann::json curve = nlohmann::json::array();
    for (const auto& p : points)
      curve.push_back(
          {{"threshold", p.threshold}, {"precision", p.precision}, {"coverage", p.coverage}, {"answers", p.answers}});
    nlohmann::json confused = nlohmann::json::array();
    for (const auto& [count, pair] : top)
      confused.push_back({{"expected", pair.first}, {"outcome", pair.second}, {"count", count}});
    const nlohmann::json out = {
        {"file", flags.file},
        {"messages", set.rows.size()},
        {"refused_rows", set.errors.size()},
        {"answerable", answerable},
        {"out_of_scope", out_of_scope},
        {"answers", answers},
        {"right", right},
        {"precision", precision},
        {"coverage", coverage},
        {"out_of_scope_answered", out_of_scope_answered},
        {"top1", answerable ? static_cast<double>(top_right) / static_cast<double>(answerable) : 0.0},
        {"escalated_by_policy", by_policy},
        {"answers_by_method", by_method},
        {"semantic", status.semantic},
        {"embedding_model", status.embedding_model},
        {"target_precision", status.lexical.target_precision},
        {"thresholds", {{"lexical", status.lexical.threshold}, {"semantic", status.semantic_calibration.threshold}}},
        {"fitted", {{"lexical", status.lexical.fitted}, {"semantic", status.semantic_calibration.fitted}}},
        {"knowledge",
         {{"articles", status.articles},
          {"examples", status.examples},
          {"calibration_messages", status.calibration_messages}}},
        {"decide_seconds", seconds},
        {"curve", curve},
        {"confusions", confused},
        {"decisions", per_message}};
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << set.rows.size() << " messages (" << answerable << " answerable, " << out_of_scope
            << " to hand over) against " << status.articles << " articles, " << status.examples << " past resolutions, "
            << status.calibration_messages << " calibration messages\n"
            << "retrieval: "
            << (status.semantic ? "lexical, then embeddings (" + status.embedding_model + ")" : "lexical")
            << "; target precision " << fixed3(status.lexical.target_precision) << "; thresholds lexical "
            << fixed3(status.lexical.threshold) << (status.lexical.fitted ? "" : " (default model)");
  if (status.semantic)
    std::cout << ", semantic " << fixed3(status.semantic_calibration.threshold)
              << (status.semantic_calibration.fitted ? "" : " (default model)");
  std::cout << "\n\n"
            << "precision            " << fixed3(precision) << "  (right answers / answers: " << right << " / "
            << answers << ")\n"
            << "coverage             " << fixed3(coverage) << "  (right answers / answerable: " << right << " / "
            << answerable << ")\n"
            << "out of scope answered " << out_of_scope_answered << " of " << out_of_scope << " ("
            << percent(out_of_scope ? static_cast<double>(out_of_scope_answered) / static_cast<double>(out_of_scope)
                                    : 0)
            << ")\n"
            << "best candidate right "
            << fixed3(answerable ? static_cast<double>(top_right) / static_cast<double>(answerable) : 0)
            << "  (whatever its score)\n"
            << "handed over by rule  " << by_policy << "  (a person asked for, refund, cancellation, legal)\n";
  for (const auto& [method, count] : by_method)
    std::cout << "answered by " << std::left << std::setw(9) << method << count << "\n";
  std::cout << "decided in " << std::fixed << std::setprecision(2) << seconds << " s (" << std::setprecision(0)
            << (seconds > 0 ? static_cast<double>(set.rows.size()) / seconds : 0.0)
            << " messages/s)\n\nprecision-coverage curve (score of the deciding stage)\n"
            << "  THRESHOLD  PRECISION  COVERAGE  ANSWERS\n";
  for (const auto& p : points)
    std::cout << "  " << std::setw(9) << fixed3(p.threshold) << "  " << std::setw(9) << fixed3(p.precision) << "  "
              << std::setw(8) << fixed3(p.coverage) << "  " << p.answers << "\n";
  std::cout << "\nmost frequent confusions (expected -> outcome)\n";
  for (const auto& [count, pair] : top)
    std::cout << "  " << std::setw(5) << count << "  " << pair.first << " -> " << pair.second << "\n";
  return kExitOk;
}

} // namespace

void add_eval_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto flags = std::make_shared<EvalFlags>();
  auto* cmd = app.add_subcommand("eval", "Measure the agent's answers on labelled messages (CSV: text,expected)");
  cmd->add_option("file", flags->file, "CSV with header text,expected (an article slug or escalate)")->required();
  cmd->add_option("--curve-points", flags->curve_points, "Points of the precision-coverage curve");
  cmd->add_option("--confusions", flags->confusions, "How many of the most frequent confusions to print");
  cmd->add_flag("--json", flags->json);
  cmd->callback([&run, flags] { run = [flags](const Context& c) { return evaluate(c, *flags); }; });
}

} // namespace fte::cli
