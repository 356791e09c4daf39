#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fte::events {

/// W3C Trace Context `traceparent` (version 00): carried as a Kafka header so
/// a message can be followed across services by any tracing backend.
struct TraceParent {
  std::string trace_id; ///< 32 lower-case hex digits, not all zero
  std::string span_id;  ///< 16 lower-case hex digits, not all zero
  bool sampled = true;

  friend bool operator==(const TraceParent&, const TraceParent&) = default;

  /// A new trace with a random trace id and span id.
  [[nodiscard]] static TraceParent new_root();
  /// The same trace, a new span: what a consumer uses for what it emits.
  [[nodiscard]] TraceParent child() const;

  [[nodiscard]] std::string to_header() const;
  /// Returns nullopt for anything the W3C spec says to ignore.
  [[nodiscard]] static std::optional<TraceParent> parse(std::string_view header);
};

} // namespace fte::events
