#include "fte/oidc/jwks_cache.hpp"

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "fte/oidc/testing/fake_jwks_endpoint.hpp"
#include "fte/oidc/testing/signing_key.hpp"

namespace fte::oidc {
namespace {

using namespace std::chrono_literals;

using testing::FakeJwksEndpoint;

/// A steady clock the test moves by hand.
struct ManualClock {
  std::shared_ptr<std::atomic<std::int64_t>> seconds = std::make_shared<std::atomic<std::int64_t>>(0);
  std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();

  void advance(std::chrono::seconds by) const { *seconds += by.count(); }
  [[nodiscard]] JwksCache::Clock clock() const {
    return [s = seconds, o = origin] { return o + std::chrono::seconds(s->load()); };
  }
};

class JwksCacheTest : public ::testing::Test {
protected:
  testing::SigningKey key_a{"kid-a"};
  testing::SigningKey key_b{"kid-b"};
  FakeJwksEndpoint endpoint;
  ManualClock time;

  [[nodiscard]] JwksCacheOptions options() const {
    JwksCacheOptions o;
    o.url = endpoint.url();
    o.fetch_timeout = 2'000ms;
    return o;
  }
  [[nodiscard]] std::unique_ptr<JwksCache> make_cache(JwksCacheOptions o) const {
    return std::make_unique<JwksCache>(std::move(o), Logger::to_stderr("test", spdlog::level::off), time.clock());
  }
  [[nodiscard]] std::unique_ptr<JwksCache> make_cache() const { return make_cache(options()); }

  static KeyLookup lookup(JwksCache& cache, const std::string& kid) {
    std::promise<KeyLookup> promise;
    auto future = promise.get_future();
    cache.lookup(kid, [&promise](KeyLookup result) { promise.set_value(std::move(result)); });
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
  }
};

TEST_F(JwksCacheTest, FetchesOnceAndKeepsKeysForMaxAge) {
  endpoint.serve(testing::jwks_document({&key_a}), "public, max-age=300, must-revalidate");
  auto cache = make_cache();
  EXPECT_FALSE(cache->lookup_cached("kid-a")) << "nothing is held before the first fetch";
  const auto first = lookup(*cache, "kid-a");
  ASSERT_EQ(first.status, KeyStatus::found) << first.detail;
  EXPECT_EQ(endpoint.hits(), 1);

  time.advance(299s);
  const auto cached = cache->lookup_cached("kid-a");
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, KeyStatus::found);
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found);
  EXPECT_EQ(endpoint.hits(), 1);

  time.advance(2s); // past max-age
  EXPECT_FALSE(cache->lookup_cached("kid-a"));
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found);
  EXPECT_EQ(endpoint.hits(), 2);
  EXPECT_EQ(cache->fetches_started(), 2U);
}

TEST_F(JwksCacheTest, DefaultMaxAgeIsAnHourAndTheCapADay) {
  endpoint.serve(testing::jwks_document({&key_a}), "");
  auto cache = make_cache();
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found);
  time.advance(3599s);
  EXPECT_TRUE(cache->lookup_cached("kid-a"));
  time.advance(2s);
  EXPECT_FALSE(cache->lookup_cached("kid-a"));

  endpoint.serve(testing::jwks_document({&key_a}), "max-age=31536000");
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found);
  time.advance(86'399s);
  EXPECT_TRUE(cache->lookup_cached("kid-a"));
  time.advance(2s);
  EXPECT_FALSE(cache->lookup_cached("kid-a")) << "a year's max-age is capped at a day";

  // no-cache would mean a fetch per push: held for the one-minute floor.
  endpoint.serve(testing::jwks_document({&key_a}), "no-cache");
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found);
  time.advance(59s);
  EXPECT_TRUE(cache->lookup_cached("kid-a"));
  EXPECT_EQ(endpoint.hits(), 3);
}

TEST_F(JwksCacheTest, UnknownKidRefreshesAtMostOncePerMinute) {
  endpoint.serve(testing::jwks_document({&key_a}));
  auto cache = make_cache();
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found);
  EXPECT_EQ(endpoint.hits(), 1);

  // Right after a fetch, an unknown kid is answered from what we hold.
  EXPECT_EQ(lookup(*cache, "kid-b").status, KeyStatus::unknown_kid);
  EXPECT_EQ(endpoint.hits(), 1);

  // Google rotates; a flood of tokens with unknown kids follows.
  endpoint.serve(testing::jwks_document({&key_a, &key_b}));
  time.advance(61s);
  EXPECT_EQ(lookup(*cache, "forged-1").status, KeyStatus::unknown_kid);
  EXPECT_EQ(endpoint.hits(), 2);
  for (int i = 0; i < 50; ++i) {
    const auto answer = cache->lookup_cached("forged-" + std::to_string(i));
    ASSERT_TRUE(answer) << "no fetch within the minute";
    EXPECT_EQ(answer->status, KeyStatus::unknown_kid);
  }
  EXPECT_EQ(endpoint.hits(), 2);
  // The refresh that the forged kid triggered brought the rotated key.
  EXPECT_EQ(lookup(*cache, "kid-b").status, KeyStatus::found);

  time.advance(30s);
  EXPECT_EQ(lookup(*cache, "forged-x").status, KeyStatus::unknown_kid);
  EXPECT_EQ(endpoint.hits(), 2);
  time.advance(31s);
  EXPECT_EQ(lookup(*cache, "forged-y").status, KeyStatus::unknown_kid);
  EXPECT_EQ(endpoint.hits(), 3);
}

