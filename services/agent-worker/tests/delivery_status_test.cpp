#include "delivery_status.hpp"

#include <gtest/gtest.h>

namespace fte::agent {
namespace {

std::string applied(std::string_view current, std::string_view reported) {
  return advance_delivery_status(current, reported).value_or("(ignored)");
}

TEST(DeliveryStatus, MovesOnlyForward) {
  EXPECT_EQ(applied("queued", "sending"), "sending");
  EXPECT_EQ(applied("queued", "sent"), "sent");
  EXPECT_EQ(applied("sent", "delivered"), "delivered");
  EXPECT_EQ(applied("delivered", "read"), "read");
  EXPECT_EQ(applied("accepted", "queued"), "(ignored)") << "accepted and queued are the same step";
  EXPECT_EQ(applied("sent", "sending"), "(ignored)");
  EXPECT_EQ(applied("read", "delivered"), "(ignored)");
  EXPECT_EQ(applied("delivered", "sent"), "(ignored)");
  EXPECT_EQ(applied("delivered", "delivered"), "(ignored)");
}

TEST(DeliveryStatus, FailuresAreTerminalButNeverReplaceDelivery) {
  EXPECT_EQ(applied("queued", "failed"), "failed");
  EXPECT_EQ(applied("sending", "undelivered"), "undelivered");
  EXPECT_EQ(applied("sent", "undelivered"), "undelivered");
  EXPECT_EQ(applied("delivered", "undelivered"), "(ignored)");
  EXPECT_EQ(applied("read", "failed"), "(ignored)");
  EXPECT_EQ(applied("failed", "delivered"), "(ignored)");
  EXPECT_EQ(applied("undelivered", "read"), "(ignored)");
  EXPECT_EQ(applied("failed", "undelivered"), "(ignored)");
  EXPECT_TRUE(is_delivery_failure("failed"));
  EXPECT_TRUE(is_delivery_failure("undelivered"));
  EXPECT_FALSE(is_delivery_failure("delivered"));
}

TEST(DeliveryStatus, AnyOrderOfTheSameCallbacksEndsInTheSameStatus) {
  const std::vector<std::vector<std::string>> orders = {
      {"queued", "sent", "delivered", "read"},
      {"read", "delivered", "sent", "queued"},
      {"sent", "read", "queued", "delivered"},
      {"delivered", "queued", "read", "sent"},
  };
  for (const auto& order : orders) {
    std::string status;
    for (const auto& reported : order) {
      if (auto next = advance_delivery_status(status, reported)) status = *next;
    }
    EXPECT_EQ(status, "read");
  }
  std::string status;
  for (const auto* reported : {"sent", "undelivered", "queued", "sending"}) {
    if (auto next = advance_delivery_status(status, reported)) status = *next;
  }
  EXPECT_EQ(status, "undelivered");
}

TEST(DeliveryStatus, OnlyDeliveryStatusesTakeReports) {
  EXPECT_EQ(applied("", "delivered"), "delivered") << "nothing known yet";
  EXPECT_EQ(applied("", "failed"), "failed");
  EXPECT_EQ(applied("pending", "delivered"), "(ignored)") << "a row without a provider id";
  EXPECT_EQ(applied("unknown", "sent"), "(ignored)");
  EXPECT_EQ(applied("received", "read"), "(ignored)");
  EXPECT_EQ(applied("queued", "bogus"), "(ignored)");
}

TEST(DeliveryStatus, StoredFormsOfTwilioStatuses) {
  EXPECT_EQ(stored_delivery_status("scheduled"), "queued");
  EXPECT_EQ(stored_delivery_status("canceled"), "failed");
  EXPECT_EQ(stored_delivery_status("accepted"), "accepted");
  EXPECT_EQ(stored_delivery_status("read"), "read");
  EXPECT_EQ(stored_delivery_status("receiving"), std::nullopt);
  EXPECT_EQ(stored_delivery_status("received"), std::nullopt);
  EXPECT_EQ(stored_delivery_status("partially_delivered"), std::nullopt);
}

} // namespace
} // namespace fte::agent
