#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "fte/common/logging.hpp"
#include "fte/http/server.hpp"
#include "fte/kafka/producer.hpp"
#include "gateway_metrics.hpp"
#include "request_origin.hpp"
#include "twilio_signature.hpp"

namespace fte::gateway {

/// POST /webhooks/twilio/whatsapp and POST /webhooks/twilio/status.
///
/// Each request is checked in this order, and nothing is published unless
/// every check passed: channel configured (else 503
/// `channel_not_configured`), X-Twilio-Signature present (else 403
/// `invalid_signature`), a form or JSON body (else 415
/// `unsupported_media_type`) that parses (else 400 `invalid_form`), the
/// signature valid for the public URL (request_origin.hpp) with one of the
/// auth tokens (else 403 `invalid_signature`), the fields the event needs
/// (twilio_events.hpp, else 400). The event is then produced, and the answer
/// given only after the broker acknowledged it: 200 with empty TwiML for a
/// message, 204 for a status callback; 503 `kafka_unavailable` or 500
/// `publish_failed` otherwise (publish.hpp). Twilio's retry of the same
/// request is the same event id, which consumers deduplicate. Why the URL,
/// proxies and variants are what they are: ADR 0008.
class TwilioHandler {
public:
  struct Options {
    /// fte.channels.whatsapp.inbound (with the deployment's prefix).
    std::string topic;
    int retry_after_seconds = 1;
    /// FTE_TWILIO_AUTH_TOKEN, then FTE_TWILIO_AUTH_TOKEN_PREVIOUS; empty
    /// strings are ignored, and with no token the channel is not configured.
    std::vector<std::string> auth_tokens;
    OriginPolicy origin;
  };

  /// @throws std::runtime_error when OpenSSL cannot provide HMAC-SHA1.
  TwilioHandler(Options options, kafka::Producer& producer, GatewayMetrics& metrics, Logger logger);

  /// False when no auth token is configured: both routes answer 503.
  [[nodiscard]] bool configured() const noexcept { return validator_.configured(); }

  [[nodiscard]] boost::asio::awaitable<http::Response> handle_message(http::Request request,
                                                                      boost::asio::ip::address peer) const;
  [[nodiscard]] boost::asio::awaitable<http::Response> handle_status(http::Request request,
                                                                     boost::asio::ip::address peer) const;

  /// The body of a successful message webhook: TwiML that sends no reply.
  static constexpr std::string_view kEmptyTwiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)";

private:
  enum class Route { message, status };
  [[nodiscard]] boost::asio::awaitable<http::Response> handle(http::Request request, boost::asio::ip::address peer,
                                                              Route route) const;

  std::string topic_;
  int retry_after_seconds_;
  OriginPolicy origin_;
  TwilioSignatureValidator validator_;
  kafka::Producer& producer_;
  GatewayMetrics& metrics_;
  Logger logger_;
};

} // namespace fte::gateway
