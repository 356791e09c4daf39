#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <pqxx/pqxx>

#include "fte/access/api_token.hpp"

namespace fte::access {

/// A sign-in under way, kept from the redirect to the provider until the
/// browser comes back (desk_logins, keyed by the digest of `state`).
struct PendingLogin {
  std::string nonce;
  std::string code_verifier;
  std::string return_to;
};

/// A person as the identity provider described them at sign-in.
struct Person {
  std::string subject; ///< the provider's `sub`
  std::string username;
  std::string display_name;
  std::string email;
  Role role = Role::agent;
};

/// A session in force.
struct Session {
  std::string id;
  Person person;
  std::string csrf_token;
};

/// What start_session() hands back once: the cookie's secret and the CSRF
/// token the console sends with every change.
struct NewSession {
  std::string id;
  std::string secret;
  std::string csrf_token;
};

void store_login(pqxx::connection& connection, std::string_view state, const PendingLogin& login);

/// The login `state` started, taken once (deleted), when younger than
/// `max_age`; nullopt otherwise. Logins older than max_age are deleted on
/// the way.
[[nodiscard]] std::optional<PendingLogin> take_login(pqxx::connection& connection, std::string_view state,
                                                     std::chrono::seconds max_age);

[[nodiscard]] NewSession start_session(pqxx::connection& connection, const Person& person,
                                       std::chrono::seconds lifetime);

/// The session whose cookie holds `secret`, when it has not ended, not
/// expired and was used within `idle`; using it moves its idle deadline.
/// nullopt otherwise, without a query when `secret` is not is_secret().
[[nodiscard]] std::optional<Session> use_session(pqxx::connection& connection, std::string_view secret,
                                                 std::chrono::seconds idle);

/// Ends the session holding `secret`; false when none was in force.
bool end_session(pqxx::connection& connection, std::string_view secret);

} // namespace fte::access
