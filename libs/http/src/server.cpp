#include "fte/http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>

#include "fte/common/config.hpp"
#include "fte/common/text.hpp"

namespace fte::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

ServerOptions ServerOptions::from_address(std::string_view address, std::string_view variable) {
  ServerOptions options;
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    throw ConfigError(std::string(variable), "expected host:port or :port, got '" + std::string(address) + "'");
  }
  const auto host = address.substr(0, colon);
  const auto port_text = address.substr(colon + 1);
  unsigned port = 0;
  const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535) {
    throw ConfigError(std::string(variable), "invalid port in '" + std::string(address) + "'");
  }
  options.address = host.empty() ? "0.0.0.0" : std::string(host);
  options.port = static_cast<std::uint16_t>(port);
  return options;
}

Response json_response(Status status, const nlohmann::json& body, unsigned version) {
  Response response{status, version};
  response.set(beast::http::field::content_type, "application/json");
  response.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.prepare_payload();
  return response;
}

Response error_response(Status status, std::string_view code, std::string_view message,
                        std::optional<std::string_view> field, unsigned version) {
  nlohmann::json error = {{"code", code}, {"message", message}};
  if (field) {
    error["field"] = *field;
  }
  return json_response(status, {{"error", error}}, version);
}

std::string_view bearer_token(const Request& request) {
  const auto it = request.find(beast::http::field::authorization);
  if (it == request.end()) return {};
  const std::string_view value(it->value().data(), it->value().size());
  const auto space = value.find(' ');
  if (space == std::string_view::npos || lower_ascii(value.substr(0, space)) != "bearer") return {};
  return trim(value.substr(space + 1));
}

Response unauthorized(std::string_view code, std::string_view message, unsigned version) {
  auto response = error_response(Status::unauthorized, code, message, std::nullopt, version);
  // RFC 6750 3.1: a bad token names invalid_token; anything else (no
  // credentials, an ended session) gets the challenge without an error code.
  response.set(beast::http::field::www_authenticate,
               code == "invalid_token" ? R"(Bearer error="invalid_token")" : "Bearer");
  return response;
}

std::string_view cookie_value(const Request& request, std::string_view name) {
  const auto [first, last] = request.equal_range(beast::http::field::cookie);
  for (auto field = first; field != last; ++field) {
    std::string_view rest(field->value().data(), field->value().size());
    while (!rest.empty()) {
      const auto semicolon = rest.find(';');
      const auto pair = trim(rest.substr(0, semicolon));
      rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
      const auto equals = pair.find('=');
      if (equals != std::string_view::npos && trim(pair.substr(0, equals)) == name) {
        return trim(pair.substr(equals + 1));
      }
    }
  }
  return {};
}

bool is_local_path(std::string_view target) noexcept {
  if (target.empty() || target.front() != '/' || target.size() > 2048) return false;
  if (target.starts_with("//") || target.starts_with("/\\")) return false;
  for (const char c : target)
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == 0x7f) return false;
  return true;
}

// The writer of one streamed response: the head, then raw body bytes; the
// body ends when the connection closes (HTTP/1.1 without a length).
class ConnectionStreamWriter final : public StreamWriter {
public:
  ConnectionStreamWriter(beast::tcp_stream& stream, std::chrono::milliseconds write_timeout)
      : stream_(stream), write_timeout_(write_timeout) {}

