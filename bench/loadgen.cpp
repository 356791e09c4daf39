// fte-loadgen: an HTTP/1.1 load generator for the gateway's webform endpoint,
// or (`--channel whatsapp`) for its Twilio WhatsApp webhook with form posts
// signed as Twilio signs them, so the signature check is part of the load.
//
// Open loop by default: requests are scheduled at fixed intervals whatever the
// server does, and each latency is measured from the request's *scheduled*
// send time, so a stalled server is charged for every request it delayed
// (no coordinated omission). A request whose slot comes while every
// connection is busy waits in a backlog, and that wait is part of its latency.
// `--rate 0` is closed loop instead: every connection sends its next request
// as soon as the previous answer arrived (maximum throughput).
//
// Each thread runs its own io_context with its share of the connections and
// of the rate; results are merged after the threads are joined, so nothing
// is shared between threads while they run. Only loopback targets are
// accepted: this tool is for the local stack.
#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include "twilio_signature.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr std::size_t kMaxMessageChars = 10'000; // the gateway's limit on `message`
constexpr std::uint64_t kMaxScheduled = 50'000'000;

constexpr std::string_view kWebformUrl = "http://127.0.0.1:8080/webhooks/webform";
constexpr std::string_view kWhatsappUrl = "http://127.0.0.1:8080/webhooks/twilio/whatsapp";
/// WhatsApp senders are +1 555 and seven digits.
constexpr std::uint64_t kMaxWhatsappCustomers = 10'000'000;

struct Options {
  std::string url; ///< empty: the channel's route on 127.0.0.1:8080
  std::string channel = "webform";
  std::string twilio_token;
  std::string public_base_url;
  double rate = 1000;
  double duration_s = 10;
  double warmup_s = 0;
  int connections = 16;
  int threads = 1;
  std::size_t payload_bytes = 256;
  bool idempotency = false;
  bool json = false;
  std::string correlation_out;
  double timeout_s = 10;
  double drain_s = 10;
  std::uint64_t max_requests = 0;
  std::string text = "padding";
  std::uint64_t customers = 10'000;
};

/// `--text realistic`: a fixed set of customer messages, cycled. Some are
/// answered by the seeded knowledge base (libs/schema/migrations/
/// 0002_seed_knowledge_base.sql: password reset, invoices, payment method,
/// order tracking, shipping, data export, two-factor, team invitations), the
/// others escalate (refund, cancellation, a person asked for, or no matching
/// article), so agent-worker's full-text search and rules do real work.
struct SampleMessage {
  std::string_view subject;
  std::string_view message;
};
constexpr std::array<SampleMessage, 12> kRealisticMessages = {{
    {"Password reset", "Hi, I forgot my password and cannot sign in. How do I reset my password?"},
    {"Invoices", "Where can I download my invoices? I need last month's invoice as a PDF for our accounting."},
    {"Credit card expired",
     "My credit card expired. How do I update my payment method and add a new card to my account?"},
    {"Where is my order", "How do I track my order? I would like to see the tracking number and status."},
    {"Shipping time", "How long does shipping take? I want to know when standard delivery arrives."},
    {"Export", "How do I export my data? I need all our records as CSV."},
    {"Two-factor authentication", "How do I turn on two-factor authentication for my account?"},
    {"Invite colleagues", "How do I invite team members to our account and pick their role?"},
    {"Charged twice", "I was charged twice this month. I want a refund for the duplicate payment."},
    {"Cancel subscription", "Please cancel my subscription at the end of this billing period."},
    {"Still not working", "I have read the help pages and nothing works. I want to talk to a real person."},
    {"App crashes", "The mobile app crashes every time I open the photo gallery on my phone."},
}};

struct Target {
  tcp::endpoint endpoint;
  std::string host_header;
  std::string path;
};

// ---------------------------------------------------------------------------
// Latency histogram: log-linear buckets (128 per power of two, so a value is
// known to within 0.8%), in microseconds, fixed size, mergeable.
// ---------------------------------------------------------------------------
class Histogram {
public:
  Histogram() : counts_(kBuckets, 0) {}

