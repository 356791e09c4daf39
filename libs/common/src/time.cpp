#include "fte/common/time.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace fte {

std::string format_rfc3339(std::chrono::system_clock::time_point at) {
  using namespace std::chrono;
  const auto millis = duration_cast<milliseconds>(at.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(millis / 1000);
  auto fraction = millis % 1000;
  if (fraction < 0) { // before 1970: borrow a second so the fraction stays positive
    fraction += 1000;
    --seconds;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(fraction));
  return buffer;
}

namespace {

bool read_digits(std::string_view text, std::size_t& pos, std::size_t count, int& out) {
  if (pos + count > text.size()) {
    return false;
  }
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  pos += count;
  out = value;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

} // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') || !read_digits(text, pos, 2, month) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, day)) {
    return std::nullopt;
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return std::nullopt;
  }
  ++pos;
  if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ':') || !read_digits(text, pos, 2, minute) ||
      !expect(text, pos, ':') || !read_digits(text, pos, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  long long nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) {
      return std::nullopt;
    }
    for (; digits < 9; ++digits) {
      nanos *= 10;
    }
  }
  long offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int off_h = 0, off_m = 0;
    if (!read_digits(text, pos, 2, off_h) || !expect(text, pos, ':') || !read_digits(text, pos, 2, off_m) ||
        off_h > 23 || off_m > 59) {
      return std::nullopt;
    }
    offset_seconds = sign * (off_h * 3600L + off_m * 60L);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t epoch = timegm(&tm);
  using namespace std::chrono;
  // A year outside 1677..2262 (2502 was found by fuzz/cloudevent_fuzz.cpp)
  // is an error; the nanoseconds added after stay under the margin the
  // check leaves.
  const auto at = time_point_since_epoch(seconds(static_cast<long long>(epoch) - offset_seconds));
  if (!at) return std::nullopt;
  return *at + nanoseconds(nanos);
}

} // namespace fte
