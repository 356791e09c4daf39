#pragma once

#include <string>

#include <pqxx/pqxx>

#include "webform_normalizer.hpp"

namespace fte::normalizer {

/// Finds or creates the customer behind a sender, inside the caller's
/// transaction. A new customer's id is derived from the identifier, so a
/// retried or concurrent first message resolves to the same id (and a
/// ticket event published before a failed commit never names a customer
/// that does not exist after the retry).
[[nodiscard]] std::string resolve_customer(pqxx::work& tx, const Sender& sender);

} // namespace fte::normalizer
