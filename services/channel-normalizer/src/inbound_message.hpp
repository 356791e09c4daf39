#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/common/ids.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/identity/identifier.hpp"

namespace fte::normalizer {

inline constexpr std::string_view kTicketMessageType = "fte.ticket.message.received.v1";
inline constexpr std::string_view kDeliveryUpdatedType = "fte.message.delivery.updated.v1";
inline constexpr std::string_view kSource = "/fte/channel-normalizer";
inline constexpr std::string_view kProducer = "channel-normalizer";

/// Who sent a message, by the identifier the channel itself proves (the
/// number Twilio reports, the address a mail or form came from): the only
/// thing a customer is found by (ADR 0011).
struct Sender {
  identity::IdentifierKind kind = identity::IdentifierKind::email;
  std::string address; ///< normalised: lower-case email, E.164 number
  std::string display_name;

  [[nodiscard]] identity::Identifier identifier() const { return {kind, address}; }
};

/// One customer message from any channel, as every channel turns its events
/// into it before the batch's customers are resolved. What the channel
/// knows beyond the sender goes into `fields`, the ticket message's own
/// members; the handler adds customer_id, channel, sender and the source.
struct InboundMessage {
  /// The channel event it was made from; it outlives the batch's handling.
  const events::CloudEvent* cause = nullptr;
  std::string source_topic;
  /// The ticket message's id when the channel has its own dedup key (the
  /// email fetcher: one notification yields several messages, each with
  /// event_id_from_provider("gmail", mailbox + ":" + message id)). Without
  /// one the id is derived from `cause`, so a redelivery yields the same id.
  std::optional<EventId> id;
  std::string channel; ///< whatsapp | email | webform
  Sender sender;
  /// fte.ticket.message.received.v1 members other than customer_id,
  /// channel, sender, source_event_id and source_topic: body, received_at,
  /// subject, category, priority, attachments, channel_metadata.
  nlohmann::json fields = nlohmann::json::object();
  /// Identifiers the message claims without proving (a phone number typed
  /// into the form). Never linked; a claim on another customer's
  /// identifier becomes a merge candidate.
  std::vector<identity::Identifier> claims;
};

/// A provider's report on a message we sent (a Twilio status callback),
/// before the customer it concerns is looked up.
struct DeliveryUpdate {
  const events::CloudEvent* cause = nullptr;
  /// The customer's identifier: the recipient of our message. Looked up,
  /// never created: a report about a customer we do not know is poison.
  Sender recipient;
  /// fte.message.delivery.updated.v1 `data` without customer_id.
  nlohmann::json fields = nlohmann::json::object();
};

/// The ticket message event (key and envelope customer = `customer_id`).
[[nodiscard]] events::CloudEvent ticket_message_event(InboundMessage&& message, const std::string& customer_id);

/// The delivery update event for `customer_id`.
[[nodiscard]] events::CloudEvent delivery_update_event(DeliveryUpdate&& update, const std::string& customer_id);

/// A string member of channel event data that its schema requires.
/// @throws kafka::PoisonError when it is absent, not a string, or empty
/// (only a bug or a forged record gets past the schema check).
[[nodiscard]] std::string required_string(const nlohmann::json& data, const char* field, std::string_view event_type);

} // namespace fte::normalizer
