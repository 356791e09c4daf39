#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "fte/common/logging.hpp"

namespace fte::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Status = boost::beast::http::status;

/// Turns a request into a response. Runs on the connection's coroutine; an
/// exception becomes a 500 with a JSON body (and a log line), never a crash.
using Handler = std::function<boost::asio::awaitable<Response>(Request)>;
/// The same, for handlers that need the TCP peer the request came from (a
/// proxy's address decides whether its X-Forwarded-* headers are believed).
/// The peer is the connection's, not anything the request claims.
using PeerHandler = std::function<boost::asio::awaitable<Response>(Request, boost::asio::ip::tcp::endpoint peer)>;

/// Writes a streamed response (server-sent events) on a connection a
/// StreamRoute took over: the head once, then the body as it comes, with no
/// length; the connection closes when the route's coroutine returns.
class StreamWriter {
public:
  virtual ~StreamWriter() = default;
  /// Sends the status line and `head`'s fields (its body is ignored).
  /// False when the client is gone.
  [[nodiscard]] virtual boost::asio::awaitable<bool> begin(const Response& head) = 0;
  /// Sends bytes of the body now. False when the client is gone.
  [[nodiscard]] virtual boost::asio::awaitable<bool> write(std::string_view bytes) = 0;
  /// The connection's executor (a strand), for timers the route waits on.
  [[nodiscard]] virtual boost::asio::any_io_executor executor() const = 0;
};

/// Requests answered with a stream instead of one response: `matches` picks
/// them; `serve` answers with a Response (a refusal, sent as usual) or
/// streams through the writer and returns nullopt.
struct StreamRoute {
  std::function<bool(const Request&)> matches;
  std::function<boost::asio::awaitable<std::optional<Response>>(Request, StreamWriter&)> serve;
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  std::uint16_t port = 0; ///< 0 picks a free port (tests)
  /// Time a client gets to send a whole request (headers and body); also the
  /// idle limit of a kept-alive connection.
  std::chrono::milliseconds read_timeout{15'000};
  std::chrono::milliseconds write_timeout{15'000};
  std::size_t body_limit = 1024 * 1024;
  /// Requests served on one connection before it is closed; with requests
  /// served strictly one after another, this also caps how much a client can
  /// pipeline into one connection.
  std::size_t max_requests_per_connection = 1000;

  /// Parses "host:port" or ":port". @throws ConfigError naming `variable`.
  static ServerOptions from_address(std::string_view address, std::string_view variable);
};

/// An HTTP/1.1 server on Boost.Beast with C++20 coroutines: one coroutine per
/// connection reads a request, awaits the handler, writes the response.
class Server {
public:
  Server(boost::asio::any_io_executor executor, ServerOptions options, Handler handler, Logger logger);
  Server(boost::asio::any_io_executor executor, ServerOptions options, PeerHandler handler, Logger logger);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Streams the requests `route` matches (call before start()).
  void set_stream_route(StreamRoute route);
  /// Binds and starts accepting. @throws boost::system::system_error when the
  /// address cannot be bound.
  void start();
  /// Stops accepting new connections; open ones finish their current request.
  void stop();
  /// The bound port (useful with port 0).
  [[nodiscard]] std::uint16_t port() const noexcept { return bound_port_; }

private:
  struct State;
  std::shared_ptr<State> state_;
  std::uint16_t bound_port_ = 0;
};

/// A JSON response with the right content type.
[[nodiscard]] Response json_response(Status status, const nlohmann::json& body, unsigned version = 11);
/// The error body every fte API uses: {"error": {"code", "message", "field"?}}.
[[nodiscard]] Response error_response(Status status, std::string_view code, std::string_view message,
                                      std::optional<std::string_view> field = std::nullopt, unsigned version = 11);

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive,
/// RFC 6750 2.1), or empty.
[[nodiscard]] std::string_view bearer_token(const Request& request);
/// 401 with `code` and the RFC 6750 challenge in WWW-Authenticate
/// (`Bearer error="invalid_token"` for invalid_token, else `Bearer`).
[[nodiscard]] Response unauthorized(std::string_view code, std::string_view message, unsigned version = 11);
/// The value of cookie `name` in the request's Cookie header(s), or empty.
[[nodiscard]] std::string_view cookie_value(const Request& request, std::string_view name);
/// Whether `target` is a path on this site ("/..."), never another origin
/// ("//evil", "https://...", "/\\evil") or a header injection: where a
/// sign-in may send the browser back to.
[[nodiscard]] bool is_local_path(std::string_view target) noexcept;

} // namespace fte::http
