#include "progress.hpp"

#include <cmath>
#include <cstdio>

namespace fte::cli {
namespace {

std::string with_commas(std::int64_t n) {
  auto digits = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<std::size_t>(i), ",");
  return (n < 0 ? "-" : "") + digits;
}

std::string duration_text(double seconds) {
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
}

} // namespace

Progress::Progress(std::string what, std::int64_t total, std::ostream& out, bool terminal)
    : what_(std::move(what)), total_(total), out_(out), terminal_(terminal) {}

std::string Progress::describe(const std::string& what, std::int64_t done, std::int64_t total, double seconds) {
  // Without a total (a scan whose size is unknown): the count and the rate.
  std::string line =
      total > 0 ? with_commas(done) + " of " + with_commas(total) + " " + what : with_commas(done) + " " + what;
  if (total > 0) {
    char percent[16];
    std::snprintf(percent, sizeof percent, " (%.1f%%)", 100.0 * static_cast<double>(done) / static_cast<double>(total));
    line += percent;
  }
  if (seconds > 0.05 && done > 0) {
    const double rate = static_cast<double>(done) / seconds;
    line += ", " + with_commas(static_cast<std::int64_t>(std::llround(rate))) + "/s";
    if (total > 0 && done < total) line += ", ETA " + duration_text(static_cast<double>(total - done) / rate);
  }
  return line;
}

void Progress::advance(std::int64_t n) {
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  const auto interval = terminal_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (now - last_print_ >= interval) {
    last_print_ = now;
    print(false);
  }
}

void Progress::finish() { print(true); }

void Progress::print(bool final) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const auto line = describe(what_, done_, total_, seconds);
  if (terminal_) {
    // \r and erase-to-end redraw the one line; the last one ends it.
    out_ << "\r\033[K" << line << (final ? "\n" : "") << std::flush;
  } else {
    out_ << line << "\n" << std::flush;
  }
}

} // namespace fte::cli
