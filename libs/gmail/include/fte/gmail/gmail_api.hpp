#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fte/common/config.hpp"
#include "fte/gmail/errors.hpp"
#include "fte/gmail/token_source.hpp"
#include "fte/gmail/wire.hpp"
#include "fte/outbound_http/client.hpp"

namespace fte::gmail {

inline constexpr std::string_view kDefaultApiBaseUrl = "https://gmail.googleapis.com";

struct GmailApiOptions {
  std::string base_url = std::string(kDefaultApiBaseUrl); ///< no trailing slash
  std::chrono::milliseconds timeout{30'000};
  std::chrono::milliseconds connect_timeout{5'000};
  outbound_http::ClientOptions client;

  /// FTE_GMAIL_API_BASE_URL. @throws ConfigError
  static GmailApiOptions from_env(const Environment& env);
};

/// users.history.list answered 404: the start id is older than Gmail keeps
/// history for, and only a resynchronisation can close the gap.
struct StaleHistory {};

/// Every messagesAdded entry after a start id, all pages read.
struct History {
  std::vector<HistoryAdded> added; ///< ascending record id
  std::uint64_t history_id = 0;    ///< the mailbox's history id at the last page
  int pages = 0;
};

/// A users.messages.list walk, stopped at a bound.
struct MessageList {
  std::vector<MessageRef> messages; ///< newest first, as Gmail lists them
  bool truncated = false;           ///< more matched than the bound allowed
};

/// Why users.messages.send did not return the stored message, with what the
/// caller needs to decide whether the message may have gone out.
struct SendFailure {
  long status = 0; ///< Google's HTTP status; 0 when no answer arrived
  /// Set when no answer arrived: how the exchange broke.
  std::optional<outbound_http::FailureKind> transport;
  /// False when the send request surely never reached Google (connection
  /// refused, or no access token could be had).
  bool request_sent = true;
  std::string reason; ///< Google's reason (rateLimitExceeded, ...) when it gave one
  std::string message;
  std::chrono::seconds retry_after{0};
};

/// The Gmail REST API (v1) for one caller thread: it owns one HTTP client
/// (connection reuse), so make one per thread. Every call takes its access
/// token from the shared TokenSource and, on a 401, invalidates it and
/// tries once more with a fresh one.
///
/// Errors (except send_message, which reports instead): ApiError, retryable
/// for 429, 5xx, connection failures and unreadable answers, permanent for
/// 400, 403 (other than a rate limit), and a second 401.
class GmailApi {
public:
  GmailApi(GmailApiOptions options, std::shared_ptr<TokenSource> tokens);
  ~GmailApi();
  GmailApi(const GmailApi&) = delete;
  GmailApi& operator=(const GmailApi&) = delete;

  /// users.history.list with historyTypes=messageAdded from `start_history_id`,
  /// every page (at most `max_pages`, then ApiError: a runaway listing is a
  /// bug, not something to half-process). @throws ApiError
  [[nodiscard]] std::variant<History, StaleHistory> list_history(std::string_view mailbox,
                                                                 std::uint64_t start_history_id, int max_pages = 1000);
  /// users.messages.get?format=raw; nullopt on 404. @throws ApiError
  [[nodiscard]] std::optional<RawMessage> get_raw_message(std::string_view mailbox, std::string_view message_id);
  /// users.messages.list with a search query, pages followed until
  /// `max_messages` are listed. @throws ApiError
  [[nodiscard]] MessageList list_messages(std::string_view mailbox, std::string_view query, std::size_t max_messages);
  /// users.getProfile: the mailbox's current history id. @throws ApiError
  [[nodiscard]] Profile get_profile(std::string_view mailbox);
  /// users.messages.send with the RFC 822 bytes (encoded here) in `thread_id`
  /// (empty: a new thread). Never throws for what Google or the network did:
  /// the caller must tell "not sent" from "may have been sent".
  [[nodiscard]] std::variant<MessageRef, SendFailure> send_message(std::string_view mailbox, std::string_view rfc822,
                                                                   std::string_view thread_id);
  /// The sent message whose Message-ID header is `message_id` ("<...>"):
  /// `rfc822msgid:` search in the Sent folder. @throws ApiError
  [[nodiscard]] std::optional<MessageRef> find_sent_by_message_id(std::string_view mailbox,
                                                                  std::string_view message_id);
  /// users.watch: publish the mailbox's changes to the Pub/Sub `topic`
  /// (`projects/P/topics/T`), filtered to `label_ids` when given.
  /// @throws ApiError
  [[nodiscard]] WatchResult watch(std::string_view mailbox, std::string_view topic,
                                  const std::vector<std::string>& label_ids);
  /// users.stop. @throws ApiError
  void stop(std::string_view mailbox);

  /// Gmail requests made by this instance (401 retries included).
  [[nodiscard]] std::uint64_t calls() const noexcept { return calls_; }

private:
  struct Call {
    std::string method = "GET";
    std::string path_and_query; ///< after /gmail/v1/users/{mailbox}
    std::string body;           ///< JSON when not empty
  };
  /// One authorised request, the 401 retry included; a Failure or a Response
  /// of any status comes back as it is.
  [[nodiscard]] std::variant<outbound_http::Response, outbound_http::Failure> perform(std::string_view mailbox,
                                                                                      const Call& call);
  /// perform(), then anything but 2xx (and a 404 when `not_found_ok`) thrown.
  [[nodiscard]] std::optional<outbound_http::Response> expect_ok(std::string_view mailbox, const Call& call,
                                                                 bool not_found_ok = false);

  GmailApiOptions options_;
  std::shared_ptr<TokenSource> tokens_;
  outbound_http::Client client_;
  std::uint64_t calls_ = 0;
};

/// Whether an answer of this status (with Google's `reason`) may succeed
/// if the same request is made again later.
[[nodiscard]] bool is_retryable_status(long status, std::string_view reason) noexcept;

/// Retry-After in seconds (the HTTP-date form is rare at Google: 0).
[[nodiscard]] std::chrono::seconds retry_after_of(const outbound_http::Response& response);

} // namespace fte::gmail