  void record(std::uint64_t value) {
    ++counts_[index(value)];
    ++count_;
    sum_ += value;
    max_ = std::max(max_, value);
  }

  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i)
      counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
  }

  /// The value at quantile q (0..1): the middle of the bucket holding it,
  /// never above the recorded maximum.
  [[nodiscard]] double quantile(double q) const {
    if (count_ == 0) return 0.0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    const std::uint64_t wanted = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= wanted) {
        const auto [low, high] = bounds(i);
        const double mid = (static_cast<double>(low) + static_cast<double>(high)) / 2.0;
        return std::min(mid, static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

private:
  static constexpr unsigned kSubBits = 7;
  static constexpr std::uint64_t kSub = std::uint64_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;

  static std::size_t index(std::uint64_t v) noexcept {
    const auto width = static_cast<unsigned>(std::bit_width(v));
    if (width <= kSubBits + 1) return static_cast<std::size_t>(v);
    const unsigned shift = width - kSubBits - 1;
    const std::uint64_t top = v >> shift; // in [kSub, 2 kSub)
    return static_cast<std::size_t>((width - kSubBits) * kSub + (top - kSub));
  }

  static std::pair<std::uint64_t, std::uint64_t> bounds(std::size_t i) noexcept {
    if (i < 2 * kSub) return {i, i};
    const std::uint64_t group = i / kSub;
    const std::uint64_t sub = i % kSub;
    const std::uint64_t shift = group - 1;
    const std::uint64_t low = (kSub + sub) << shift;
    return {low, low + ((std::uint64_t{1} << shift) - 1)};
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

struct Correlation {
  std::string id;
  double send_unix_ms;
};

// Counts cover requests scheduled in the measured window (after the warm-up)
// unless named all_*.
struct Stats {
  std::uint64_t scheduled = 0;
  std::uint64_t sent = 0;
  std::uint64_t s2xx = 0;
  std::uint64_t s4xx = 0;
  std::uint64_t s5xx = 0;
  std::uint64_t sother = 0;
  std::uint64_t errors = 0;     ///< connect, write or read failures
  std::uint64_t timeouts = 0;   ///< no answer within --timeout
  std::uint64_t unfinished = 0; ///< still queued or in flight when the drain ended
  std::uint64_t all_2xx = 0;    ///< 2xx including the warm-up
  std::uint64_t connects = 0;
  Histogram latency; ///< 2xx only, microseconds from the scheduled send time
  std::vector<Correlation> correlations;
  std::string first_error;

  void merge(Stats&& o) {
    scheduled += o.scheduled;
    sent += o.sent;
    s2xx += o.s2xx;
    s4xx += o.s4xx;
    s5xx += o.s5xx;
    sother += o.sother;
    errors += o.errors;
    timeouts += o.timeouts;
    unfinished += o.unfinished;
    all_2xx += o.all_2xx;
    connects += o.connects;
    latency.merge(o.latency);
    correlations.insert(correlations.end(), std::make_move_iterator(o.correlations.begin()),
                        std::make_move_iterator(o.correlations.end()));
    if (first_error.empty()) first_error = std::move(o.first_error);
  }
};

/// What every worker shares, read-only once the threads start.
struct Plan {
  Options options;
  Target target;
  std::string run_id;
  std::string padding;
  /// `--text realistic`: each message's `"subject":...,"message":...` JSON members.
  std::vector<std::string> realistic_fields;
  /// `--channel whatsapp --text realistic`: each message's text.
  std::vector<std::string> realistic_texts;
  /// `--channel whatsapp`: the URL Twilio would have called, which is signed.
  std::string signed_url;
  Clock::time_point start;         ///< first scheduled send
  Clock::time_point measure_start; ///< start + warm-up
  Clock::time_point end;           ///< no request is scheduled at or after this
  double unix_ms_at_start = 0;     ///< system clock at `start`, for --correlation-out
};

/// splitmix64: which realistic message a request carries, spread evenly and
/// independently of which customer sends it.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

struct Job {
  Clock::time_point scheduled;
  std::uint64_t seq = 0;
};

// ---------------------------------------------------------------------------
// One thread: its io_context, its connections, its share of the schedule.
// ---------------------------------------------------------------------------
class Worker {
public:
  Worker(const Plan& plan, int index, int connections, double rate)
      : plan_(plan), index_(index), rate_(rate), supervisor_(io_) {
    conns_.reserve(static_cast<std::size_t>(connections));
    for (int i = 0; i < connections; ++i)
      conns_.push_back(std::make_unique<Conn>(io_));
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  Worker(Worker&&) = delete;
  Worker& operator=(Worker&&) = delete;
  ~Worker() = default;

  /// Runs the whole schedule on the calling thread. Never throws.
  void run() noexcept {
    try {
      live_ = conns_.size();
      for (auto& c : conns_) {
        asio::co_spawn(io_, connection_loop(*c), [this](std::exception_ptr e) {
          note_exception(e);
          if (--live_ == 0) supervisor_.cancel();
        });
      }
      if (rate_ > 0) {
        asio::co_spawn(io_, schedule(), [this](std::exception_ptr e) { note_exception(e); });
      }
      asio::co_spawn(io_, supervise(), [this](std::exception_ptr e) { note_exception(e); });
      io_.run();
      // Jobs still waiting for a connection never got an answer.
      for (const auto& job : backlog_) {
        if (measured(job)) ++stats_.unfinished;
      }
      backlog_.clear();
    } catch (const std::exception& e) {
      note_error(e.what());
    } catch (...) {
      note_error("unknown exception");
    }
  }

  Stats take_stats() { return std::move(stats_); }

private:
  struct Conn {
    explicit Conn(asio::io_context& io) : stream(io), wake(io) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    asio::steady_timer wake;
    std::optional<Job> job;
    std::uint64_t used = 0; ///< requests answered on the current socket
    bool connected = false;
  };

  [[nodiscard]] bool measured(const Job& job) const { return job.scheduled >= plan_.measure_start; }

  void note_error(const std::string& what) {
    if (stats_.first_error.empty()) stats_.first_error = what;
  }

  void note_exception(const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      note_error(ex.what());
    } catch (...) {
      note_error("unknown exception");
    }
  }

  void close(Conn& c) {
    beast::error_code ignored;
    c.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c.stream.socket().close(ignored);
    c.connected = false;
    c.used = 0;
    c.buffer.clear();
  }

  // Open loop: jobs at start + phase + i / rate until `end`.
  asio::awaitable<void> schedule() {
    const double interval_ns = 1e9 / rate_;
    // Spread the threads' schedules evenly over one interval.
    const double phase_ns = interval_ns * static_cast<double>(index_) / static_cast<double>(plan_.options.threads);
    const std::uint64_t cap = plan_.options.max_requests == 0
                                  ? kMaxScheduled
                                  : plan_.options.max_requests / static_cast<std::uint64_t>(plan_.options.threads);
    asio::steady_timer timer(io_);
    beast::error_code ec;
    for (std::uint64_t i = 0; i < cap && !stopping_; ++i) {
      const auto at = plan_.start + duration_cast<Clock::duration>(nanoseconds(
                                        static_cast<std::int64_t>(phase_ns + static_cast<double>(i) * interval_ns)));
      if (at >= plan_.end) break;
      if (at > Clock::now()) {
        timer.expires_at(at);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopping_) break;
      }
      dispatch(Job{at, next_seq()});
    }
    scheduler_done_ = true;
    wake_idle();
  }

  std::uint64_t next_seq() {
    return local_seq_++ * static_cast<std::uint64_t>(plan_.options.threads) + static_cast<std::uint64_t>(index_);
  }

  void dispatch(Job job) {
    if (measured(job)) ++stats_.scheduled;
    if (!idle_.empty()) {
      Conn* c = idle_.back();
      idle_.pop_back();
      c->job = job;
      c->wake.cancel();
      return;
    }
    backlog_.push_back(job);
  }

  void wake_idle() {
    for (Conn* c : idle_)
      c->wake.cancel();
    idle_.clear();
  }

  // Stops everything at end + drain (or when every connection has finished).
  asio::awaitable<void> supervise() {
    supervisor_.expires_at(plan_.end + duration_cast<Clock::duration>(duration<double>(plan_.options.drain_s)));
    beast::error_code ec;
    co_await supervisor_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    stopping_ = true;
    wake_idle();
    for (auto& c : conns_) {
      beast::error_code ignored;
      c->stream.socket().cancel(ignored);
    }
  }

  asio::awaitable<std::optional<Job>> next_job(Conn& c) {
    if (stopping_) co_return std::nullopt;
    if (rate_ <= 0) { // closed loop
      const auto now = Clock::now();
      if (now >= plan_.end) co_return std::nullopt;
      if (plan_.options.max_requests != 0 &&
          local_seq_ >= plan_.options.max_requests / static_cast<std::uint64_t>(plan_.options.threads)) {
        co_return std::nullopt;
      }
      Job job{now, next_seq()};
      if (measured(job)) ++stats_.scheduled;
      co_return job;
    }
    if (!backlog_.empty()) {
      const Job job = backlog_.front();
      backlog_.pop_front();
      co_return job;
    }
    if (scheduler_done_) co_return std::nullopt;
    c.job.reset();
    idle_.push_back(&c);
    c.wake.expires_at(Clock::time_point::max());
    beast::error_code ec;
    co_await c.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::optional<Job> job = std::exchange(c.job, std::nullopt);
    co_return job;
  }

  asio::awaitable<bool> connect(Conn& c) {
    beast::error_code ec;
    c.stream.expires_after(duration_cast<Clock::duration>(duration<double>(plan_.options.timeout_s)));
    co_await c.stream.async_connect(plan_.target.endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      note_error("connect: " + ec.message());
      close(c);
      co_return false;
    }
    c.stream.socket().set_option(tcp::no_delay(true), ec);
    c.connected = true;
    c.used = 0;
    ++stats_.connects;
    co_return true;
  }

  bhttp::request<bhttp::string_body> make_request(const Job& job) const {
    return plan_.options.channel == "whatsapp" ? make_whatsapp_request(job) : make_webform_request(job);
  }

  // What Twilio posts for an inbound WhatsApp text message, one sender per
  // customer, a MessageSid unique to the run and request, signed with the
  // gateway's own code for the URL the gateway is configured to see.
  bhttp::request<bhttp::string_body> make_whatsapp_request(const Job& job) const {
    const std::string customer = std::to_string(job.seq % plan_.options.customers);
    const std::string number = "+1555" + std::string(7 - std::min<std::size_t>(7, customer.size()), '0') + customer;
    std::array<char, 24> seq_hex{};
    std::snprintf(seq_hex.data(), seq_hex.size(), "%020llx", static_cast<unsigned long long>(job.seq));
    const std::string sid = "SM" + plan_.run_id.substr(3) + seq_hex.data(); // 34 characters, like Twilio's
    const std::string text = plan_.realistic_texts.empty()
                                 ? "load test " + std::to_string(job.seq) + " " + plan_.padding
                                 : plan_.realistic_texts[mix(job.seq) % plan_.realistic_texts.size()];
    const fte::gateway::FormFields fields = {
        {"SmsMessageSid", sid},
        {"NumMedia", "0"},
        {"ProfileName", "fte loadgen " + customer},
        {"MessageType", "text"},
        {"SmsSid", sid},
        {"WaId", number.substr(1)},
        {"SmsStatus", "received"},
        {"Body", text},
        {"To", "whatsapp:+14155238886"},
        {"NumSegments", "1"},
        {"ReferralNumMedia", "0"},
        {"MessageSid", sid},
        {"AccountSid", "AC0000000000000000000000000000f7e0"},
        {"From", "whatsapp:" + number},
        {"ApiVersion", "2010-04-01"},
    };
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, plan_.target.path, 11};
    req.set(bhttp::field::host, plan_.target.host_header);
    req.set(bhttp::field::user_agent, "TwilioProxy/1.1 (fte-loadgen)");
    req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
    req.set("X-Twilio-Signature", fte::gateway::twilio_signature(plan_.options.twilio_token, plan_.signed_url, fields));
    req.keep_alive(true);
    req.body() = form_encode(fields);
    req.prepare_payload();
    return req;
  }

  static std::string form_encode(const fte::gateway::FormFields& fields) {
    static constexpr std::string_view kHex = "0123456789ABCDEF";
    std::string out;
    for (const auto& [name, value] : fields) {
      if (!out.empty()) out += '&';
      for (const std::string* part : {&name, &value}) {
        for (const char c : *part) {
          const auto u = static_cast<unsigned char>(c);
          if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
          } else if (c == ' ') {
            out += '+';
          } else {
            out += '%';
            out += kHex[u >> 4U];
            out += kHex[u & 0x0FU];
          }
        }
        if (part == &name) out += '=';
      }
    }
    return out;
  }

  bhttp::request<bhttp::string_body> make_webform_request(const Job& job) const {
    const std::string seq = std::to_string(job.seq);
    std::string body;
    body.reserve(plan_.padding.size() + 256);
    body += R"({"name":"fte loadgen","email":"loadgen-)";
    body += std::to_string(job.seq % plan_.options.customers);
    if (plan_.realistic_fields.empty()) {
      body += R"(@example.com","subject":"load test )";
      body += seq;
      body += R"(","message":")";
      body += plan_.padding;
      body += R"("})";
    } else {
      body += R"(@example.com",)";
      body += plan_.realistic_fields[mix(job.seq) % plan_.realistic_fields.size()];
      body += '}';
    }
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, plan_.target.path, 11};
    req.set(bhttp::field::host, plan_.target.host_header);
    req.set(bhttp::field::user_agent, "fte-loadgen/1");
    req.set(bhttp::field::content_type, "application/json");
    if (plan_.options.idempotency) req.set("Idempotency-Key", plan_.run_id + "-" + seq);
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
  }

  void record_response(const Job& job, const bhttp::response<bhttp::string_body>& res) {
    const auto done = Clock::now();
    const bool in_window = measured(job);
    const unsigned status = res.result_int();
    if (status >= 200 && status < 300) ++stats_.all_2xx;
    if (!in_window) return;
    if (status >= 200 && status < 300) {
      ++stats_.s2xx;
      const auto us = duration_cast<microseconds>(done - job.scheduled).count();
      stats_.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0)));
      if (!plan_.options.correlation_out.empty()) {
        const auto body = nlohmann::json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
        if (body.is_object() && body.contains("correlation_id") && body["correlation_id"].is_string()) {
          const double offset_ms = duration<double, std::milli>(job.scheduled - plan_.start).count();
          stats_.correlations.push_back(
              {body["correlation_id"].get<std::string>(), plan_.unix_ms_at_start + offset_ms});
        }
      }
    } else if (status >= 400 && status < 500) {
      ++stats_.s4xx;
    } else if (status >= 500 && status < 600) {
      ++stats_.s5xx;
    } else {
      ++stats_.sother;
    }
  }

  void record_failure(const Job& job, const beast::error_code& ec, const char* what) {
    if (!measured(job)) return;
    if (stopping_) {
      ++stats_.unfinished;
    } else if (ec == beast::error::timeout) {
      ++stats_.timeouts;
    } else {
      ++stats_.errors;
      note_error(std::string(what) + ": " + ec.message());
    }
  }

  // One request on connection `c`; a kept-alive socket the server has closed
  // meanwhile gets one retry on a fresh connection.
  asio::awaitable<void> execute(Conn& c, const Job& job) {
    auto req = make_request(job);
    bool counted_sent = false;
    const auto timeout = duration_cast<Clock::duration>(duration<double>(plan_.options.timeout_s));
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!c.connected && !co_await connect(c)) {
        if (measured(job)) {
          if (stopping_) {
            ++stats_.unfinished;
          } else {
            ++stats_.errors;
          }
        }
        // Do not spin on a refused port.
        asio::steady_timer pause(io_, milliseconds(10));
        beast::error_code ignored;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        co_return;
      }
      const bool reused = c.used > 0;
      beast::error_code ec;
      c.stream.expires_after(timeout);
      co_await bhttp::async_write(c.stream, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        close(c);
        if (reused && attempt == 0 && !stopping_) continue;
        record_failure(job, ec, "write");
        co_return;
      }
      if (!counted_sent && measured(job)) {
        ++stats_.sent;
        counted_sent = true;
      }
      bhttp::response<bhttp::string_body> res;
      co_await bhttp::async_read(c.stream, c.buffer, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        close(c);
        const bool closed_by_peer =
            ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset || ec == asio::error::eof;
        if (reused && attempt == 0 && closed_by_peer && !stopping_) continue;
        record_failure(job, ec, "read");
        co_return;
      }
      c.stream.expires_never();
      record_response(job, res);
      ++c.used;
      if (!res.keep_alive()) close(c);
      co_return;
    }
  }

  asio::awaitable<void> connection_loop(Conn& c) {
    // Connect before the first slot so set-up is not charged to a request.
    if (Clock::now() < plan_.start) {
      (void)co_await connect(c);
      asio::steady_timer until_start(io_, plan_.start);
      beast::error_code ignored;
      co_await until_start.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    for (;;) {
      const auto job = co_await next_job(c);
      if (!job) break;
      co_await execute(c, *job);
    }
    close(c);
  }

  const Plan& plan_;
  const int index_;
  const double rate_;
  asio::io_context io_{1};
  asio::steady_timer supervisor_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> idle_;
  std::deque<Job> backlog_;
  std::size_t live_ = 0;
  std::uint64_t local_seq_ = 0;
  bool scheduler_done_ = false;
  bool stopping_ = false;
  Stats stats_;
};

