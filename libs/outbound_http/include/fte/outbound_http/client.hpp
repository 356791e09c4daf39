#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace fte::outbound_http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  /// The whole exchange, connection included.
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds connect_timeout{5'000};
  /// Open a new connection for this request instead of reusing a kept-alive
  /// one. Set it for a request that must never be repeated (a provider's
  /// send API without an idempotency key): when a *reused* connection dies
  /// before any byte of the answer, libcurl silently sends the request
  /// again on a fresh connection (Curl_retry_request; POSTs included), so
  /// a provider that accepted the first copy and then lost the connection
  /// gets the message twice. A fresh connection is never retried that way:
  /// the loss comes back as a Failure with request_sent.
  bool fresh_connection = false;
};

struct Response {
  long status = 0;
  Headers headers; ///< names as received
  std::string body;

  /// The first header of that name, compared case-insensitively.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

/// Why no response arrived, sorted by what it means for a retry of a
/// request that is not idempotent (a provider's send API).
enum class FailureKind {
  /// Name resolution failed or the connection was refused or never
  /// established: the request was surely not sent.
  connect_failed,
  /// The time ran out. If the request was sent, the outcome is unknown.
  timeout,
  /// Anything else (TLS, reset, malformed answer): unknown once sent.
  transport,
};

struct Failure {
  FailureKind kind = FailureKind::transport;
  std::string message; ///< curl's words, with the URL
  /// Whether any of the request reached the wire; false means a retry
  /// cannot duplicate it.
  bool request_sent = false;
};

struct ClientOptions {
  std::string user_agent = "fte/0.1";
  /// CA bundle; empty uses the system's. TLS peers are always verified.
  std::string ca_file;
  /// Largest response body kept; a larger one fails the request.
  std::size_t max_response_bytes = 64 * 1024 * 1024;
};

/// An HTTP/1.1 and HTTPS client on libcurl. One Client keeps its
/// connections open between requests (one easy handle, reused), so it is
/// meant to be owned by one thread; make one per thread that calls out.
class Client {
public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  /// Performs the request. Never throws for a network failure: those come
  /// back as Failure. A response of any status is a Response.
  [[nodiscard]] std::variant<Response, Failure> perform(const Request& request);

private:
  struct State;
  std::unique_ptr<State> state_;
};

/// application/x-www-form-urlencoded, fields in the order given.
[[nodiscard]] std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
/// Percent-encodes one query or form component (RFC 3986 unreserved kept).
[[nodiscard]] std::string url_encode(std::string_view text);
/// Retry-After as delta-seconds (what Twilio and OpenAI-compatible APIs
/// send), capped at a day; an HTTP-date, garbage or no header is 0 (the
/// caller's own backoff applies).
[[nodiscard]] std::chrono::seconds retry_after(const Response& response);
/// "Basic base64(user:password)", for an Authorization header.
[[nodiscard]] std::string basic_auth(std::string_view user, std::string_view password);

} // namespace fte::outbound_http
