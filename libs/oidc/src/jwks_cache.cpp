#include "fte/oidc/jwks_cache.hpp"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/thread_pool.hpp>

namespace fte::oidc {

using SteadyTime = std::chrono::steady_clock::time_point;

struct JwksCache::State {
  State(JwksCacheOptions opts, Logger log, Clock clk)
      : options(std::move(opts)), logger(std::move(log)), clock(std::move(clk)), client(options.client) {
    if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  }

  struct Waiter {
    std::string kid;
    std::function<void(KeyLookup)> done;
  };

  /// What the cache does for a lookup: answer now, or wait for a fetch
  /// (starting one when none is running).
  struct Decision {
    std::optional<KeyLookup> answer;
    bool start_fetch = false;
  };

  const JwksCacheOptions options;
  const Logger logger;
  Clock clock;

  std::mutex mutex;
  // Everything below is guarded by `mutex`.
  std::shared_ptr<const KeySet> keys;
  SteadyTime expires_at{};
  std::optional<SteadyTime> last_attempt; ///< when the last fetch started
  bool last_failed = false;
  std::string last_error;
  bool fetch_in_flight = false;
  std::vector<Waiter> waiters;
  std::uint64_t fetches = 0;

  /// Only the fetch thread uses it (the pool has one thread).
  outbound_http::Client client;
  boost::asio::thread_pool pool{1};

  /// The key set still usable at `now`: fresh, or stale within max_stale.
  [[nodiscard]] const KeySet* usable_keys(SteadyTime now) const {
    if (!keys || now >= expires_at + options.max_stale) return nullptr;
    return keys.get();
  }

  /// The answer from the keys held, without fetching. After a failed fetch
  /// a kid we do not hold may well be one we could not fetch: 503, so the
  /// sender retries, rather than a 401 that blames the token.
  [[nodiscard]] KeyLookup answer_from_keys(std::string_view kid, SteadyTime now) const {
    const KeySet* set = usable_keys(now);
    if (set != nullptr) {
      if (const auto* key = set->find(kid)) return KeyLookup{KeyStatus::found, *key, {}};
      if (!last_failed) return KeyLookup{KeyStatus::unknown_kid, std::nullopt, "no key with kid " + std::string(kid)};
    }
    return KeyLookup{KeyStatus::unavailable, std::nullopt,
                     last_error.empty() ? "Google's signing keys are not available" : last_error};
  }

  [[nodiscard]] Decision decide(std::string_view kid, SteadyTime now) const {
    const bool fresh = keys && now < expires_at;
    if (fresh) {
      if (const auto* key = keys->find(kid)) return {KeyLookup{KeyStatus::found, *key, {}}, false};
    }
    // A fetch is running: its outcome answers this lookup too.
    if (fetch_in_flight) return {std::nullopt, false};
    if (!fresh) {
      const bool failed_recently = last_failed && last_attempt && now - *last_attempt < options.failure_retry_interval;
      if (!failed_recently) return {std::nullopt, true};
      return {answer_from_keys(kid, now), false};
    }
    // Fresh keys without this kid: a rotation not seen yet, or a forged kid.
    if (!last_attempt || now - *last_attempt >= options.unknown_kid_refresh_interval) return {std::nullopt, true};
    return {answer_from_keys(kid, now), false};
  }

  /// Called with `mutex` held.
  void start_fetch(SteadyTime now) {
    fetch_in_flight = true;
    last_attempt = now;
    ++fetches;
    boost::asio::post(pool, [this] { run_fetch(); });
  }

  /// The JWKS, or why not. Runs on the fetch thread, without the lock.
  std::variant<std::pair<KeySet, std::chrono::seconds>, std::string> fetch() {
    outbound_http::Request request;
    request.url = options.url;
    request.headers = {{"Accept", "application/json"}};
    request.timeout = options.fetch_timeout;
    request.connect_timeout = std::min(options.fetch_timeout, std::chrono::milliseconds(5'000));
    auto result = client.perform(request);
    if (const auto* failure = std::get_if<outbound_http::Failure>(&result)) {
      return "JWKS fetch from " + options.url + " failed: " + failure->message;
    }
    const auto& response = std::get<outbound_http::Response>(result);
    if (response.status != 200) {
      return "JWKS fetch from " + options.url + " answered HTTP " + std::to_string(response.status);
    }
    auto parsed = parse_jwks(response.body);
    if (auto* why = std::get_if<std::string>(&parsed)) return "JWKS from " + options.url + ": " + *why;
    std::chrono::seconds max_age = options.default_max_age;
    if (const auto cache_control = response.header("Cache-Control")) {
      if (const auto given = cache_control_max_age(*cache_control)) max_age = *given;
    }
    max_age = std::clamp(max_age, options.min_max_age, options.max_max_age);
    return std::make_pair(std::get<KeySet>(std::move(parsed)), max_age);
  }

  void run_fetch() {
    auto outcome = fetch();
    std::vector<Waiter> answered;
    std::vector<KeyLookup> answers;
    {
      const std::lock_guard lock(mutex);
      const auto now = clock();
      fetch_in_flight = false;
      if (auto* fetched = std::get_if<std::pair<KeySet, std::chrono::seconds>>(&outcome)) {
        std::vector<std::string> kids;
        for (const auto& [kid, key] : fetched->first.keys)
          kids.push_back(kid);
        logger.info("Google signing keys fetched", {{"url", options.url},
                                                    {"kids", kids},
                                                    {"max_age_seconds", fetched->second.count()},
                                                    {"skipped", fetched->first.skipped}});
        keys = std::make_shared<const KeySet>(std::move(fetched->first));
        expires_at = now + fetched->second;
        last_failed = false;
        last_error.clear();
      } else {
        last_failed = true;
        last_error = std::get<std::string>(outcome);
        logger.warn("Google signing keys could not be fetched",
                    {{"error", last_error}, {"holding_keys", usable_keys(now) != nullptr}});
      }
      answered.swap(waiters);
      answers.reserve(answered.size());
      for (const auto& waiter : answered)
        answers.push_back(answer_from_keys(waiter.kid, now));
    }
    // Outside the lock: a callback may look up again.
    for (std::size_t i = 0; i < answered.size(); ++i)
      answered[i].done(std::move(answers[i]));
  }
};

JwksCache::JwksCache(JwksCacheOptions options, Logger logger, Clock clock)
    : state_(std::make_unique<State>(std::move(options), std::move(logger), std::move(clock))) {}

JwksCache::~JwksCache() { state_->pool.join(); }

std::optional<KeyLookup> JwksCache::lookup_cached(std::string_view kid) {
  const std::lock_guard lock(state_->mutex);
  return state_->decide(kid, state_->clock()).answer;
}

void JwksCache::lookup(std::string kid, std::function<void(KeyLookup)> done) {
  std::optional<KeyLookup> answer;
  {
    const std::lock_guard lock(state_->mutex);
    const auto now = state_->clock();
    auto decision = state_->decide(kid, now);
    if (decision.answer) {
      answer = std::move(decision.answer);
    } else {
      state_->waiters.push_back({std::move(kid), std::move(done)});
      if (decision.start_fetch) state_->start_fetch(now);
    }
  }
  if (answer) done(std::move(*answer));
}

void JwksCache::prefetch() {
  const std::lock_guard lock(state_->mutex);
  const auto now = state_->clock();
  const bool fresh = state_->keys && now < state_->expires_at;
  if (!fresh && !state_->fetch_in_flight) state_->start_fetch(now);
}

std::uint64_t JwksCache::fetches_started() const {
  const std::lock_guard lock(state_->mutex);
  return state_->fetches;
}

} // namespace fte::oidc
