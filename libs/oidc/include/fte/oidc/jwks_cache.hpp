#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include "fte/common/logging.hpp"
#include "fte/oidc/jwks.hpp"
#include "fte/outbound_http/client.hpp"

namespace fte::oidc {

struct JwksCacheOptions {
  /// FTE_GOOGLE_JWKS_URL.
  std::string url = "https://www.googleapis.com/oauth2/v3/certs";
  /// How long keys are kept when the answer has no Cache-Control max-age.
  std::chrono::seconds default_max_age{3600};
  /// Bounds on a max-age from the answer: Google's is a few hours; a day at
  /// most, and never so short that every push waits for a fetch.
  std::chrono::seconds min_max_age{60};
  std::chrono::seconds max_max_age{86'400};
  /// A token naming a kid we do not hold triggers a refresh at most this
  /// often: a flood of forged kids must not become a flood of fetches.
  std::chrono::seconds unknown_kid_refresh_interval{60};
  /// After a failed fetch, the next one waits this long; meanwhile requests
  /// are answered from the keys held (or 503 when there are none).
  std::chrono::seconds failure_retry_interval{10};
  /// How long past their max-age keys still serve while Google cannot be
  /// reached. Beyond it they are dropped and pushes answer 503 until a fetch
  /// succeeds.
  std::chrono::seconds max_stale{86'400};
  std::chrono::milliseconds fetch_timeout{5'000};
  outbound_http::ClientOptions client;
};

enum class KeyStatus {
  found,       ///< `key` is set
  unknown_kid, ///< the current key set has no such kid (401)
  unavailable, ///< no key set could be fetched (503: Pub/Sub retries)
};

struct KeyLookup {
  KeyStatus status = KeyStatus::unavailable;
  std::optional<RsaPublicKey> key;
  std::string detail; ///< why, for logs
};

/// Google's signing keys, fetched from the JWKS URL and kept for the
/// answer's Cache-Control max-age. Thread-safe.
///
/// Fetches run on the cache's own thread with its one outbound_http
/// Client (connection reuse; the client is only ever touched from that
/// thread), never on a caller's I/O thread. Concurrent lookups that need
/// keys share one fetch. A lookup of a key already held completes without
/// waiting for anything but a mutex.
class JwksCache {
public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  /// Nothing is fetched until the first lookup or prefetch(). `clock`
  /// defaults to std::chrono::steady_clock (tests pass their own).
  JwksCache(JwksCacheOptions options, Logger logger, Clock clock = {});
  /// Waits for a fetch in flight (bounded by the fetch timeout) and
  /// answers its waiters before returning.
  ~JwksCache();
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  /// The answer for `kid` if the cache can give it now without fetching;
  /// nullopt when a fetch is needed (then use lookup() or async_lookup()).
  [[nodiscard]] std::optional<KeyLookup> lookup_cached(std::string_view kid);

  /// Calls `done` with the answer for `kid`: at once (on the caller's
  /// thread) when the cache can answer, otherwise on the fetch thread once
  /// the fetch this lookup joined or started has finished.
  void lookup(std::string kid, std::function<void(KeyLookup)> done);

  /// lookup() as an Asio asynchronous operation; the completion always runs
  /// on the handler's associated executor, so a coroutine doing
  /// `co_await cache.async_lookup(kid, use_awaitable)` resumes on its own
  /// strand while the fetch blocks only the cache's thread.
  template <class CompletionToken> auto async_lookup(std::string kid, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(KeyLookup)>(
        [this](auto handler, std::string wanted) {
          auto executor = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                              boost::asio::execution::outstanding_work.tracked);
          // Completion handlers are move-only; lookup() takes a copyable function.
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          lookup(std::move(wanted), [shared, executor](KeyLookup result) {
            boost::asio::post(
                executor, [shared, result = std::move(result)]() mutable { std::move (*shared)(std::move(result)); });
          });
        },
        token, std::move(kid));
  }

  /// Starts a fetch in the background unless keys are fresh or one is
  /// already running (start-up, so the first push does not wait).
  void prefetch();

  /// Fetches started so far (tests and logs).
  [[nodiscard]] std::uint64_t fetches_started() const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

} // namespace fte::oidc
