#include "fte/observability/admin_server.hpp"

#include <atomic>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "fte/http/testing/openapi_answers.hpp"

namespace fte::observability {
namespace {

namespace bhttp = boost::beast::http;

http::Response get(std::uint16_t port, const std::string& target) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::Request request{bhttp::verb::get, target, 11};
  request.set(bhttp::field::host, "localhost");
  bhttp::write(socket, request);
  boost::beast::flat_buffer buffer;
  http::Response response;
  bhttp::read(socket, buffer, response);
  return response;
}

class AdminServerTest : public ::testing::Test {
protected:
  AdminServerTest() : registry(std::make_shared<prometheus::Registry>()) {
    http::ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    server = std::make_unique<AdminServer>(options, registry, Logger::to_stderr("admin-test", spdlog::level::warn));
  }
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<AdminServer> server;
};

TEST_F(AdminServerTest, ServesHealthReadinessAndMetrics) {
  prometheus::BuildCounter().Name("fte_test_total").Help("test").Register(*registry).Add({}).Increment(3);
  std::atomic<bool> kafka_up{false};
  server->add_readiness_check("kafka", [&] { return kafka_up.load(); });
  server->start();

  EXPECT_EQ(get(server->port(), "/healthz").result(), http::Status::ok);

  auto not_ready = get(server->port(), "/readyz");
  EXPECT_EQ(not_ready.result(), http::Status::service_unavailable);
  EXPECT_EQ(nlohmann::json::parse(not_ready.body())["checks"]["kafka"], false);

  kafka_up = true;
  EXPECT_EQ(get(server->port(), "/readyz").result(), http::Status::ok);

  const auto metrics = get(server->port(), "/metrics");
  EXPECT_EQ(metrics.result(), http::Status::ok);
  EXPECT_NE(metrics.body().find("fte_test_total 3"), std::string::npos) << metrics.body();
  // Readiness as series, evaluated at the scrape (the alerts read them).
  EXPECT_NE(metrics.body().find("fte_ready 1"), std::string::npos) << metrics.body();
  EXPECT_NE(metrics.body().find("fte_readiness_check{check=\"kafka\"} 1"), std::string::npos) << metrics.body();
  kafka_up = false;
  const auto failing = get(server->port(), "/metrics").body();
  EXPECT_NE(failing.find("fte_ready 0"), std::string::npos) << failing;
  EXPECT_NE(failing.find("fte_readiness_check{check=\"kafka\"} 0"), std::string::npos) << failing;

  const auto missing = get(server->port(), "/nope");
  EXPECT_EQ(missing.result(), http::Status::not_found);
  EXPECT_EQ(nlohmann::json::parse(missing.body())["error"]["code"], "not_found");
}

// Sends raw bytes on a new connection and reads one answer.
http::Response round_trip(std::uint16_t port, const std::string& raw) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(raw));
  boost::beast::flat_buffer buffer;
  http::Response response;
  boost::system::error_code ec;
  bhttp::read(socket, buffer, response, ec);
  return response;
}

std::string request(const std::string& method, const std::string& target, const std::string& body = {}) {
  return method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// Announces a body over `limit` and sends none of it: the server answers from
// the headers, so no unread bytes turn its close into a reset.
std::string oversized(const std::string& target, std::size_t limit) {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(limit + 1) + "\r\n\r\n";
}

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    out += "  " + item + "\n";
  return out;
}

// Every answer of the admin listener, provoked, against AdminServer::answers()
// and against proto/openapi.yaml (tag admin), in both directions.
TEST(AdminAnswers, TheListenerGivesExactlyTheDocumentedAnswers) {
  using http::testing::AnswerKey;
  auto registry = std::make_shared<prometheus::Registry>();
  auto options =
      AdminServer::options_from_env(Environment(std::map<std::string, std::string, std::less<>>{}), "127.0.0.1:0");
  AdminServer server(options, registry, Logger::to_stderr("admin-test", spdlog::level::off));
  std::atomic<bool> ready{true};
  server.add_readiness_check("kafka", [&] { return ready.load(); });
  server.start();
  const auto port = server.port();

  http::testing::Answers observed;
  const auto provoke = [&](const AnswerKey& key, const http::Response& response) {
    EXPECT_EQ(response.result_int(), static_cast<unsigned>(key.status)) << key.path << ": " << response.body();
    http::testing::record(observed, key, response);
  };
  provoke({"/healthz", "GET", 200}, round_trip(port, request("GET", "/healthz")));
  EXPECT_EQ(round_trip(port, request("HEAD", "/healthz")).result_int(), 200U);
  provoke({"/readyz", "GET", 200}, round_trip(port, request("GET", "/readyz")));
  ready = false;
  provoke({"/readyz", "GET", 503}, round_trip(port, request("GET", "/readyz")));
  provoke({"/metrics", "GET", 200}, round_trip(port, request("GET", "/metrics")));
  provoke({"*", "*", 404}, round_trip(port, request("GET", "/nope")));
  const auto wrong_method = round_trip(port, request("POST", "/healthz"));
  EXPECT_EQ(wrong_method[bhttp::field::allow], "GET, HEAD");
  provoke({"*", "*", 405}, wrong_method);
  provoke({"*", "*", 400}, round_trip(port, "NOT HTTP\r\n\r\n"));
  provoke({"*", "*", 413}, round_trip(port, oversized("/healthz", options.body_limit)));
  {
    // internal_error is the HTTP server's own answer when a handler throws
    // (libs/http), the same on every listener; the admin handler does not
    // throw, so a handler that does stands in for it.
    boost::asio::io_context io;
    http::ServerOptions failing_options;
    failing_options.address = "127.0.0.1";
    http::Server failing(
        io.get_executor(), failing_options,
        [](http::Request) -> boost::asio::awaitable<http::Response> { throw std::runtime_error("boom"); },
        Logger::to_stderr("admin-test", spdlog::level::off));
    failing.start();
    std::thread runner([&io] { io.run(); });
    const auto answer = round_trip(failing.port(), request("GET", "/healthz"));
    failing.stop();
    io.stop();
    runner.join();
    provoke({"*", "*", 500}, answer);
  }
  server.stop();

  const auto table = http::testing::table_answers(AdminServer::answers());
  const auto behaviour = http::testing::differences(table, "AdminServer::answers()", observed, "the admin listener");
  EXPECT_TRUE(behaviour.empty()) << lines(behaviour);
  const auto documented = http::testing::documented_answers(http::testing::load_openapi(), "admin");
  const auto document = http::testing::differences(documented, "proto/openapi.yaml", table, "AdminServer::answers()");
  EXPECT_TRUE(document.empty()) << lines(document);
}

TEST(ServerOptions, ParsesAddresses) {
  const auto a = http::ServerOptions::from_address("127.0.0.1:9100", "X");
  EXPECT_EQ(a.address, "127.0.0.1");
  EXPECT_EQ(a.port, 9100);
  const auto b = http::ServerOptions::from_address(":8080", "X");
  EXPECT_EQ(b.address, "0.0.0.0");
  EXPECT_THROW((void)http::ServerOptions::from_address("9100", "X"), ConfigError);
  EXPECT_THROW((void)http::ServerOptions::from_address("h:99999", "X"), ConfigError);
}

} // namespace
} // namespace fte::observability
