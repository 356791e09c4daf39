#include "webform_page.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "webform_submission.hpp"

namespace fte::gateway {
namespace {

namespace bhttp = boost::beast::http;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The q parameter of one Accept element; nullopt when it is malformed, so the
// element is ignored rather than guessed at.
std::optional<double> quality_of(std::string_view parameters) {
  double q = 1.0;
  while (!parameters.empty()) {
    const auto semicolon = parameters.find(';');
    const auto parameter = trim(parameters.substr(0, semicolon));
    parameters = semicolon == std::string_view::npos ? std::string_view() : parameters.substr(semicolon + 1);
    if (parameter.size() < 2 || !iequals(parameter.substr(0, 2), "q=")) continue;
    const auto value = parameter.substr(2);
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
    if (ec != std::errc{} || end != value.data() + value.size() || q < 0.0 || q > 1.0) return std::nullopt;
  }
  return q;
}

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out.push_back(c);
    }
  }
  return out;
}

struct FieldWords {
  std::string_view field;
  std::string_view label;
  std::size_t limit;
};

constexpr FieldWords kFields[] = {
    {"name", "Name", WebformLimits::kName},
    {"email", "Email", WebformLimits::kEmail},
    {"subject", "Subject", WebformLimits::kSubject},
    {"message", "Message", WebformLimits::kMessage},
    {"category", "Category", WebformLimits::kCategory},
    {"phone", "Phone", WebformLimits::kPhone},
};

const FieldWords* field_words(std::string_view field) {
  for (const auto& words : kFields) {
    if (words.field == field) return &words;
  }
  return nullptr;
}

// The error said to a person. The codes a visitor's own typing can cause name
// the field as the form labels it; the others mean the request was not what
// the page sends, or that nothing was stored, and say what to do next. The
// JSON message is the fallback for codes added later.
std::string error_sentence(std::string_view code, std::string_view field, std::string_view message) {
  const auto* words = field_words(field);
  const std::string label = words != nullptr ? std::string(words->label) : std::string();
  if (code == "missing_field" && words != nullptr) return "Please fill in the " + label + " field.";
  if (code == "field_too_long" && words != nullptr) {
    return "The " + label + " field is too long: it can hold at most " + std::to_string(words->limit) + " characters.";
  }
  if (code == "invalid_encoding" && words != nullptr) {
    return "The " + label + " field contains characters we could not read. Please type it again.";
  }
  if (code == "invalid_email") return "The Email field does not hold an email address we could answer to.";
  if (code == "invalid_priority") return "Please choose a priority from the list.";
  if (code == "invalid_phone_number") {
    return "The Phone field does not hold a phone number in international form: start it with + and the country "
           "code.";
  }
  if (code == "kafka_unavailable") {
    return "We could not store your message just now, so it has not been sent. Please wait a moment and send it "
           "again.";
  }
  if (code == "publish_failed") {
    return "We could not store your message, so it has not been sent. Please try again later.";
  }
  if (code == "invalid_form" || code == "duplicate_field" || code == "invalid_json" || code == "invalid_field" ||
      code == "invalid_idempotency_key" || code == "unsupported_media_type" || code == "missing_field" ||
      code == "field_too_long" || code == "invalid_encoding") {
    return "Your browser sent the form in a way we could not read. Please reload the page and send it again.";
  }
  return message.empty() ? "Your message could not be sent." : std::string(message);
}

constexpr std::string_view kStyle =
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:1.5rem;color:#1d2330;background:#fff}"
    "main{max-width:34rem}.error{color:#b00020}.ok{color:#11743b}"
    "#reference{font-family:ui-monospace,monospace;word-break:break-all}";