// ---------------------------------------------------------------------------
// Set-up and output
// ---------------------------------------------------------------------------
std::optional<Target> resolve_target(const std::string& url, std::string& error) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    error = "--url is not a URL: " + url;
    return std::nullopt;
  }
  const auto& u = *parsed;
  if (u.scheme() != "http") {
    error = "--url must be http:// (got " + std::string(u.scheme()) + ")";
    return std::nullopt;
  }
  const std::string host = u.host_address();
  const std::string port = u.has_port() ? std::string(u.port()) : std::string("80");
  std::string path = std::string(u.encoded_target());
  if (path.empty()) path = "/";
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  const auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) {
    error = "cannot resolve " + host + ":" + port + ": " + ec.message();
    return std::nullopt;
  }
  for (const auto& entry : results) {
    if (!entry.endpoint().address().is_loopback()) {
      error = "refusing non-loopback target " + entry.endpoint().address().to_string() +
              " (fte-loadgen only loads the local stack)";
      return std::nullopt;
    }
  }
  Target target;
  target.endpoint = results.begin()->endpoint();
  target.host_header = std::string(u.encoded_host_and_port());
  target.path = std::move(path);
  return target;
}

std::string make_run_id() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
  constexpr std::array<char, 16> hex = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string id = "lg-";
  auto v = gen();
  for (int i = 0; i < 12; ++i) {
    id += hex[v & 0xF];
    v >>= 4;
  }
  return id;
}

