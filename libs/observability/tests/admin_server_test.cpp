#include "fte/observability/admin_server.hpp"

#include <atomic>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

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

  const auto missing = get(server->port(), "/nope");
  EXPECT_EQ(missing.result(), http::Status::not_found);
  EXPECT_EQ(nlohmann::json::parse(missing.body())["error"]["code"], "not_found");
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
