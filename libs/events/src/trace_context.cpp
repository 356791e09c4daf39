#include "fte/events/trace_context.hpp"

#include <array>
#include <stdexcept>

#include <openssl/rand.h>

namespace fte::events {
namespace {

std::string random_hex(std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<unsigned char, 16> buffer{};
  if (bytes > buffer.size() || RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("traceparent: OpenSSL RAND_bytes failed");
  }
  std::string out;
  out.reserve(bytes * 2);
  for (std::size_t i = 0; i < bytes; ++i) {
    out.push_back(kHex[buffer[i] >> 4]);
    out.push_back(kHex[buffer[i] & 0x0f]);
  }
  return out;
}

bool is_lower_hex(std::string_view text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool all_zero(std::string_view text) { return text.find_first_not_of('0') == std::string_view::npos; }

std::string non_zero_random_hex(std::size_t bytes) {
  for (;;) {
    auto hex = random_hex(bytes);
    if (!all_zero(hex)) {
      return hex;
    }
  }
}

} // namespace

TraceParent TraceParent::new_root() { return TraceParent{non_zero_random_hex(16), non_zero_random_hex(8), true}; }

TraceParent TraceParent::child() const { return TraceParent{trace_id, non_zero_random_hex(8), sampled}; }

std::string TraceParent::to_header() const { return "00-" + trace_id + "-" + span_id + (sampled ? "-01" : "-00"); }

std::optional<TraceParent> TraceParent::parse(std::string_view header) {
  // version(2) - trace-id(32) - parent-id(16) - flags(2)
  if (header.size() != 55 || header[2] != '-' || header[35] != '-' || header[52] != '-') {
    return std::nullopt;
  }
  const auto version = header.substr(0, 2);
  const auto trace_id = header.substr(3, 32);
  const auto span_id = header.substr(36, 16);
  const auto flags = header.substr(53, 2);
  if (version != "00" || !is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags) ||
      all_zero(trace_id) || all_zero(span_id)) {
    return std::nullopt;
  }
  const int flag_bits = std::stoi(std::string(flags), nullptr, 16);
  return TraceParent{std::string(trace_id), std::string(span_id), (flag_bits & 0x01) != 0};
}

} // namespace fte::events