std::string make_padding(std::size_t bytes) {
  static constexpr std::string_view words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do ";
  std::string out;
  out.reserve(bytes);
  while (out.size() < bytes)
    out += words.substr(0, std::min(words.size(), bytes - out.size()));
  if (!out.empty() && out.back() == ' ') out.back() = '.'; // the gateway trims spaces
  if (!out.empty() && out.front() == ' ') out.front() = 'x';
  return out;
}

double ms(double us) { return us / 1000.0; }
/// Milliseconds rounded to the microsecond, for JSON.
double ms3(double us) { return std::round(us) / 1000.0; }

void print_text(const Plan& plan, const Stats& s, double elapsed_s) {
  const auto& o = plan.options;
  const double window = o.duration_s;
  const auto responses = s.s2xx + s.s4xx + s.s5xx + s.sother;
  std::printf("fte-loadgen: POST %s (%s)\n", o.url.c_str(), o.channel.c_str());
  if (o.rate > 0) {
    std::printf("  mode        open loop at %.1f req/s", o.rate);
  } else {
    std::printf("  mode        closed loop (max throughput)");
  }
  std::printf(", %g s measured after %g s warm-up, %d connections, %d threads, ", o.duration_s, o.warmup_s,
              o.connections, o.threads);
  if (o.text == "realistic") {
    std::printf("realistic messages");
  } else {
    std::printf("message %zu B", o.payload_bytes);
  }
  std::printf(", %llu customers%s\n", static_cast<unsigned long long>(o.customers),
              o.idempotency ? ", Idempotency-Key" : "");
  std::printf("  requests    scheduled %llu  sent %llu  2xx %llu  4xx %llu  5xx %llu  other %llu  errors %llu  "
              "timeouts %llu  unfinished %llu\n",
              static_cast<unsigned long long>(s.scheduled), static_cast<unsigned long long>(s.sent),
              static_cast<unsigned long long>(s.s2xx), static_cast<unsigned long long>(s.s4xx),
              static_cast<unsigned long long>(s.s5xx), static_cast<unsigned long long>(s.sother),
              static_cast<unsigned long long>(s.errors), static_cast<unsigned long long>(s.timeouts),
              static_cast<unsigned long long>(s.unfinished));
  std::printf("  rate        achieved %.1f resp/s, accepted %.1f 2xx/s (wall %.1f s, %llu connects)\n",
              static_cast<double>(responses) / window, static_cast<double>(s.s2xx) / window, elapsed_s,
              static_cast<unsigned long long>(s.connects));
  const auto& h = s.latency;
  std::printf("  latency     2xx, from the scheduled send: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  "
              "mean %.3f ms (n=%llu)\n",
              ms(h.quantile(0.50)), ms(h.quantile(0.90)), ms(h.quantile(0.99)), ms(h.quantile(0.999)),
              ms(static_cast<double>(h.max())), ms(h.mean()), static_cast<unsigned long long>(h.count()));
  if (!s.first_error.empty()) std::printf("  first error %s\n", s.first_error.c_str());
}

