#include "webform_handler.hpp"

#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/events/json_writer.hpp"
#include "publish.hpp"
#include "webform_page.hpp"
#include "webform_submission.hpp"

namespace fte::gateway {

namespace bhttp = boost::beast::http;

WebformHandler::WebformHandler(Options options, kafka::Producer& producer, GatewayMetrics& metrics, Logger logger)
    : options_(std::move(options)), producer_(producer), metrics_(metrics), logger_(std::move(logger)) {}

namespace {

http::Response client_error(const ClientError& error, unsigned version) {
  return http::error_response(error.status, error.code, error.message,
                              error.field ? std::optional<std::string_view>(*error.field) : std::nullopt, version);
}

std::string header(const http::Request& request, bhttp::field name) {
  const auto it = request.find(name);
  return it == request.end() ? std::string() : std::string(it->value());
}

std::string header(const http::Request& request, std::string_view name) {
  const auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  return it == request.end() ? std::string() : std::string(it->value());
}

} // namespace

boost::asio::awaitable<http::Response> WebformHandler::handle(http::Request request) const {
  const bool for_person =
      wants_answer_page(header(request, bhttp::field::content_type), header(request, bhttp::field::accept));
  auto response = co_await answer(std::move(request));
  if (for_person) response = answer_page(response);
  co_return response;
}

boost::asio::awaitable<http::Response> WebformHandler::answer(http::Request request) const {
  const auto version = request.version();
  const auto received = std::chrono::system_clock::now();
  const std::string idempotency_key = header(request, "Idempotency-Key");
  if (request.find("Idempotency-Key") != request.end()) {
    if (auto error = check_idempotency_key(idempotency_key)) {
      co_return client_error(*error, version);
    }
  }
  auto parsed = parse_webform(header(request, bhttp::field::content_type), request.body());
  if (auto* error = std::get_if<ClientError>(&parsed)) {
    logger_.info("webform submission rejected", {{"code", error->code}, {"field", error->field.value_or("")}});
    co_return client_error(*error, version);
  }
  const auto& submission = std::get<WebformSubmission>(parsed);

  // The same key from the same submitter is the same event: a browser's or
  // proxy's retry is deduplicated downstream instead of becoming a ticket.
  const EventId id = idempotency_key.empty()
                         ? EventId(random_uuid())
                         : event_id_from_provider("webform", submission.email + ":" + idempotency_key);
  nlohmann::json data = submission.to_json();
  data["received_at"] = format_rfc3339(received);
  if (!idempotency_key.empty()) data["idempotency_key"] = idempotency_key;
  if (const auto agent = header(request, bhttp::field::user_agent); !agent.empty()) {
    data["client"] = {{"user_agent", agent.substr(0, 1024)}};
  }
  auto event = events::make_origin_event(id, std::string(kSource), std::string(kEventType), std::move(data));
  event.subject = submission.email;
  if (auto parent = events::TraceParent::parse(header(request, "traceparent"))) {
    event.trace = parent->child();
  }

  const auto report = co_await publish_event(producer_, metrics_, logger_, options_.topic, submission.email, event,
                                             "webform submission");

  if (report.ok()) {
    if (logger_.enabled(spdlog::level::debug)) {
      logger_.debug("webform submission accepted", {{"event_id", event.id},
                                                    {"correlation_id", event.correlationid},
                                                    {"partition", report.partition},
                                                    {"offset", report.offset}});
    }
    // Written directly (both ids are uuids or derived from them): this is
    // the answer to every accepted submission.
    http::Response response{http::Status::accepted, version};
    response.set(bhttp::field::content_type, "application/json");
    auto& body = response.body();
    body.reserve(96);
    body += R"({"correlation_id":)";
    events::append_json_string(body, event.correlationid);
    body += R"(,"id":)";
    events::append_json_string(body, event.id);
    body.push_back('}');
    response.prepare_payload();
    co_return response;
  }
  co_return delivery_failed_response(report, options_.retry_after_seconds, version);
}

} // namespace fte::gateway
