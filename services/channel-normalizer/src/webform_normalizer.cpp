#include "webform_normalizer.hpp"

#include "fte/kafka/consumer_runner.hpp"

namespace fte::normalizer {

Sender webform_sender(const events::CloudEvent& submission) {
  return Sender{identity::IdentifierKind::email, required_string(submission.data, "email", kWebformType),
                required_string(submission.data, "name", kWebformType)};
}

InboundMessage inbound_from_webform(const events::CloudEvent& submission, std::string source_topic) {
  const auto& d = submission.data;
  InboundMessage message{.cause = &submission,
                         .source_topic = std::move(source_topic),
                         .id = std::nullopt,
                         .channel = "webform",
                         .sender = webform_sender(submission),
                         .fields = {{"subject", required_string(d, "subject", kWebformType)},
                                    {"body", required_string(d, "message", kWebformType)},
                                    {"received_at", required_string(d, "received_at", kWebformType)}},
                         .claims = {}};
  if (const auto it = d.find("category"); it != d.end() && it->is_string()) message.fields["category"] = *it;
  if (const auto it = d.find("priority"); it != d.end() && it->is_string()) message.fields["priority"] = *it;
  nlohmann::json metadata = {{"provider", "webform"}};
  if (const auto it = d.find("idempotency_key"); it != d.end() && it->is_string()) {
    metadata["idempotency_key"] = *it;
  }
  if (const auto it = d.find("phone"); it != d.end()) {
    const auto phone = it->is_string() ? it->get<std::string>() : std::string();
    if (!identity::is_e164(phone)) {
      throw kafka::PoisonError(std::string(kWebformType) + " with a phone that is not E.164");
    }
    metadata["claimed_phone"] = phone;
    message.claims.push_back({identity::IdentifierKind::phone, phone});
  }
  message.fields["channel_metadata"] = std::move(metadata);
  return message;
}

} // namespace fte::normalizer
