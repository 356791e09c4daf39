#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/openai/wire.hpp"

namespace fte::outbound_http {
class Client;
}

namespace fte::openai {

/// Why a call gave up, sorted by what the caller can do about it.
enum class FailureKind {
  quota,       ///< 429 insufficient_quota: never retried
  refused,     ///< another 4xx: the request's own fault (bad key, bad body)
  unavailable, ///< 429, 5xx, timeouts, resets, cut-off replies, after the retries
};

class ApiError : public std::runtime_error {
public:
  ApiError(FailureKind kind, long status, ProviderError error, const std::string& what)
      : std::runtime_error(what), kind_(kind), status_(status), error_(std::move(error)) {}
  [[nodiscard]] FailureKind kind() const noexcept { return kind_; }
  [[nodiscard]] long status() const noexcept { return status_; } ///< 0: no answer arrived
  [[nodiscard]] const ProviderError& error() const noexcept { return error_; }

private:
  FailureKind kind_;
  long status_;
  ProviderError error_;
};

/// Retries are paid from a shared budget, so a provider that is down is
/// not sent three times the traffic: each first attempt adds `ratio` of a
/// token (up to `burst`), each retry spends one. gRPC's retry throttling,
/// in miniature.
class RetryBudget {
public:
  explicit RetryBudget(double ratio = 0.2, double burst = 20);
  void on_request() noexcept;
  [[nodiscard]] bool try_spend() noexcept;

private:
  std::mutex mutex_;
  double ratio_, burst_, tokens_;
};

struct ApiOptions {
  std::string base_url; ///< e.g. https://api.openai.com/v1 (a trailing slash is dropped)
  std::string api_key;  ///< empty: no Authorization header
  std::chrono::milliseconds timeout{10'000};
  int attempts = 3;                               ///< per call, the first included
  std::chrono::milliseconds longest_wait{30'000}; ///< cap on a Retry-After
  std::chrono::milliseconds first_backoff{200};   ///< doubled per retry when no Retry-After
};

/// `POST {base_url}{path}` with a JSON body, as OpenAI-compatible servers
/// take it: 429 and 5xx, timeouts and resets retried with backoff
/// (Retry-After honoured, capped), within `attempts` and the retry budget;
/// never `insufficient_quota` or another 4xx. Every call the servers accept
/// is idempotent (embeddings, a chat completion that changed nothing), so a
/// retry cannot duplicate an effect.
///
/// Thread-safe: each call borrows one of a pool of connections, so many
/// calls can be in flight at once (the LLM adapter's batches).
class Api {
public:
  explicit Api(ApiOptions options, std::shared_ptr<RetryBudget> budget = std::make_shared<RetryBudget>());
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  /// The answer's body when the status is 200. @throws ApiError
  [[nodiscard]] std::string post(std::string_view path, const nlohmann::json& body);

  struct Counts {
    std::uint64_t requests = 0; ///< HTTP requests, retries included
    std::uint64_t retries = 0;
  };
  [[nodiscard]] Counts counts() const noexcept { return {requests_.load(), retries_.load()}; }
  [[nodiscard]] const ApiOptions& options() const noexcept { return options_; }

private:
  std::unique_ptr<outbound_http::Client> borrow();
  void give_back(std::unique_ptr<outbound_http::Client> client);

  ApiOptions options_;
  std::shared_ptr<RetryBudget> budget_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<outbound_http::Client>> idle_;
  std::atomic<std::uint64_t> requests_{0}, retries_{0};
};

} // namespace fte::openai
