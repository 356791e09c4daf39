#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "fte/kafka/consumer_runner.hpp"
#include "fte/runtime/outbox.hpp"

namespace prometheus {
class Counter;
class Registry;
} // namespace prometheus

namespace fte::agent {

/// A provider's message id, as delivery statuses name it.
struct ProviderMessageKey {
  std::string provider; ///< "twilio", "gmail"
  std::string provider_message_id;
  friend auto operator<=>(const ProviderMessageKey&, const ProviderMessageKey&) = default;
};

/// A delivery status kept for a provider id no reply carries yet.
struct KeptStatus {
  std::string status;
  std::string error_code;
  std::string reported_at; ///< RFC 3339, as reported
};

/// Where delivery statuses meet replies in the database. A status can
/// arrive before the dispatcher has recorded the provider id it names (the
/// callback beat the dispatcher's COMMIT); it is then kept in
/// message_delivery_status and merged in when the id is recorded. Both sides
/// first take a transaction-level advisory lock per id, so whichever
/// commits second sees the other's row.
class DeliveryStatusStore {
public:
  static void prepare(pqxx::connection& connection);
  /// Locks the ids (in a fixed order, so writers of several ids cannot deadlock) until `tx` ends.
  static void lock(pqxx::work& tx, std::vector<ProviderMessageKey> keys);
  /// The status kept for `key`, removed from the table; nullopt when none.
  /// Call with the lock held.
  static std::optional<KeptStatus> take_kept(pqxx::work& tx, const ProviderMessageKey& key);
};

/// Applies fte.message.delivery.updated.v1 events inside the consumer's
/// transaction (AgentHandler): each status moves its reply forward by
/// the rule in delivery_status.hpp, or is kept for a reply whose provider
/// id is not recorded yet. A reply that becomes failed or undelivered is
/// escalated (delivery_failed): the customer did not get our answer.
class DeliveryUpdates {
public:
  DeliveryUpdates(std::string escalations_topic, const std::shared_ptr<prometheus::Registry>& metrics);
  ~DeliveryUpdates();
  DeliveryUpdates(const DeliveryUpdates&) = delete;
  DeliveryUpdates& operator=(const DeliveryUpdates&) = delete;

  static void prepare(pqxx::connection& connection);
  /// `updates` in offset order per key (a customer's callbacks in the order
  /// they arrived).
  void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> updates, runtime::Outputs& outputs) const;

private:
  struct Metrics;
  std::string escalations_topic_;
  std::unique_ptr<Metrics> metrics_;
};

} // namespace fte::agent
