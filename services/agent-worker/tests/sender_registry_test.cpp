#include "sender_registry.hpp"

#include <gtest/gtest.h>

namespace fte::agent {
namespace {

class NullSender final : public replies::ReplySender {
public:
  replies::SendResult send(const replies::OutgoingReply&) override { return {}; }
  std::optional<replies::SendResult> reconcile(const replies::OutgoingReply&) override { return std::nullopt; }
};

TEST(SenderRegistry, ServesWhatIsRegisteredAndMakesSendersPerWorker) {
  SenderRegistry registry;
  EXPECT_TRUE(registry.channels().empty());
  int made = 0;
  registry.add("whatsapp", "twilio", [&made] {
    ++made;
    return std::make_unique<NullSender>();
  });
  registry.add(
      "email", "gmail", [] { return std::make_unique<NullSender>(); }, std::chrono::minutes(5));
  registry.add("webform", "gmail", [] { return std::make_unique<NullSender>(); });
  EXPECT_TRUE(registry.serves("whatsapp"));
  EXPECT_EQ(registry.provider("whatsapp"), "twilio");
  EXPECT_EQ(registry.provider("webform"), "gmail");
  EXPECT_EQ(registry.reconcile_delay("email"), std::chrono::minutes(5)) << "Gmail's search lags a send";
  EXPECT_EQ(registry.reconcile_delay("whatsapp"), std::nullopt) << "the dispatcher's default";
  EXPECT_EQ(registry.channels(), (std::vector<std::string>{"email", "webform", "whatsapp"}));
  const auto one = registry.instantiate();
  const auto two = registry.instantiate();
  EXPECT_EQ(made, 2) << "one sender per worker, never shared between threads";
  EXPECT_NE(one.at("whatsapp").get(), two.at("whatsapp").get());
}

TEST(SenderRegistry, UnconfiguredChannelsAreNotServed) {
  SenderRegistry registry;
  registry.add("whatsapp", "twilio", [] { return std::make_unique<NullSender>(); });
  EXPECT_FALSE(registry.serves("email"));
  EXPECT_EQ(registry.provider("email"), "");
  EXPECT_FALSE(registry.instantiate().contains("email"));
  EXPECT_THROW(registry.add("sms", "twilio", [] { return std::make_unique<NullSender>(); }), std::invalid_argument);
  EXPECT_THROW(registry.add("email", "gmail", nullptr), std::invalid_argument);
}

} // namespace
} // namespace fte::agent
