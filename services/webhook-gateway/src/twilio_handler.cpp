#include "twilio_handler.hpp"

#include "publish.hpp"
#include "request_helpers.hpp"
#include "twilio_events.hpp"
#include "twilio_form.hpp"

namespace fte::gateway {

namespace bhttp = boost::beast::http;

TwilioHandler::TwilioHandler(Options options, kafka::Producer& producer, GatewayMetrics& metrics, Logger logger)
    : topic_(std::move(options.topic)), retry_after_seconds_(options.retry_after_seconds),
      origin_(std::move(options.origin)), validator_(std::move(options.auth_tokens)), producer_(producer),
      metrics_(metrics), logger_(std::move(logger)) {}

boost::asio::awaitable<http::Response> TwilioHandler::handle_message(http::Request request,
                                                                     boost::asio::ip::address peer) const {
  return handle(std::move(request), std::move(peer), Route::message);
}

boost::asio::awaitable<http::Response> TwilioHandler::handle_status(http::Request request,
                                                                    boost::asio::ip::address peer) const {
  return handle(std::move(request), std::move(peer), Route::status);
}

boost::asio::awaitable<http::Response> TwilioHandler::handle(http::Request request, boost::asio::ip::address peer,
                                                             Route route) const {
  const auto version = request.version();
  const auto received = std::chrono::system_clock::now();
  const std::string_view what = route == Route::message ? "whatsapp message" : "whatsapp status callback";
  const auto reject = [&](http::Status status, std::string_view code, std::string_view message) {
    logger_.info(std::string(what) + " rejected", {{"code", code}, {"reason", message}});
    return http::error_response(status, code, message, std::nullopt, version);
  };
  if (!configured()) {
    co_return reject(http::Status::service_unavailable, "channel_not_configured",
                     "the WhatsApp channel is not configured (FTE_TWILIO_AUTH_TOKEN)");
  }
  const std::string signature = header_value(request, "X-Twilio-Signature");
  if (signature.empty()) {
    co_return reject(http::Status::forbidden, "invalid_signature", "X-Twilio-Signature is missing");
  }
  const auto kind = twilio_body_kind(header_value(request, bhttp::field::content_type));
  if (!kind) {
    co_return reject(http::Status::unsupported_media_type, "unsupported_media_type",
                     "send application/x-www-form-urlencoded");
  }
  const std::string& body = request.body();
  auto fields = parse_twilio_body(*kind, body);
  if (!fields) {
    co_return reject(http::Status::bad_request, "invalid_form", "the body cannot be read as Twilio parameters");
  }

  const auto origin = resolve_origin(origin_, request, peer);
  const bool valid = *kind == TwilioBodyKind::form ? validator_.valid_form(origin.public_url, *fields, signature)
                                                   : validator_.valid_body(origin.public_url, body, signature);
  if (!valid) {
    // The URL is what an operator needs to see when a proxy or
    // FTE_PUBLIC_BASE_URL is set up wrong; the signature itself is not logged.
    logger_.info(std::string(what) + " rejected: signature does not match",
                 {{"code", "invalid_signature"}, {"url", origin.public_url}, {"client", origin.client_address}});
    co_return http::error_response(http::Status::forbidden, "invalid_signature",
                                   "X-Twilio-Signature does not match this request", std::nullopt, version);
  }

  const TwilioParams params(std::move(*fields));
  const TwilioRequestInfo info{received, origin.client_address, header_value(request, bhttp::field::user_agent)};
  auto built = route == Route::message ? whatsapp_message_event(params, info) : whatsapp_status_event(params, info);
  if (auto* error = std::get_if<ClientError>(&built)) {
    logger_.info(std::string(what) + " rejected", {{"code", error->code}, {"field", error->field.value_or("")}});
    co_return client_error_response(*error, version);
  }
  auto& accepted = std::get<TwilioEvent>(built);
  continue_trace(request, accepted.event);

  const auto report = co_await publish_event(producer_, metrics_, logger_, topic_, accepted.key, accepted.event, what);
  if (!report.ok()) co_return delivery_failed_response(report, retry_after_seconds_, version);
  if (logger_.enabled(spdlog::level::debug)) {
    logger_.debug(std::string(what) + " accepted", {{"event_id", accepted.event.id},
                                                    {"correlation_id", accepted.event.correlationid},
                                                    {"partition", report.partition},
                                                    {"offset", report.offset}});
  }
  if (route == Route::status) {
    http::Response response{http::Status::no_content, version};
    co_return response;
  }
  http::Response response{http::Status::ok, version};
  response.set(bhttp::field::content_type, "text/xml");
  response.body() = std::string(kEmptyTwiml);
  response.prepare_payload();
  co_return response;
}

} // namespace fte::gateway
