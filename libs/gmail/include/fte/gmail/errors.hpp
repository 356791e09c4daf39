#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace fte::gmail {

/// A call to Gmail or to Google's token endpoint that did not succeed.
/// `retryable()` says whether the same call can succeed later without anyone
/// changing anything (429, 5xx, a connection that failed, a quota); a
/// non-retryable error (400, 403, a revoked grant) carries Google's own
/// message, which is what an operator needs to fix it.
class ApiError : public std::runtime_error {
public:
  ApiError(bool retryable, long status, std::string reason, const std::string& what,
           std::chrono::seconds retry_after = std::chrono::seconds(0))
      : std::runtime_error(what), retryable_(retryable), status_(status), reason_(std::move(reason)),
        retry_after_(retry_after) {}

  [[nodiscard]] bool retryable() const noexcept { return retryable_; }
  /// The HTTP status Google answered with, 0 when no answer arrived.
  [[nodiscard]] long status() const noexcept { return status_; }
  /// Google's machine-readable reason (`notFound`, `rateLimitExceeded`,
  /// `invalid_grant`, ...), or a short word of ours (`connect_failed`).
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  /// What Google's Retry-After asked for, 0 when it gave none.
  [[nodiscard]] std::chrono::seconds retry_after() const noexcept { return retry_after_; }

private:
  bool retryable_;
  long status_;
  std::string reason_;
  std::chrono::seconds retry_after_;
};

} // namespace fte::gmail
