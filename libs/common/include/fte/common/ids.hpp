#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace fte {

/// A string that means one kind of identifier. Distinct tags make distinct
/// types, so a customer id cannot be passed where an event id is expected.
template <class Tag> class StrongId {
public:
  StrongId() = default;
  explicit StrongId(std::string value) : value_(std::move(value)) {}

  [[nodiscard]] const std::string& str() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }

  friend auto operator<=>(const StrongId&, const StrongId&) = default;
  friend std::ostream& operator<<(std::ostream& out, const StrongId& id) { return out << id.value_; }

private:
  std::string value_;
};

using EventId = StrongId<struct EventIdTag>;
using CustomerId = StrongId<struct CustomerIdTag>;
using Topic = StrongId<struct TopicTag>;
using GroupId = StrongId<struct GroupIdTag>;

/// A random (version 4) UUID in canonical lower-case form.
[[nodiscard]] std::string random_uuid();

/// A name-based (version 5, SHA-1) UUID of `name` in the namespace `ns`,
/// which must be a canonical UUID string (RFC 4122 section 4.3).
/// @throws std::invalid_argument when `ns` is not a UUID.
[[nodiscard]] std::string name_based_uuid(std::string_view ns, std::string_view name);

/// fte's own namespace for name-based ids.
inline constexpr std::string_view kFteNamespace = "6f1c2f8e-3b7a-5d2e-9c41-0e5a7f3b9d10";

/// The event id for a message the outside world already identifies: the
/// same provider id always yields the same event id, so a provider's retry
/// becomes the same event and consumers deduplicate it.
/// `provider` is e.g. "twilio", "gmail", "pubsub", "webform".
[[nodiscard]] EventId event_id_from_provider(std::string_view provider, std::string_view provider_id);

/// The id of the `output`-th event a consumer derives from `cause`: stable
/// across reprocessing, so a redelivered input republishes the same id.
[[nodiscard]] EventId derived_event_id(const EventId& cause, std::string_view producer, std::string_view output);

[[nodiscard]] bool is_uuid(std::string_view text);

/// `count` bytes from OpenSSL's CSPRNG (secrets: tokens, nonces).
/// @throws std::runtime_error when the generator fails
[[nodiscard]] std::string random_bytes(std::size_t count);

/// SHA-256 of `bytes`, as 64 lower-case hexadecimal digits.
[[nodiscard]] std::string sha256_hex(std::string_view bytes);

} // namespace fte

template <class Tag> struct std::hash<fte::StrongId<Tag>> {
  std::size_t operator()(const fte::StrongId<Tag>& id) const noexcept { return std::hash<std::string>{}(id.str()); }
};
