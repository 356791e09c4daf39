// channel-normalizer: channel events in, one unified ticket message per
// customer message (and one delivery update per provider status report)
// out, keyed by customer id.
#include "email_fetcher.hpp"
#include "fte/runtime/consumer_service.hpp"
#include "normalizer_handler.hpp"
#include "watch_renewal.hpp"
#include "webform_normalizer.hpp"
#include "whatsapp_normalizer.hpp"

int main() {
  return fte::runtime::consumer_service_main({
      .name = "channel-normalizer",
      .admin_address = "0.0.0.0:9101",
      .input_topics =
          [](const fte::kafka::TopicNames& t) {
            return std::vector<std::string>{t.webform_inbound, t.whatsapp_inbound, t.email_inbound};
          },
      .accepted_types = {std::string(fte::normalizer::kWebformType), std::string(fte::normalizer::kWhatsappMessageType),
                         std::string(fte::normalizer::kWhatsappStatusType),
                         std::string(fte::normalizer::kEmailNotificationType)},
      .make_domain = [](fte::runtime::Service& service,
                        const fte::kafka::TopicNames& topics) -> std::unique_ptr<fte::runtime::DomainHandler> {
        // Without Gmail API access, email notifications are dead-lettered
        // (start_watch_renewal says so in the log).
        std::shared_ptr<const fte::normalizer::EmailFetcher> email;
        if (auto tokens = fte::gmail::token_source_from_env(service.env())) {
          email = std::make_shared<fte::normalizer::EmailFetcher>(
              fte::normalizer::EmailFetcherOptions::from_env(service.env()),
              fte::gmail::GmailApiOptions::from_env(service.env()), std::move(tokens),
              service.logger().with({{"component", "gmail-fetch"}}), service.registry());
        }
        return std::make_unique<fte::normalizer::NormalizerHandler>(topics, std::move(email));
      },
      .start_beside = [](fte::runtime::Service& service) -> std::function<void()> {
        return fte::normalizer::start_watch_renewal(
            service, service.env().get_or("FTE_DATABASE_URL", fte::runtime::kDefaultDatabaseUrl));
      },
  });
}
