#include "whatsapp_normalizer.hpp"

#include "fte/common/text.hpp"
#include "fte/kafka/consumer_runner.hpp"

namespace fte::normalizer {
namespace {

std::string e164_field(const nlohmann::json& data, const char* field, std::string_view event_type) {
  auto number = required_string(data, field, event_type);
  if (!identity::is_e164(number)) {
    throw kafka::PoisonError(std::string(event_type) + " whose '" + field + "' is not an E.164 number");
  }
  return number;
}

void copy_if_string(const nlohmann::json& from, const char* field, nlohmann::json& to, const char* as) {
  if (const auto it = from.find(field);
      it != from.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
    to[as] = *it;
  }
}

nlohmann::json attachments_from_media(const nlohmann::json& data) {
  auto attachments = nlohmann::json::array();
  const auto media = data.find("media");
  if (media == data.end() || !media->is_array()) return attachments;
  for (const auto& item : *media) {
    if (attachments.size() == TicketLimits::kAttachments) break;
    if (!item.is_object()) continue;
    const auto url = events::string_field(item, "url");
    const auto content_type = events::string_field(item, "content_type");
    // A part Twilio reported without either is nothing the agent can open.
    if (url.empty() || content_type.empty()) continue;
    attachments.push_back({{"url", url}, {"content_type", content_type}});
  }
  return attachments;
}

} // namespace

InboundMessage inbound_from_whatsapp(const events::CloudEvent& message, std::string source_topic) {
  const auto& d = message.data;
  const auto body = d.find("body");
  if (body == d.end() || !body->is_string()) {
    throw kafka::PoisonError(std::string(kWhatsappMessageType) + " without 'body'"); // "" is a body: media only
  }
  nlohmann::json metadata = {{"provider", "twilio"},
                             {"message_sid", required_string(d, "message_sid", kWhatsappMessageType)},
                             {"to", required_string(d, "to", kWhatsappMessageType)}};
  copy_if_string(d, "messaging_service_sid", metadata, "messaging_service_sid");
  copy_if_string(d, "wa_id", metadata, "wa_id");
  InboundMessage inbound{.cause = &message,
                         .source_topic = std::move(source_topic),
                         .id = std::nullopt,
                         .channel = "whatsapp",
                         .sender =
                             Sender{identity::IdentifierKind::phone, e164_field(d, "from", kWhatsappMessageType),
                                    truncate_utf8(events::string_field(d, "profile_name"), TicketLimits::kDisplayName)},
                         .fields = {{"body", truncate_utf8(body->get_ref<const std::string&>(), TicketLimits::kBody)},
                                    {"received_at", required_string(d, "received_at", kWhatsappMessageType)},
                                    {"attachments", attachments_from_media(d)},
                                    {"channel_metadata", std::move(metadata)}},
                         .claims = {}};
  return inbound;
}

DeliveryUpdate delivery_update_from_whatsapp(const events::CloudEvent& status) {
  const auto& d = status.data;
  DeliveryUpdate update{.cause = &status,
                        .recipient =
                            Sender{identity::IdentifierKind::phone, e164_field(d, "to", kWhatsappStatusType), {}},
                        .fields = {{"provider", "twilio"},
                                   {"provider_message_id", required_string(d, "message_sid", kWhatsappStatusType)},
                                   {"status", required_string(d, "message_status", kWhatsappStatusType)},
                                   {"reported_at", required_string(d, "received_at", kWhatsappStatusType)}}};
  copy_if_string(d, "error_code", update.fields, "error_code");
  return update;
}

} // namespace fte::normalizer
