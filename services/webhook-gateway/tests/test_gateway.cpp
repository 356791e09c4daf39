#include "test_gateway.hpp"

namespace fte::gateway::test_support {
namespace {

Logger quiet() { return Logger::to_stderr("gateway-test", spdlog::level::off); }

} // namespace

TestGateway::TestGateway(kafka::ProducerOptions producer_options, TwilioHandler::Options twilio,
                         GmailPushHandler::Options gmail, oidc::JwksCache* gmail_keys)
    : producer_(std::move(producer_options), quiet()), metrics_(registry_),
      webform_({"fte.channels.webform.inbound", 1}, producer_, metrics_, quiet()),
      gmail_(std::move(gmail), gmail_keys, producer_, metrics_, registry_, quiet()),
      twilio_(std::move(twilio), producer_, metrics_, quiet()), router_(webform_, gmail_, twilio_, metrics_),
      server_(io_.get_executor(), server_options(),
              http::PeerHandler([this](http::Request request, boost::asio::ip::tcp::endpoint peer) {
                return router_.route(std::move(request), peer);
              }),
              quiet()),
      work_(boost::asio::make_work_guard(io_)) {
  server_.start();
  thread_ = std::thread([this] { io_.run(); });
}

TestGateway::~TestGateway() {
  server_.stop();
  work_.reset();
  io_.stop();
  thread_.join();
}

http::ServerOptions TestGateway::server_options() {
  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.body_limit = kBodyLimit;
  return options;
}

} // namespace fte::gateway::test_support
