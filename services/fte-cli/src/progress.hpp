#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace fte::cli {

/// Progress of a long copy on stderr: on a terminal, one line redrawn in
/// place (done / total, rate, ETA) a few times a second; otherwise a plain
/// line every few seconds, so a CI log or `| tee` stays readable.
class Progress {
public:
  Progress(std::string what, std::int64_t total, std::ostream& out, bool terminal);
  /// Counts `n` more done.
  void advance(std::int64_t n = 1);
  /// The final line (always printed).
  void finish();

  [[nodiscard]] std::int64_t done() const noexcept { return done_; }

  /// "1,234 of 5,000 records (24.7%), 812/s, ETA 5s".
  [[nodiscard]] static std::string describe(const std::string& what, std::int64_t done, std::int64_t total,
                                            double seconds);

private:
  void print(bool final);

  std::string what_;
  std::int64_t total_;
  std::int64_t done_ = 0;
  std::ostream& out_;
  bool terminal_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_print_ = started_;
};

} // namespace fte::cli
