#include "fte/openai/api.hpp"

#include <atomic>

#include <gtest/gtest.h>

#include "fte/http/local_server.hpp"

namespace fte::openai {
namespace {

http::Response status_with(unsigned version, http::Status status, std::string body) {
  http::Response response{status, version};
  response.set("Content-Type", "application/json");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

ApiOptions fast(const std::string& url, int attempts = 3) {
  ApiOptions options;
  options.base_url = url;
  options.attempts = attempts;
  options.first_backoff = std::chrono::milliseconds(1);
  return options;
}

TEST(Api, RetriesARateLimitThenReturnsTheAnswer) {
  std::atomic<int> requests{0};
  http::LocalServer server([&](http::Request request) -> boost::asio::awaitable<http::Response> {
    if (++requests == 1) {
      auto busy = status_with(request.version(), http::Status::too_many_requests,
                              R"({"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}})");
      busy.set("Retry-After", "0");
      co_return busy;
    }
    EXPECT_EQ(request[boost::beast::http::field::authorization], "Bearer sk-1");
    EXPECT_EQ(request.target(), "/v1/chat/completions");
    co_return status_with(request.version(), http::Status::ok, R"({"ok":true})");
  });
  auto options = fast(server.url("/v1/"));
  options.api_key = "sk-1";
  Api api(options);
  EXPECT_EQ(api.post("/chat/completions", {{"x", 1}}), R"({"ok":true})");
  EXPECT_EQ(requests, 2);
  EXPECT_EQ(api.counts().retries, 1U);
}

TEST(Api, ASpentQuotaAndABadRequestAreNotRetried) {
  std::atomic<int> requests{0};
  std::atomic<bool> quota{true};
  http::LocalServer server([&](http::Request request) -> boost::asio::awaitable<http::Response> {
    ++requests;
    if (quota)
      co_return status_with(request.version(), http::Status::too_many_requests,
                            R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota",)"
                            R"("param":null,"code":"insufficient_quota"}})");
    co_return status_with(request.version(), http::Status::bad_request,
                          R"({"object":"error","message":"bad model","type":"BadRequestError","code":400})");
  });
  Api api(fast(server.url("/v1")));
  try {
    (void)api.post("/chat/completions", {});
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.kind(), FailureKind::quota);
    EXPECT_EQ(e.status(), 429);
  }
  EXPECT_EQ(requests, 1);
  quota = false;
  try {
    (void)api.post("/chat/completions", {});
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.kind(), FailureKind::refused);
    EXPECT_EQ(e.error().message, "bad model"); // vLLM's shape, read
  }
  EXPECT_EQ(requests, 2);
}

TEST(Api, ServerErrorsUseUpTheAttemptsAndTheRetryBudget) {
  std::atomic<int> requests{0};
  http::LocalServer server([&](http::Request request) -> boost::asio::awaitable<http::Response> {
    ++requests;
    co_return status_with(request.version(), http::Status::service_unavailable,
                          R"({"error":{"message":"overloaded","type":"server_error","param":null,"code":null}})");
  });
  // A budget of two retries, refilled by a tenth of a token a call.
  auto budget = std::make_shared<RetryBudget>(0.1, 2);
  Api api(fast(server.url("/v1"), 3), budget);
  for (int i = 0; i < 3; ++i) {
    try {
      (void)api.post("/chat/completions", {});
      FAIL() << "expected ApiError";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.kind(), FailureKind::unavailable);
      EXPECT_EQ(e.status(), 503);
    }
  }
  // First call: 3 attempts (two retries, the budget's). Then about nothing
  // left: one attempt each (0.1 + 0.1 tokens < 1).
  EXPECT_EQ(requests, 5);
  EXPECT_EQ(api.counts().retries, 2U);
}

TEST(Api, NoServerIsUnavailable) {
  Api api(fast("http://127.0.0.1:1/v1", 2));
  try {
    (void)api.post("/embeddings", {});
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.kind(), FailureKind::unavailable);
    EXPECT_EQ(e.status(), 0);
  }
}

} // namespace
} // namespace fte::openai