void print_json(const Plan& plan, const Stats& s, double elapsed_s) {
  const auto& o = plan.options;
  const auto responses = s.s2xx + s.s4xx + s.s5xx + s.sother;
  const auto& h = s.latency;
  nlohmann::json j = {
      {"url", o.url},
      {"channel", o.channel},
      {"mode", o.rate > 0 ? "open" : "closed"},
      {"rate_target", o.rate},
      {"duration_s", o.duration_s},
      {"warmup_s", o.warmup_s},
      {"connections", o.connections},
      {"threads", o.threads},
      {"payload_bytes", o.payload_bytes},
      {"text", o.text},
      {"customers", o.customers},
      {"idempotency", o.idempotency},
      {"scheduled", s.scheduled},
      {"sent", s.sent},
      {"responses", responses},
      {"status_2xx", s.s2xx},
      {"status_4xx", s.s4xx},
      {"status_5xx", s.s5xx},
      {"status_other", s.sother},
      {"errors", s.errors},
      {"timeouts", s.timeouts},
      {"unfinished", s.unfinished},
      {"all_2xx", s.all_2xx},
      {"connects", s.connects},
      {"achieved_rate", static_cast<double>(responses) / o.duration_s},
      {"accepted_rate", static_cast<double>(s.s2xx) / o.duration_s},
      {"elapsed_s", elapsed_s},
      {"latency_ms",
       {{"count", h.count()},
        {"p50", ms3(h.quantile(0.50))},
        {"p90", ms3(h.quantile(0.90))},
        {"p99", ms3(h.quantile(0.99))},
        {"p999", ms3(h.quantile(0.999))},
        {"max", ms3(static_cast<double>(h.max()))},
        {"mean", ms3(h.mean())}}},
  };
  if (!s.first_error.empty()) j["first_error"] = s.first_error;
  std::cout << j.dump() << '\n';
}

