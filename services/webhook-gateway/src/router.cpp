#include "router.hpp"

#include <vector>

#include "fte/common/embedded_file.hpp"

namespace fte::gateway {
namespace detail {
const std::vector<EmbeddedFile>& static_files();
}

namespace bhttp = boost::beast::http;

Router::Router(const WebformHandler& webform, const GmailPushHandler& gmail, GatewayMetrics& metrics)
    : webform_(webform), gmail_(gmail), metrics_(metrics) {}

namespace {

http::Response support_page(unsigned version) {
  http::Response response{http::Status::ok, version};
  response.set(bhttp::field::content_type, "text/html; charset=utf-8");
  // Embeddable in a customer's site, so no frame restrictions; no caching of
  // stale versions past a deploy.
  response.set(bhttp::field::cache_control, "no-cache");
  for (const auto& file : detail::static_files()) {
    if (file.name == "support.html") response.body() = std::string(file.text);
  }
  response.prepare_payload();
  return response;
}

http::Response method_not_allowed(std::string_view allow, unsigned version) {
  auto response = http::error_response(http::Status::method_not_allowed, "method_not_allowed",
                                       "use " + std::string(allow), std::nullopt, version);
  response.set(bhttp::field::allow, allow);
  return response;
}

} // namespace

boost::asio::awaitable<http::Response> Router::route(http::Request request) {
  const auto started = std::chrono::steady_clock::now();
  // Counts the request in flight for as long as this coroutine lives.
  struct InFlight {
    std::atomic<int>& count;
    prometheus::Gauge& gauge;
    InFlight(std::atomic<int>& c, prometheus::Gauge& g) : count(c), gauge(g) {
      ++count;
      gauge.Increment();
    }
    ~InFlight() {
      gauge.Decrement();
      --count;
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
  } in_flight(in_flight_, metrics_.in_flight());
  const std::string method(request.method_string());
  const std::string_view target(request.target().data(), request.target().size());
  const auto path = target.substr(0, target.find('?'));
  const auto version = request.version();

  std::string route = "unknown";
  http::Response response;
  if (path == "/webhooks/webform") {
    route = "/webhooks/webform";
    // Not a conditional expression: GCC 12 mishandles co_await inside ?:
    // (temporaries destroyed twice).
    if (request.method() == bhttp::verb::post) {
      response = co_await webform_.handle(std::move(request));
    } else {
      response = method_not_allowed("POST", version);
    }
  } else if (path == "/webhooks/gmail") {
    route = "/webhooks/gmail";
    if (request.method() == bhttp::verb::post) {
      response = co_await gmail_.handle(std::move(request));
    } else {
      response = method_not_allowed("POST", version);
    }
  } else if (path == "/support") {
    route = "/support";
    response = request.method() == bhttp::verb::get || request.method() == bhttp::verb::head
                   ? support_page(version)
                   : method_not_allowed("GET", version);
  } else {
    response = http::error_response(http::Status::not_found, "not_found", "no such endpoint", std::nullopt, version);
  }

  metrics_.request_finished(route, method, static_cast<int>(response.result_int()),
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  co_return response;
}

} // namespace fte::gateway
