#include "fte/gmail/gmail_api.hpp"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "fte/mail/mail.hpp"

namespace fte::gmail {
namespace {

constexpr int kPageSize = 500; // Gmail's largest maxResults for history and list

std::string failure_reason(outbound_http::FailureKind kind) {
  switch (kind) {
  case outbound_http::FailureKind::connect_failed: return "connect_failed";
  case outbound_http::FailureKind::timeout: return "timeout";
  case outbound_http::FailureKind::transport: return "transport";
  }
  return "transport";
}

std::string describe(const std::string& method, std::string_view mailbox, const std::string& path) {
  return "Gmail " + method + " users/" + std::string(mailbox) + path;
}

template <class T> const T& parsed_or_throw(const Parsed<T>& parsed, const std::string& what) {
  if (const auto* bad = std::get_if<WireError>(&parsed)) {
    // An answer we cannot read is Google's fault or a proxy's; trying again is all there is.
    throw ApiError(true, 200, "unreadable_answer", what + ": " + bad->message);
  }
  return std::get<T>(parsed);
}

// "<abc@example.com>" -> "abc@example.com": Gmail's rfc822msgid: operator
// takes the id without its angle brackets.
std::string_view bare_message_id(std::string_view id) {
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') return id.substr(1, id.size() - 2);
  return id;
}

} // namespace

GmailApiOptions GmailApiOptions::from_env(const Environment& env) {
  GmailApiOptions options;
  options.base_url = env.get_or("FTE_GMAIL_API_BASE_URL", kDefaultApiBaseUrl);
  while (!options.base_url.empty() && options.base_url.back() == '/')
    options.base_url.pop_back();
  if (!options.base_url.starts_with("http://") && !options.base_url.starts_with("https://"))
    throw ConfigError("FTE_GMAIL_API_BASE_URL", "must be an http(s) URL, got '" + options.base_url + "'");
  return options;
}

bool is_retryable_status(long status, std::string_view reason) noexcept {
  if (status == 408 || status == 429 || status >= 500) return true;
  // Gmail reports its per-user and per-day quotas as 403 with these reasons.
  return status == 403 && (reason == "rateLimitExceeded" || reason == "userRateLimitExceeded" ||
                           reason == "dailyLimitExceeded" || reason == "quotaExceeded");
}

std::chrono::seconds retry_after_of(const outbound_http::Response& response) {
  const auto header = response.header("Retry-After");
  if (!header) return std::chrono::seconds(0);
  std::int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(header->data(), header->data() + header->size(), seconds);
  if (ec != std::errc{} || end != header->data() + header->size() || seconds < 0) return std::chrono::seconds(0);
  return std::chrono::seconds(std::min<std::int64_t>(seconds, 86'400));
}

GmailApi::GmailApi(GmailApiOptions options, std::shared_ptr<TokenSource> tokens)
    : options_(std::move(options)), tokens_(std::move(tokens)), client_(options_.client) {}
GmailApi::~GmailApi() = default;

std::variant<outbound_http::Response, outbound_http::Failure> GmailApi::perform(std::string_view mailbox,
                                                                                const Call& call) {
  outbound_http::Request request;
  request.method = call.method;
  request.url = options_.base_url + "/gmail/v1/users/" + outbound_http::url_encode(mailbox) + call.path_and_query;
  request.timeout = options_.timeout;
  request.connect_timeout = options_.connect_timeout;
  request.body = call.body;
  // A send must never ride a kept-alive connection: libcurl re-sends a
  // request whose reused connection dies unanswered (a second email).
  request.fresh_connection = call.method != "GET";
  for (int attempt = 1;; ++attempt) {
    const auto token = tokens_->access_token(mailbox);
    request.headers = {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}};
    if (!call.body.empty() || call.method == "POST") request.headers.emplace_back("Content-Type", "application/json");
    ++calls_;
    auto result = client_.perform(request);
    const auto* response = std::get_if<outbound_http::Response>(&result);
    // A 401 means the token was revoked or expired early: one fresh token,
    // one more try; a second 401 is the caller's to report.
    if (response != nullptr && response->status == 401 && attempt == 1) {
      tokens_->invalidate(mailbox, token);
      continue;
    }
    return result;
  }
}

std::optional<outbound_http::Response> GmailApi::expect_ok(std::string_view mailbox, const Call& call,
                                                           bool not_found_ok) {
  auto result = perform(mailbox, call);
  const auto what = describe(call.method, mailbox, call.path_and_query);
  if (const auto* failure = std::get_if<outbound_http::Failure>(&result)) {
    throw ApiError(true, 0, failure_reason(failure->kind), what + ": " + failure->message);
  }
  auto& response = std::get<outbound_http::Response>(result);
  if (response.status >= 200 && response.status < 300) return std::move(response);
  if (response.status == 404 && not_found_ok) return std::nullopt;
  const auto google = parse_google_error(response.body);
  throw ApiError(is_retryable_status(response.status, google.reason), response.status, google.reason,
                 what + " answered " + std::to_string(response.status) +
                     (google.reason.empty() ? "" : " " + google.reason) +
                     (google.message.empty() ? "" : ": " + google.message),
                 retry_after_of(response));
}

std::variant<History, StaleHistory> GmailApi::list_history(std::string_view mailbox, std::uint64_t start_history_id,
                                                           int max_pages) {
  History history;
  std::string page_token;
  for (;;) {
    Call call;
    call.path_and_query = "/history?startHistoryId=" + std::to_string(start_history_id) +
                          "&historyTypes=messageAdded&maxResults=" + std::to_string(kPageSize);
    if (!page_token.empty()) call.path_and_query += "&pageToken=" + outbound_http::url_encode(page_token);
    // 404 on any page: the start id fell out of Gmail's history meanwhile.
    const auto response = expect_ok(mailbox, call, /*not_found_ok=*/true);
    if (!response) return StaleHistory{};
    auto page = parsed_or_throw(parse_history_page(response->body), describe("GET", mailbox, call.path_and_query));
    ++history.pages;
    history.history_id = std::max(history.history_id, page.history_id);
    std::move(page.added.begin(), page.added.end(), std::back_inserter(history.added));
    if (page.next_page_token.empty()) return history;
    if (history.pages >= max_pages) {
      throw ApiError(false, 200, "too_many_pages",
                     describe("GET", mailbox, "/history") + ": more than " + std::to_string(max_pages) + " pages");
    }
    page_token = std::move(page.next_page_token);
  }
}

std::optional<RawMessage> GmailApi::get_raw_message(std::string_view mailbox, std::string_view message_id) {
  Call call;
  call.path_and_query = "/messages/" + outbound_http::url_encode(message_id) + "?format=raw";
  const auto response = expect_ok(mailbox, call, /*not_found_ok=*/true);
  if (!response) return std::nullopt;
  return parsed_or_throw(parse_raw_message(response->body), describe("GET", mailbox, call.path_and_query));
}

MessageList GmailApi::list_messages(std::string_view mailbox, std::string_view query, std::size_t max_messages) {
  MessageList list;
  std::string page_token;
  while (list.messages.size() < max_messages) {
    const auto wanted = std::min<std::size_t>(kPageSize, max_messages - list.messages.size());
    Call call;
    call.path_and_query = "/messages?q=" + outbound_http::url_encode(query) + "&maxResults=" + std::to_string(wanted);
    if (!page_token.empty()) call.path_and_query += "&pageToken=" + outbound_http::url_encode(page_token);
    const auto response = expect_ok(mailbox, call);
    auto page = parsed_or_throw(parse_message_list_page(response->body), describe("GET", mailbox, call.path_and_query));
    for (auto& message : page.messages) {
      if (list.messages.size() == max_messages) {
        list.truncated = true;
        return list;
      }
      list.messages.push_back(std::move(message));
    }
    if (page.next_page_token.empty()) return list;
    page_token = std::move(page.next_page_token);
  }
  // The bound is reached exactly; a further page means more matched.
  list.truncated = !page_token.empty();
  return list;
}

Profile GmailApi::get_profile(std::string_view mailbox) {
  Call call;
  call.path_and_query = "/profile";
  const auto response = expect_ok(mailbox, call);
  return parsed_or_throw(parse_profile(response->body), describe("GET", mailbox, call.path_and_query));
}

std::variant<MessageRef, SendFailure> GmailApi::send_message(std::string_view mailbox, std::string_view rfc822,
                                                             std::string_view thread_id) {
  nlohmann::json body = {{"raw", mail::base64url_encode(rfc822)}};
  if (!thread_id.empty()) body["threadId"] = std::string(thread_id);
  Call call;
  call.method = "POST";
  call.path_and_query = "/messages/send";
  call.body = body.dump();
  std::variant<outbound_http::Response, outbound_http::Failure> result;
  try {
    result = perform(mailbox, call);
  } catch (const ApiError& e) {
    // No token, so the send request was never made: whatever the token
    // endpoint answered, this is "not sent", never Gmail's refusal.
    return SendFailure{0, std::nullopt, false, e.reason(), e.what(), e.retry_after()};
  }
  if (const auto* failure = std::get_if<outbound_http::Failure>(&result)) {
    return SendFailure{0, failure->kind, failure->request_sent, failure_reason(failure->kind), failure->message, {}};
  }
  const auto& response = std::get<outbound_http::Response>(result);
  if (response.status >= 200 && response.status < 300) {
    const auto parsed = parse_message_ref(response.body);
    if (const auto* ref = std::get_if<MessageRef>(&parsed)) return *ref;
    // Accepted, but the answer does not say as what: the caller must treat
    // it as possibly sent and look for it.
    return SendFailure{response.status,
                       std::nullopt,
                       true,
                       "unreadable_answer",
                       "Gmail accepted the send but its answer is unreadable: " + std::get<WireError>(parsed).message,
                       {}};
  }
  const auto google = parse_google_error(response.body);
  return SendFailure{response.status,
                     std::nullopt,
                     true,
                     google.reason,
                     google.message.empty() ? "HTTP " + std::to_string(response.status) : google.message,
                     retry_after_of(response)};
}

std::optional<MessageRef> GmailApi::find_sent_by_message_id(std::string_view mailbox, std::string_view message_id) {
  Call call;
  // includeSpamTrash: a sent reply someone moved to the bin was still sent.
  call.path_and_query =
      "/messages?q=" + outbound_http::url_encode("in:sent rfc822msgid:" + std::string(bare_message_id(message_id))) +
      "&includeSpamTrash=true&maxResults=10";
  const auto response = expect_ok(mailbox, call);
  const auto page =
      parsed_or_throw(parse_message_list_page(response->body), describe("GET", mailbox, call.path_and_query));
  if (page.messages.empty()) return std::nullopt;
  return page.messages.front();
}

WatchResult GmailApi::watch(std::string_view mailbox, std::string_view topic,
                            const std::vector<std::string>& label_ids) {
  nlohmann::json body = {{"topicName", std::string(topic)}};
  if (!label_ids.empty()) {
    body["labelIds"] = label_ids;
    body["labelFilterBehavior"] = "INCLUDE";
  }
  Call call;
  call.method = "POST";
  call.path_and_query = "/watch";
  call.body = body.dump();
  const auto response = expect_ok(mailbox, call);
  return parsed_or_throw(parse_watch_result(response->body), describe("POST", mailbox, call.path_and_query));
}

void GmailApi::stop(std::string_view mailbox) {
  Call call;
  call.method = "POST";
  call.path_and_query = "/stop";
  (void)expect_ok(mailbox, call);
}

} // namespace fte::gmail