TEST_F(JwksCacheTest, ConcurrentLookupsShareOneFetch) {
  endpoint.serve(testing::jwks_document({&key_a}));
  endpoint.delay(300ms);
  auto cache = make_cache();
  std::vector<std::future<KeyLookup>> answers;
  std::vector<std::unique_ptr<std::promise<KeyLookup>>> promises;
  for (int i = 0; i < 20; ++i) {
    promises.push_back(std::make_unique<std::promise<KeyLookup>>());
    answers.push_back(promises.back()->get_future());
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      cache->lookup(i % 2 == 0 ? "kid-a" : "kid-unknown",
                    [p = promises[static_cast<std::size_t>(i)].get()](KeyLookup r) { p->set_value(std::move(r)); });
    });
  }
  for (auto& t : threads)
    t.join();
  for (std::size_t i = 0; i < answers.size(); ++i) {
    ASSERT_EQ(answers[i].wait_for(10s), std::future_status::ready);
    EXPECT_EQ(answers[i].get().status, i % 2 == 0 ? KeyStatus::found : KeyStatus::unknown_kid);
  }
  EXPECT_EQ(endpoint.hits(), 1);
}

TEST_F(JwksCacheTest, FailureWithoutKeysIsUnavailableAndRetriedAfterTheBackoff) {
  endpoint.serve(R"({"error":"backend"})", "", 500);
  auto cache = make_cache();
  const auto first = lookup(*cache, "kid-a");
  EXPECT_EQ(first.status, KeyStatus::unavailable);
  EXPECT_NE(first.detail.find("HTTP 500"), std::string::npos) << first.detail;
  EXPECT_EQ(endpoint.hits(), 1);

  // Within the backoff nobody asks Google again.
  for (int i = 0; i < 10; ++i) {
    const auto answer = cache->lookup_cached("kid-a");
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, KeyStatus::unavailable);
  }
  EXPECT_EQ(endpoint.hits(), 1);

  endpoint.serve(testing::jwks_document({&key_a}));
  time.advance(11s);
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found);
  EXPECT_EQ(endpoint.hits(), 2);
}

TEST_F(JwksCacheTest, BadDocumentsAreFailures) {
  endpoint.serve(R"({"keys":[{"kty":"EC","kid":"kid-a"}]})");
  auto cache = make_cache();
  const auto answer = lookup(*cache, "kid-a");
  EXPECT_EQ(answer.status, KeyStatus::unavailable);
  EXPECT_NE(answer.detail.find("no usable RS256 key"), std::string::npos) << answer.detail;
}

TEST_F(JwksCacheTest, StaleKeysServeWhileGoogleIsUnreachableButNotForever) {
  endpoint.serve(testing::jwks_document({&key_a}), "max-age=60");
  auto o = options();
  o.max_stale = 3600s;
  auto cache = make_cache(o);
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found);

  endpoint.serve("oops", "", 503);
  time.advance(61s);
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::found) << "the key held still verifies";
  EXPECT_EQ(endpoint.hits(), 2);
  // An unknown kid while the refresh failed may be a key we could not fetch: retry later.
  EXPECT_EQ(lookup(*cache, "kid-b").status, KeyStatus::unavailable);
  EXPECT_EQ(endpoint.hits(), 2);

  time.advance(3600s);
  EXPECT_EQ(lookup(*cache, "kid-a").status, KeyStatus::unavailable) << "past max_stale the keys are dropped";
  EXPECT_EQ(endpoint.hits(), 3);
}

TEST_F(JwksCacheTest, UnreachableEndpointIsUnavailable) {
  auto o = options();
  o.url = "http://127.0.0.1:1/certs";
  auto cache = make_cache(o);
  const auto answer = lookup(*cache, "kid-a");
  EXPECT_EQ(answer.status, KeyStatus::unavailable);
  EXPECT_NE(answer.detail.find("failed"), std::string::npos) << answer.detail;
}

TEST_F(JwksCacheTest, AsyncLookupResumesOnTheCallersExecutor) {
  endpoint.serve(testing::jwks_document({&key_a}));
  endpoint.delay(100ms);
  auto cache = make_cache();
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<std::pair<KeyStatus, bool>> {
        const auto caller = std::this_thread::get_id();
        const auto answer = co_await cache->async_lookup("kid-a", boost::asio::use_awaitable);
        co_return std::make_pair(answer.status, std::this_thread::get_id() == caller);
      },
      boost::asio::use_future);
  io.run(); // returns only once the coroutine is done: the lookup keeps the context busy
  ASSERT_EQ(result.wait_for(0s), std::future_status::ready);
  const auto [status, same_thread] = result.get();
  EXPECT_EQ(status, KeyStatus::found);
  EXPECT_TRUE(same_thread);
}

TEST_F(JwksCacheTest, PrefetchWarmsTheCache) {
  endpoint.serve(testing::jwks_document({&key_a}));
  auto cache = make_cache();
  cache->prefetch();
  for (int i = 0; i < 200 && !cache->lookup_cached("kid-a"); ++i)
    std::this_thread::sleep_for(10ms);
  const auto answer = cache->lookup_cached("kid-a");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, KeyStatus::found);
  cache->prefetch(); // fresh: nothing to do
  EXPECT_EQ(endpoint.hits(), 1);
}

} // namespace
} // namespace fte::oidc
