#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "webform_normalizer.hpp"

namespace fte::normalizer {

/// Finds or creates the customers behind a batch's senders, inside the
/// caller's transaction, in at most four statements however large the
/// batch. A new customer's id is derived from the identifier, so a retried
/// or concurrent first message resolves to the same id.
class CustomerDirectory {
public:
  /// Declares the directory's prepared statements.
  static void prepare(pqxx::connection& connection);

  /// (kind, address) -> customer id for every sender given.
  using Resolved = std::map<std::pair<std::string, std::string>, std::string>;
  [[nodiscard]] static Resolved resolve(pqxx::work& tx, const std::vector<Sender>& senders);
};

} // namespace fte::normalizer
