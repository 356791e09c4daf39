#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fte::gmail::testing {

/// A message as the fake Gmail stores it.
struct FakeMessage {
  std::string id;
  std::string thread_id;
  std::vector<std::string> labels = {"INBOX", "UNREAD"};
  std::int64_t internal_date_ms = 0;
  std::string rfc822;
  std::uint64_t history_id = 0; ///< set by the fake
};

struct RecordedRequest {
  std::string method;
  std::string target; ///< path and query as sent
  std::string authorization;
  std::string body;
};

/// Google's token endpoint and the part of the Gmail API fte uses, in
/// process, on a loopback port, speaking the wire format (paths, bearer
/// tokens, JSON and error shapes, pageToken pagination, history ids that
/// grow with gaps, 404 on a start id older than the history kept). Unit
/// tests script it; all methods are thread-safe.
class FakeGoogle {
public:
  FakeGoogle();
  ~FakeGoogle();
  FakeGoogle(const FakeGoogle&) = delete;
  FakeGoogle& operator=(const FakeGoogle&) = delete;

  [[nodiscard]] std::string base_url() const;  ///< FTE_GMAIL_API_BASE_URL
  [[nodiscard]] std::string token_url() const; ///< FTE_GOOGLE_TOKEN_URL

  /// Adds a message (a messageAdded history record); returns its history id.
  std::uint64_t deliver(const std::string& mailbox, FakeMessage message);
  /// A change that is not a new message (labels, reads): history moves on.
  std::uint64_t touch(const std::string& mailbox);
  [[nodiscard]] std::uint64_t current_history_id(const std::string& mailbox) const;
  /// history.list with a start id below this answers 404.
  void forget_history_before(const std::string& mailbox, std::uint64_t history_id);
  /// messages.get answers 404 for it (a push that outran the message).
  void hide(const std::string& message_id, bool hidden = true);
  /// Largest page history and list answers return.
  void set_page_size(int size);

  /// The next `count` requests whose target contains `target_part` get this
  /// status and body (and Retry-After when given) instead of an answer.
  void fail_next(const std::string& target_part, int status, int count = 1, std::string body = {},
                 std::optional<int> retry_after = std::nullopt);
  /// The next `count` matching requests are answered after `delay` (past a
  /// client's timeout: the request was sent, the outcome is not known). The
  /// request is carried out first, as Gmail would.
  void delay_next(const std::string& target_part, std::chrono::milliseconds delay, int count = 1);

  /// Every token issued so far is refused from now on (401).
  void revoke_tokens();
  void set_token_lifetime(std::chrono::seconds lifetime);
  /// The token endpoint answers this status with an OAuth error body.
  void fail_token_endpoint(int status, std::string error, int count = 1);
  [[nodiscard]] int token_requests() const;
  /// The decoded form of each token request, in order.
  [[nodiscard]] std::vector<std::map<std::string, std::string>> token_forms() const;

  [[nodiscard]] std::vector<RecordedRequest> requests() const;
  [[nodiscard]] int count_requests(const std::string& target_part) const;
  /// Messages in `mailbox` carrying the SENT label, in send order.
  [[nodiscard]] std::vector<FakeMessage> sent(const std::string& mailbox) const;
  /// The last watch request's JSON body.
  [[nodiscard]] std::string last_watch_body() const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

/// A small RFC 822 message for tests.
[[nodiscard]] std::string make_rfc822(const std::string& from, const std::string& to, const std::string& subject,
                                      const std::string& body, const std::string& message_id,
                                      const std::string& extra_headers = {});

/// A 2048-bit RSA key in PEM (PKCS#8), generated once per process, for
/// service-account tests.
[[nodiscard]] const std::string& test_rsa_private_key_pem();
[[nodiscard]] std::string public_key_pem_of(const std::string& private_key_pem);

} // namespace fte::gmail::testing
