#pragma once

#include <span>

#include "fte/http/documented_answer.hpp"

namespace fte::gateway {

/// gateway_answers(): every answer the gateway's public listener gives: route, method, status,
/// error code, media type, documented header. proto/openapi.yaml (tag
/// `webhooks` and `x-fte-listener-answers.webhooks`) lists exactly these;
/// tests/gateway_answers_test.cpp provokes each one from the real router,
/// handlers and HTTP server and compares both ways, with the document too.
/// A handler that gains an answer adds its row here, its case to that test,
/// and its response to the document.
namespace answers {
inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kHtml = "text/html";
inline constexpr std::string_view kXml = "text/xml";
inline constexpr std::string_view kNoBody = "";
inline constexpr std::string_view kRetryAfter = "Retry-After";
inline constexpr std::string_view kAllow = "Allow";
inline constexpr std::string_view kWwwAuthenticate = "WWW-Authenticate";

// clang-format off
inline constexpr http::DocumentedAnswer kGateway[] = {
    // POST /webhooks/webform (webform_handler.cpp, webform_submission.cpp);
    // text/html for a browser's own form post (webform_page.hpp).
    {"/webhooks/webform", "POST", 202, "", kJson},
    {"/webhooks/webform", "POST", 202, "", kHtml},
    {"/webhooks/webform", "POST", 400, "invalid_json", kJson},
    {"/webhooks/webform", "POST", 400, "invalid_field", kJson},
    {"/webhooks/webform", "POST", 400, "invalid_form", kJson},
    {"/webhooks/webform", "POST", 400, "duplicate_field", kJson},
    {"/webhooks/webform", "POST", 400, "missing_field", kJson},
    {"/webhooks/webform", "POST", 400, "invalid_encoding", kJson},
    {"/webhooks/webform", "POST", 400, "field_too_long", kJson},
    {"/webhooks/webform", "POST", 400, "invalid_email", kJson},
    {"/webhooks/webform", "POST", 400, "invalid_priority", kJson},
    {"/webhooks/webform", "POST", 400, "invalid_phone_number", kJson},
    {"/webhooks/webform", "POST", 400, "invalid_idempotency_key", kJson},
    {"/webhooks/webform", "POST", 400, "", kHtml},
    {"/webhooks/webform", "POST", 413, "body_too_large", kJson},
    {"/webhooks/webform", "POST", 415, "unsupported_media_type", kJson},
    {"/webhooks/webform", "POST", 500, "publish_failed", kJson},
    {"/webhooks/webform", "POST", 500, "", kHtml},
    {"/webhooks/webform", "POST", 503, "kafka_unavailable", kJson, kRetryAfter},
    {"/webhooks/webform", "POST", 503, "", kHtml, kRetryAfter},

    // GET /support (router.cpp; HEAD answers the same without a body).
    {"/support", "GET", 200, "", kHtml},

    // POST /webhooks/twilio/whatsapp and /webhooks/twilio/status (issue 8,
    // the answers PLAN.md fixes for the Twilio handlers).
    {"/webhooks/twilio/whatsapp", "POST", 200, "", kXml},
    {"/webhooks/twilio/whatsapp", "POST", 400, "invalid_form", kJson},
    {"/webhooks/twilio/whatsapp", "POST", 400, "missing_field", kJson},
    {"/webhooks/twilio/whatsapp", "POST", 400, "invalid_phone_number", kJson},
    {"/webhooks/twilio/whatsapp", "POST", 403, "invalid_signature", kJson},
    {"/webhooks/twilio/whatsapp", "POST", 413, "body_too_large", kJson},
    {"/webhooks/twilio/whatsapp", "POST", 415, "unsupported_media_type", kJson},
    {"/webhooks/twilio/whatsapp", "POST", 500, "publish_failed", kJson},
    {"/webhooks/twilio/whatsapp", "POST", 503, "kafka_unavailable", kJson, kRetryAfter},
    {"/webhooks/twilio/whatsapp", "POST", 503, "channel_not_configured", kJson},
    {"/webhooks/twilio/status", "POST", 204, "", kNoBody},
    {"/webhooks/twilio/status", "POST", 400, "invalid_form", kJson},
    {"/webhooks/twilio/status", "POST", 400, "missing_field", kJson},
    {"/webhooks/twilio/status", "POST", 400, "invalid_phone_number", kJson},
    {"/webhooks/twilio/status", "POST", 403, "invalid_signature", kJson},
    {"/webhooks/twilio/status", "POST", 413, "body_too_large", kJson},
    {"/webhooks/twilio/status", "POST", 415, "unsupported_media_type", kJson},
    {"/webhooks/twilio/status", "POST", 500, "publish_failed", kJson},
    {"/webhooks/twilio/status", "POST", 503, "kafka_unavailable", kJson, kRetryAfter},
    {"/webhooks/twilio/status", "POST", 503, "channel_not_configured", kJson},

    // POST /webhooks/gmail (gmail_push_handler.cpp). No 500: every failed
    // publish answers 503 kafka_unavailable, so Pub/Sub keeps the message.
    {"/webhooks/gmail", "POST", 204, "", kNoBody},
    {"/webhooks/gmail", "POST", 200, "invalid_json", kJson},
    {"/webhooks/gmail", "POST", 200, "invalid_push", kJson},
    {"/webhooks/gmail", "POST", 401, "missing_token", kJson, kWwwAuthenticate},
    {"/webhooks/gmail", "POST", 401, "invalid_token", kJson, kWwwAuthenticate},
    {"/webhooks/gmail", "POST", 403, "forbidden_token", kJson},
    {"/webhooks/gmail", "POST", 413, "body_too_large", kJson},
    {"/webhooks/gmail", "POST", 503, "kafka_unavailable", kJson, kRetryAfter},
    {"/webhooks/gmail", "POST", 503, "jwks_unavailable", kJson, kRetryAfter},
    {"/webhooks/gmail", "POST", 503, "channel_not_configured", kJson},

    // Outside any route (router.cpp, libs/http server.cpp).
    {http::kAnyRoute, http::kAnyRoute, 400, "malformed_http", kJson},
    {http::kAnyRoute, http::kAnyRoute, 404, "not_found", kJson},
    {http::kAnyRoute, http::kAnyRoute, 405, "method_not_allowed", kJson, kAllow},
    {http::kAnyRoute, http::kAnyRoute, 413, "body_too_large", kJson},
    {http::kAnyRoute, http::kAnyRoute, 500, "internal_error", kJson},
};
// clang-format on
} // namespace answers

[[nodiscard]] inline std::span<const http::DocumentedAnswer> gateway_answers() { return answers::kGateway; }

} // namespace fte::gateway