  asio::awaitable<bool> begin(const Response& head) override {
    beast::http::response<beast::http::empty_body> header{head.result(), head.version()};
    for (const auto& field : head)
      header.set(field.name_string(), field.value());
    header.set(beast::http::field::connection, "close");
    beast::http::response_serializer<beast::http::empty_body> serializer(header);
    boost::system::error_code ec;
    stream_.expires_after(write_timeout_);
    co_await beast::http::async_write_header(stream_, serializer, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  asio::awaitable<bool> write(std::string_view bytes) override {
    boost::system::error_code ec;
    stream_.expires_after(write_timeout_);
    co_await asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  [[nodiscard]] asio::any_io_executor executor() const override { return stream_.get_executor(); }

private:
  beast::tcp_stream& stream_;
  std::chrono::milliseconds write_timeout_;
};

struct Server::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, ServerOptions opts, PeerHandler h, Logger log)
      : executor(std::move(ex)), options(std::move(opts)), handler(std::move(h)), logger(std::move(log)),
        acceptor(executor) {}

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (acceptor.is_open()) {
      boost::system::error_code ec;
      tcp::socket socket(asio::make_strand(executor));
      co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
          co_return;
        }
        logger.warn("accept failed", {{"error", ec.message()}});
        continue;
      }
      const auto socket_executor = socket.get_executor();
      asio::co_spawn(socket_executor, session(beast::tcp_stream(std::move(socket))), asio::detached);
    }
  }

  asio::awaitable<void> session(beast::tcp_stream stream) {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    boost::system::error_code peer_error;
    // Read once: the peer of a connection does not change between requests.
    const tcp::endpoint peer = stream.socket().remote_endpoint(peer_error);
    try {
      for (std::size_t served = 0; served < options.max_requests_per_connection; ++served) {
        beast::http::request_parser<beast::http::string_body> parser;
        parser.body_limit(options.body_limit);
        parser.header_limit(16 * 1024);
        stream.expires_after(options.read_timeout);
        boost::system::error_code ec;
        co_await beast::http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == beast::http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
            ec == asio::error::connection_reset) {
          break;
        }
        if (ec == beast::http::error::body_limit) {
          co_await write(stream,
                         error_response(Status::payload_too_large, "body_too_large",
                                        "request body exceeds " + std::to_string(options.body_limit) + " bytes"),
                         false);
          break;
        }
        if (ec) {
          co_await write(stream, error_response(Status::bad_request, "malformed_http", ec.message()), false);
          break;
        }
        Request request = parser.release();
        const bool keep_alive = request.keep_alive() && served + 1 < options.max_requests_per_connection;
        const unsigned version = request.version();
        Response response;
        if (stream_route.matches && stream_route.matches(request)) {
          std::optional<Response> refusal;
          ConnectionStreamWriter writer(stream, options.write_timeout);
          try {
            refusal = co_await stream_route.serve(std::move(request), writer);
          } catch (const std::exception& e) {
            logger.error("stream handler failed", {{"error", e.what()}});
            break; // what was streamed stands; the connection closes
          }
          if (!refusal) break; // streamed: the body ended with the connection
          refusal->version(version);
          co_await write(stream, std::move(*refusal), keep_alive);
          if (!keep_alive) break;
          continue;
        }
        try {
          response = co_await handler(std::move(request), peer);
        } catch (const std::exception& e) {
          logger.error("request handler failed", {{"error", e.what()}});
          response = error_response(Status::internal_server_error, "internal_error", "internal error");
        }
        response.version(version);
        co_await write(stream, std::move(response), keep_alive);
        if (!keep_alive) {
          break;
        }
      }
    } catch (const boost::system::system_error& e) {
      logger.debug("connection ended", {{"error", e.code().message()}});
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> write(beast::tcp_stream& stream, Response response, bool keep_alive) {
    response.keep_alive(keep_alive);
    response.prepare_payload();
    stream.expires_after(options.write_timeout);
    co_await beast::http::async_write(stream, response, asio::use_awaitable);
  }

  asio::any_io_executor executor;
  ServerOptions options;
  PeerHandler handler;
  StreamRoute stream_route;
  Logger logger;
  tcp::acceptor acceptor;
};

Server::Server(asio::any_io_executor executor, ServerOptions options, PeerHandler handler, Logger logger)
    : state_(std::make_shared<State>(std::move(executor), std::move(options), std::move(handler), std::move(logger))) {}

Server::Server(asio::any_io_executor executor, ServerOptions options, Handler handler, Logger logger)
    : Server(std::move(executor), std::move(options),
             PeerHandler([inner = std::move(handler)](Request request, const tcp::endpoint& /*peer*/) {
               return inner(std::move(request));
             }),
             std::move(logger)) {}

Server::~Server() { stop(); }

void Server::set_stream_route(StreamRoute route) { state_->stream_route = std::move(route); }

void Server::start() {
  const tcp::endpoint endpoint(asio::ip::make_address(state_->options.address), state_->options.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  bound_port_ = acceptor.local_endpoint().port();
  asio::co_spawn(state_->executor, state_->accept_loop(), asio::detached);
  state_->logger.info("http listener started", {{"address", state_->options.address}, {"port", bound_port_}});
}

void Server::stop() {
  // Closing from another thread must go through the acceptor's executor.
  asio::post(state_->executor, [state = state_] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
  });
}

} // namespace fte::http
