#include "fte/outbound_http/client.hpp"

#include <atomic>
#include <thread>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "fte/http/local_server.hpp"

namespace fte::outbound_http {
namespace {

namespace bhttp = boost::beast::http;

Request get(std::string url) {
  Request request;
  request.url = std::move(url);
  return request;
}

Request post(std::string url, std::string body, std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  Request request;
  request.method = "POST";
  request.url = std::move(url);
  request.body = std::move(body);
  request.timeout = timeout;
  return request;
}

using http::LocalServer;

TEST(OutboundHttpClient, SendsMethodHeadersAndBodyAndReadsTheAnswer) {
  LocalServer server([](http::Request request) -> boost::asio::awaitable<http::Response> {
    http::Response response{http::Status::created, request.version()};
    response.set("X-Seen-Method", std::string(request.method_string()));
    response.set("X-Seen-Auth", std::string(request[bhttp::field::authorization]));
    response.set(bhttp::field::content_type, "text/plain");
    response.body() = request.body();
    response.prepare_payload();
    co_return response;
  });
  Client client;
  Request request;
  request.method = "POST";
  request.url = server.url("/echo?x=1");
  request.headers = {{"Authorization", basic_auth("AC123", "secret")},
                     {"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = form_encode({{"To", "whatsapp:+15551234567"}, {"Body", "héllo & bye"}});
  const auto result = client.perform(request);
  ASSERT_TRUE(std::holds_alternative<Response>(result)) << std::get<Failure>(result).message;
  const auto& response = std::get<Response>(result);
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, "To=whatsapp%3A%2B15551234567&Body=h%C3%A9llo%20%26%20bye");
  EXPECT_EQ(response.header("x-seen-method").value_or(""), "POST");
  EXPECT_EQ(response.header("X-SEEN-AUTH").value_or(""), "Basic QUMxMjM6c2VjcmV0");
  EXPECT_FALSE(response.header("X-Absent").has_value());

  // The same client, another request: a server error is an answer, not a failure.
  const auto again = client.perform(get(server.url("/get")));
  ASSERT_TRUE(std::holds_alternative<Response>(again));
  EXPECT_EQ(std::get<Response>(again).header("x-seen-method").value_or(""), "GET");
}

TEST(OutboundHttpClient, RefusedConnectionIsKnownNotSent) {
  // A port that was just free: bind, remember, close.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  acceptor.close();
  Client client;
  const auto result = client.perform(post("http://127.0.0.1:" + std::to_string(port) + "/x", "a=b"));
  ASSERT_TRUE(std::holds_alternative<Failure>(result));
  const auto& failure = std::get<Failure>(result);
  EXPECT_EQ(failure.kind, FailureKind::connect_failed) << failure.message;
  EXPECT_FALSE(failure.request_sent);
}

TEST(OutboundHttpClient, SlowAnswerIsATimeoutAfterSending) {
  LocalServer server([](http::Request request) -> boost::asio::awaitable<http::Response> {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, std::chrono::seconds(2));
    co_await timer.async_wait(boost::asio::use_awaitable);
    co_return http::Response{http::Status::ok, request.version()};
  });
  Client client;
  const auto result = client.perform(post(server.url("/slow"), "x", std::chrono::milliseconds(300)));
  ASSERT_TRUE(std::holds_alternative<Failure>(result));
  const auto& failure = std::get<Failure>(result);
  EXPECT_EQ(failure.kind, FailureKind::timeout) << failure.message;
  EXPECT_TRUE(failure.request_sent);
}

// A server that answers its `drop`-th request by closing the connection
// without a word (a provider that accepted a message and lost the line),
// and every other with 201 on a kept-alive connection. Serves exactly
// `connections` connections, each on its own thread.
class DroppingServer {
public:
  DroppingServer(int drop, int connections)
      : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}), drop_(drop) {
    accepting_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) {
        auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
        acceptor_.accept(*socket);
        serving_.emplace_back([this, socket] { serve(*socket); });
      }
    });
  }
  ~DroppingServer() {
    accepting_.join();
    for (auto& t : serving_)
      t.join();
  }
  DroppingServer(const DroppingServer&) = delete;
  DroppingServer& operator=(const DroppingServer&) = delete;

  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/Messages.json";
  }
  [[nodiscard]] int requests() const { return requests_; }

private:
  void serve(boost::asio::ip::tcp::socket& socket) {
    boost::asio::streambuf buffer;
    boost::system::error_code ec;
    for (;;) {
      const auto head = boost::asio::read_until(socket, buffer, "\r\n\r\n", ec);
      if (ec) return;
      std::string text(boost::asio::buffers_begin(buffer.data()), boost::asio::buffers_begin(buffer.data()) + head);
      buffer.consume(head);
      std::size_t length = 0;
      if (const auto at = text.find("Content-Length: "); at != std::string::npos) {
        length = std::stoul(text.substr(at + 16));
      }
      if (buffer.size() < length)
        boost::asio::read(socket, buffer, boost::asio::transfer_exactly(length - buffer.size()), ec);
      buffer.consume(length);
      if (++requests_ == drop_) {
        socket.close(ec);
        return;
      }
      const std::string answer =
          "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
      boost::asio::write(socket, boost::asio::buffer(answer), ec);
      if (ec) return;
    }
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int drop_;
  std::atomic<int> requests_{0};
  std::thread accepting_;
  std::vector<std::thread> serving_; // touched by accepting_ only until it is joined
};

TEST(OutboundHttpClient, LibcurlResendsAPostWhoseReusedConnectionDiesUnanswered) {
  // Why fresh_connection exists: the second request goes out on the kept-alive
  // connection, the server takes it and hangs up, and libcurl sends it again.
  DroppingServer server(/*drop=*/2, /*connections=*/2);
  {
    Client client;
    ASSERT_TRUE(std::holds_alternative<Response>(client.perform(post(server.url(), "first"))));
    const auto result = client.perform(post(server.url(), "second"));
    ASSERT_TRUE(std::holds_alternative<Response>(result)) << "the silent retry answered";
  }
  EXPECT_EQ(server.requests(), 3) << "the second POST reached the server twice";
}

TEST(OutboundHttpClient, AFreshConnectionIsNeverResentAndItsLossIsAmbiguous) {
  DroppingServer server(/*drop=*/2, /*connections=*/2);
  {
    Client client;
    ASSERT_TRUE(std::holds_alternative<Response>(client.perform(post(server.url(), "first"))));
    auto request = post(server.url(), "second");
    request.fresh_connection = true;
    const auto result = client.perform(request);
    ASSERT_TRUE(std::holds_alternative<Failure>(result));
    EXPECT_EQ(std::get<Failure>(result).kind, FailureKind::transport) << std::get<Failure>(result).message;
    EXPECT_TRUE(std::get<Failure>(result).request_sent);
  }
  EXPECT_EQ(server.requests(), 2) << "sent once";
}

TEST(OutboundHttpClient, Encodings) {
  EXPECT_EQ(url_encode("a b+c/é~"), "a%20b%2Bc%2F%C3%A9~");
  EXPECT_EQ(form_encode({{"a", "1"}, {"a", "2"}, {"k y", ""}}), "a=1&a=2&k%20y=");
  EXPECT_EQ(basic_auth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

} // namespace
} // namespace fte::outbound_http