bool write_correlations(const std::string& path, const std::vector<Correlation>& rows) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return false;
  std::array<char, 64> ms_text{};
  for (const auto& row : rows) {
    std::snprintf(ms_text.data(), ms_text.size(), "%.3f", row.send_unix_ms);
    out << row.id << '\t' << ms_text.data() << '\n';
  }
  return static_cast<bool>(out.flush());
}

int run(Options options) {
  const bool whatsapp = options.channel == "whatsapp";
  if (options.url.empty()) options.url = std::string(whatsapp ? kWhatsappUrl : kWebformUrl);
  if (whatsapp) {
    const char* conflict = options.twilio_token.empty()       ? "--channel whatsapp needs --twilio-token"
                           : !options.correlation_out.empty() ? "--correlation-out is webform only (TwiML has no ids)"
                           : options.idempotency              ? "--idempotency is webform only"
                           : options.customers > kMaxWhatsappCustomers ? "--customers is at most 10000000 for whatsapp"
                                                                       : nullptr;
    if (conflict != nullptr) {
      std::cerr << "fte-loadgen: " << conflict << '\n';
      return 2;
    }
  }
  std::string error;
  auto target = resolve_target(options.url, error);
  if (!target) {
    std::cerr << "fte-loadgen: " << error << '\n';
    return 2;
  }
  options.threads = std::min(options.threads, options.connections);

  Plan plan;
  plan.options = options;
  plan.target = std::move(*target);
  plan.run_id = make_run_id();
  plan.padding = make_padding(options.payload_bytes);
  if (whatsapp) {
    // What the gateway rebuilds: FTE_PUBLIC_BASE_URL + target, or the Host.
    std::string base = options.public_base_url.empty() ? "http://" + plan.target.host_header : options.public_base_url;
    while (!base.empty() && base.back() == '/')
      base.pop_back();
    plan.signed_url = base + plan.target.path;
  }
  if (options.text == "realistic") {
    for (const auto& m : kRealisticMessages) {
      plan.realistic_texts.emplace_back(m.message);
      plan.realistic_fields.push_back(R"("subject":)" + nlohmann::json(m.subject).dump() + R"(,"message":)" +
                                      nlohmann::json(m.message).dump());
    }
  }
  // A short lead so every connection is open before the first slot.
  const auto lead = milliseconds(200 + 5 * options.connections);
  const auto now_steady = Clock::now();
  const auto now_system = std::chrono::system_clock::now();
  plan.start = now_steady + lead;
  plan.measure_start = plan.start + duration_cast<Clock::duration>(duration<double>(options.warmup_s));
  plan.end = plan.measure_start + duration_cast<Clock::duration>(duration<double>(options.duration_s));
  plan.unix_ms_at_start =
      duration<double, std::milli>(
          (now_system + duration_cast<std::chrono::system_clock::duration>(lead)).time_since_epoch())
          .count();

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < options.threads; ++t) {
    const int conns = options.connections / options.threads + (t < options.connections % options.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(plan, t, conns, options.rate / static_cast<double>(options.threads)));
  }
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& w : workers)
    threads.emplace_back([&w] { w->run(); });
  for (auto& t : threads)
    t.join();
  const double elapsed_s = duration<double>(Clock::now() - plan.start).count();

  Stats total;
  for (auto& w : workers)
    total.merge(w->take_stats());

  if (!options.correlation_out.empty() && !write_correlations(options.correlation_out, total.correlations)) {
    std::cerr << "fte-loadgen: cannot write " << options.correlation_out << '\n';
    return 2;
  }
  if (options.json) {
    print_json(plan, total, elapsed_s);
  } else {
    print_text(plan, total, elapsed_s);
  }
  return total.s2xx > 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"fte-loadgen: open-loop HTTP/1.1 load for POST /webhooks/webform or, signed as Twilio does, "
               "POST /webhooks/twilio/whatsapp (loopback targets only)"};
  app.add_option("--url", options.url,
                 "target URL (http, loopback); default http://127.0.0.1:8080/webhooks/webform, or "
                 ".../webhooks/twilio/whatsapp with --channel whatsapp");
  app.add_option("--channel", options.channel,
                 "webform: JSON form submissions; whatsapp: Twilio WhatsApp message webhooks, form-encoded and "
                 "signed with --twilio-token (one sender per customer, +1555...)")
      ->check(CLI::IsMember({"webform", "whatsapp"}))
      ->capture_default_str();
  app.add_option("--twilio-token", options.twilio_token,
                 "auth token to sign with (the gateway's FTE_TWILIO_AUTH_TOKEN); --channel whatsapp");
  app.add_option("--public-base-url", options.public_base_url,
                 "the gateway's FTE_PUBLIC_BASE_URL, which the signature covers; default http://<host of --url>");
  app.add_option("--rate", options.rate, "requests per second, open loop; 0 = closed loop (max throughput)")
      ->check(CLI::Range(0.0, 1'000'000.0))
      ->capture_default_str();
  app.add_option("--duration", options.duration_s, "measured seconds")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--warmup", options.warmup_s, "seconds run before measuring")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--connections", options.connections, "keep-alive connections, one request at a time each")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--threads", options.threads, "I/O threads")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--payload-bytes", options.payload_bytes, "size of the message field")
      ->check(CLI::Range(std::size_t{1}, kMaxMessageChars))
      ->capture_default_str();
  app.add_option("--text", options.text,
                 "padding: subject 'load test N' and --payload-bytes of filler; realistic: a fixed set of customer "
                 "messages, some answered by the seeded knowledge base and some escalated (--payload-bytes unused)")
      ->check(CLI::IsMember({"padding", "realistic"}))
      ->capture_default_str();
  app.add_option("--customers", options.customers,
                 "distinct senders, cycled (loadgen-<n>@example.com, or +1555<n, 7 digits> for whatsapp)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_flag("--idempotency", options.idempotency, "a unique Idempotency-Key per request");
  app.add_flag("--json", options.json, "print one JSON object");
  app.add_option("--correlation-out", options.correlation_out,
                 "write 'correlation_id<TAB>send_unix_ms' for every measured 2xx");
  app.add_option("--timeout", options.timeout_s, "seconds to wait for one answer")
      ->check(CLI::Range(0.01, 600.0))
      ->capture_default_str();
  app.add_option("--drain", options.drain_s, "seconds to wait for answers after the last slot")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--max-requests", options.max_requests, "stop after this many requests (0: time only)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(std::move(options));
  } catch (const std::exception& e) {
    std::cerr << "fte-loadgen: " << e.what() << '\n';
    return 2;
  }
}
