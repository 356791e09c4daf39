#pragma once

#include <string>
#include <string_view>

#include "fte/events/cloud_event.hpp"
#include "inbound_message.hpp"

namespace fte::normalizer {

inline constexpr std::string_view kWebformType = "fte.webform.submission.received.v1";

/// The sender of a webform submission: the address the form was sent from.
/// @throws kafka::PoisonError when the event lacks what its schema
/// guarantees (only a bug or a forged record).
[[nodiscard]] Sender webform_sender(const events::CloudEvent& submission);

/// A webform submission as an inbound message. A phone number on the form
/// is a claim, not a proof: it goes into channel_metadata as
/// `claimed_phone` and into `claims`, never into the customer's
/// identifiers (ADR 0011). @throws kafka::PoisonError as webform_sender.
[[nodiscard]] InboundMessage inbound_from_webform(const events::CloudEvent& submission, std::string source_topic);

} // namespace fte::normalizer
