#include "fte/openai/api.hpp"

#include <algorithm>
#include <thread>

#include "fte/outbound_http/client.hpp"

namespace fte::openai {

RetryBudget::RetryBudget(double ratio, double burst) : ratio_(ratio), burst_(burst), tokens_(burst) {}

void RetryBudget::on_request() noexcept {
  const std::lock_guard lock(mutex_);
  tokens_ = std::min(burst_, tokens_ + ratio_);
}

bool RetryBudget::try_spend() noexcept {
  const std::lock_guard lock(mutex_);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

Api::Api(ApiOptions options, std::shared_ptr<RetryBudget> budget)
    : options_(std::move(options)), budget_(std::move(budget)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/')
    options_.base_url.pop_back();
  if (!budget_) budget_ = std::make_shared<RetryBudget>();
}

Api::~Api() = default;

std::unique_ptr<outbound_http::Client> Api::borrow() {
  {
    const std::lock_guard lock(pool_mutex_);
    if (!idle_.empty()) {
      auto client = std::move(idle_.back());
      idle_.pop_back();
      return client;
    }
  }
  return std::make_unique<outbound_http::Client>();
}

void Api::give_back(std::unique_ptr<outbound_http::Client> client) {
  const std::lock_guard lock(pool_mutex_);
  idle_.push_back(std::move(client));
}

std::string Api::post(std::string_view path, const nlohmann::json& body) {
  outbound_http::Request request;
  request.method = "POST";
  request.url = options_.base_url + std::string(path);
  request.headers = {{"Content-Type", "application/json"}};
  if (!options_.api_key.empty()) request.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
  request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  request.timeout = options_.timeout;

  budget_->on_request();
  const int attempts = std::max(1, options_.attempts);
  std::string last;
  long last_status = 0;
  ProviderError last_error;
  int attempt = 1;
  for (;; ++attempt) {
    auto wait = options_.first_backoff * (1 << std::min(attempt - 1, 5));
    auto client = borrow();
    auto result = client->perform(request);
    ++requests_;
    if (const auto* failure = std::get_if<outbound_http::Failure>(&result)) {
      // The connection is suspect: let it go rather than back to the pool.
      last = failure->message;
      last_status = 0;
      last_error = {};
    } else {
      give_back(std::move(client));
      const auto& response = std::get<outbound_http::Response>(result);
      if (response.status == 200) return response.body;
      last_status = response.status;
      last_error = provider_error_of(response.body);
      last = request.url + " answered " + std::to_string(response.status) + ": " + last_error.message;
      if (is_quota_exhausted(last_error)) throw ApiError(FailureKind::quota, response.status, last_error, last);
      if (response.status < 500 && response.status != 429)
        throw ApiError(FailureKind::refused, response.status, last_error, last);
      if (const auto after = outbound_http::retry_after(response); after.count() > 0)
        wait = std::min<std::chrono::milliseconds>(after, options_.longest_wait);
    }
    if (attempt >= attempts) break;
    if (!budget_->try_spend()) {
      last += " (the retry budget is spent)";
      break;
    }
    ++retries_;
    std::this_thread::sleep_for(wait);
  }
  throw ApiError(FailureKind::unavailable, last_status, last_error,
                 std::string(path) + " failed after " + std::to_string(attempt) + " attempt(s): " + last);
}

} // namespace fte::openai