std::string page(std::string_view title, std::string_view outcome_class, std::string_view sentence,
                 std::string_view details_html, std::string_view link_text) {
  std::string html;
  html.reserve(1024);
  html += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  html += escape_html(title);
  html += "</title>\n<style>";
  html += kStyle;
  html += "</style>\n</head>\n<body>\n<main>\n<h1>";
  html += escape_html(title);
  html += "</h1>\n<p id=\"outcome\" role=\"status\" class=\"";
  html += outcome_class;
  html += "\">";
  html += escape_html(sentence);
  html += "</p>\n";
  html += details_html;
  html += "<p><a href=\"/support\">";
  html += escape_html(link_text);
  html += "</a></p>\n</main>\n</body>\n</html>\n";
  return html;
}

} // namespace

double accept_quality(std::string_view accept, std::string_view media_type) {
  accept = trim(accept);
  if (accept.empty()) return 1.0;
  const auto slash = media_type.find('/');
  const auto type = media_type.substr(0, slash);
  const auto subtype = slash == std::string_view::npos ? std::string_view() : media_type.substr(slash + 1);
  int best_specificity = 0;
  double best_quality = 0.0;
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    const auto element = trim(accept.substr(0, comma));
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    const auto semicolon = element.find(';');
    const auto range = trim(element.substr(0, semicolon));
    const auto range_slash = range.find('/');
    if (range_slash == std::string_view::npos) continue;
    const auto range_type = range.substr(0, range_slash);
    const auto range_subtype = range.substr(range_slash + 1);
    int specificity = 0;
    if (range_type == "*" && range_subtype == "*") {
      specificity = 1;
    } else if (iequals(range_type, type) && range_subtype == "*") {
      specificity = 2;
    } else if (iequals(range_type, type) && iequals(range_subtype, subtype)) {
      specificity = 3;
    }
    if (specificity <= best_specificity) continue;
    const auto quality =
        quality_of(semicolon == std::string_view::npos ? std::string_view() : element.substr(semicolon + 1));
    if (!quality) continue;
    best_specificity = specificity;
    best_quality = *quality;
  }
  return best_quality;
}

bool wants_answer_page(std::string_view content_type, std::string_view accept) {
  const auto media_type = trim(content_type.substr(0, content_type.find(';')));
  if (!iequals(media_type, "application/x-www-form-urlencoded")) return false;
  const double html = accept_quality(accept, "text/html");
  return html > 0.0 && html > accept_quality(accept, "application/json");
}

http::Response answer_page(const http::Response& json_answer) {
  const auto answer = nlohmann::json::parse(json_answer.body(), nullptr, /*allow_exceptions=*/false);
  const auto text = [&answer](const nlohmann::json::json_pointer& pointer) {
    return answer.is_object() && answer.contains(pointer) && answer.at(pointer).is_string()
               ? answer.at(pointer).get<std::string>()
               : std::string();
  };
  std::string html;
  if (json_answer.result() == http::Status::accepted) {
    const auto reference = text(nlohmann::json::json_pointer("/id"));
    html = page("Thank you", "ok", "We have your message and will answer you soon.",
                "<p>Your reference: <strong id=\"reference\">" + escape_html(reference) +
                    "</strong>. Please quote it if you write to us about this message.</p>\n",
                "Send another message");
  } else {
    html = page("Your message was not sent", "error",
                error_sentence(text(nlohmann::json::json_pointer("/error/code")),
                               text(nlohmann::json::json_pointer("/error/field")),
                               text(nlohmann::json::json_pointer("/error/message"))),
                "<p>Use your browser's Back button to return to the form: what you typed is still there.</p>\n",
                "Start a new message");
  }

  http::Response response{json_answer.result(), json_answer.version()};
  response.set(bhttp::field::content_type, "text/html; charset=utf-8");
  // The page echoes nothing the visitor typed, but it is still locked down:
  // no script, no frames, nothing fetched, and never cached or sniffed.
  response.set(bhttp::field::cache_control, "no-store");
  response.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'");
  response.set("X-Content-Type-Options", "nosniff");
  if (const auto retry = json_answer.find(bhttp::field::retry_after); retry != json_answer.end()) {
    response.set(bhttp::field::retry_after, retry->value());
  }
  response.body() = std::move(html);
  response.prepare_payload();
  return response;
}

} // namespace fte::gateway
