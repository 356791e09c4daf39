#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fte::agent {

/// The delivery statuses a provider reports for a reply we sent, and the
/// one rule for applying them, used for stored replies and for statuses
/// kept until their reply's provider id is recorded:
///
///   queued = accepted  <  sending  <  sent  <  delivered  <  read
///   failed, undelivered: terminal over queued/accepted, sending and sent,
///   but they never replace delivered or read; nothing replaces them.
///
/// A report that does not move a status forward is ignored, so callbacks
/// that arrive out of order (Twilio does not promise order) never move a
/// reply back.

/// The stored form of a provider's status: `scheduled` counts as `queued`
/// and `canceled` as `failed`; nullopt for statuses that are not about a
/// message we sent (`receiving`, `received`) or that we do not know.
[[nodiscard]] std::optional<std::string> stored_delivery_status(std::string_view provider_status);

/// The status a reply moves to when `reported` (a stored form) arrives while
/// it is `current`, or nullopt when the report must not change it. An empty
/// `current` (nothing known yet) takes any report. A `current` outside the
/// delivery statuses (pending, unknown, ...) takes none.
[[nodiscard]] std::optional<std::string> advance_delivery_status(std::string_view current, std::string_view reported);

/// failed or undelivered: the customer did not get the reply.
[[nodiscard]] bool is_delivery_failure(std::string_view status);

} // namespace fte::agent
