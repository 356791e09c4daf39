#include "fte/access/session_store.hpp"

#include "fte/common/ids.hpp"

namespace fte::access {

void store_login(pqxx::connection& connection, std::string_view state, const PendingLogin& login) {
  pqxx::work tx(connection);
  tx.exec_params("INSERT INTO desk_logins (state_digest, nonce, code_verifier, return_to) VALUES ($1, $2, $3, $4)",
                 sha256_hex(state), login.nonce, login.code_verifier, login.return_to);
  tx.commit();
}

std::optional<PendingLogin> take_login(pqxx::connection& connection, std::string_view state,
                                       std::chrono::seconds max_age) {
  pqxx::work tx(connection);
  tx.exec_params("DELETE FROM desk_logins WHERE created_at < clock_timestamp() - make_interval(secs => $1::bigint)",
                 static_cast<long long>(max_age.count()));
  const auto rows = tx.exec_params(
      "DELETE FROM desk_logins WHERE state_digest = $1 RETURNING nonce, code_verifier, return_to", sha256_hex(state));
  tx.commit();
  if (rows.empty()) return std::nullopt;
  return PendingLogin{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(), rows[0][2].as<std::string>()};
}

NewSession start_session(pqxx::connection& connection, const Person& person, std::chrono::seconds lifetime) {
  NewSession session{random_uuid(), new_secret(), new_secret()};
  pqxx::work tx(connection);
  tx.exec_params("INSERT INTO desk_sessions (id, digest, subject, username, display_name, email, role, csrf_token, "
                 "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                 "clock_timestamp() + make_interval(secs => $9::bigint))",
                 session.id, sha256_hex(session.secret), person.subject, person.username, person.display_name,
                 person.email, std::string(to_string(person.role)), session.csrf_token,
                 static_cast<long long>(lifetime.count()));
  tx.commit();
  return session;
}

std::optional<Session> use_session(pqxx::connection& connection, std::string_view secret, std::chrono::seconds idle) {
  if (!is_secret(secret)) return std::nullopt;
  pqxx::work tx(connection);
  const auto rows = tx.exec_params(
      "UPDATE desk_sessions SET last_seen_at = clock_timestamp() WHERE digest = $1 AND ended_at IS NULL "
      "AND expires_at > clock_timestamp() AND last_seen_at > clock_timestamp() - make_interval(secs => $2::bigint) "
      "RETURNING id::text, subject, username, display_name, email, role, csrf_token",
      sha256_hex(secret), static_cast<long long>(idle.count()));
  tx.commit();
  if (rows.empty()) return std::nullopt;
  const auto& row = rows[0];
  const auto role = parse_role(row[5].as<std::string>());
  if (!role) return std::nullopt; // the table's CHECK makes this unreachable
  return Session{
      row[0].as<std::string>(),
      {row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>(), row[4].as<std::string>(), *role},
      row[6].as<std::string>()};
}

bool end_session(pqxx::connection& connection, std::string_view secret) {
  if (!is_secret(secret)) return false;
  pqxx::work tx(connection);
  const auto rows =
      tx.exec_params("UPDATE desk_sessions SET ended_at = clock_timestamp() WHERE digest = $1 AND ended_at IS NULL",
                     sha256_hex(secret));
  tx.commit();
  return rows.affected_rows() > 0;
}

} // namespace fte::access
