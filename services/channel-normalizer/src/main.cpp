// channel-normalizer: channel events in, one unified ticket message per
// customer message (and one delivery update per provider status report)
// out, keyed by customer id.
#include "fte/runtime/consumer_service.hpp"
#include "normalizer_handler.hpp"
#include "webform_normalizer.hpp"
#include "whatsapp_normalizer.hpp"

int main() {
  return fte::runtime::consumer_service_main({
      .name = "channel-normalizer",
      .admin_address = "0.0.0.0:9101",
      // The email channel (fte.channels.email.inbound) joins these.
      .input_topics =
          [](const fte::kafka::TopicNames& t) {
            return std::vector<std::string>{t.webform_inbound, t.whatsapp_inbound};
          },
      .accepted_types = {std::string(fte::normalizer::kWebformType), std::string(fte::normalizer::kWhatsappMessageType),
                         std::string(fte::normalizer::kWhatsappStatusType)},
      .make_domain = [](fte::runtime::Service&,
                        const fte::kafka::TopicNames& topics) -> std::unique_ptr<fte::runtime::DomainHandler> {
        return std::make_unique<fte::normalizer::NormalizerHandler>(topics);
      },
      .start_beside = nullptr,
  });
}
