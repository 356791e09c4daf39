#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace fte::pg {

/// No connection became free within the wait.
class PoolTimeout : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A fixed-size set of PostgreSQL connections shared by a service's worker
/// threads (a pqxx::connection is not thread-safe; each lease is used by one
/// thread at a time). Connections are opened lazily and a broken one is
/// replaced on its next lease, so a database restart heals by itself.
class ConnectionPool {
public:
  /// Runs on every new connection before its first lease, e.g. to declare
  /// prepared statements (a replaced connection gets them again).
  using ConnectionInit = std::function<void(pqxx::connection&)>;

  ConnectionPool(std::string url, std::size_t size, ConnectionInit init = nullptr);

  class Lease {
  public:
    Lease(ConnectionPool& pool, std::unique_ptr<pqxx::connection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    pqxx::connection& operator*() const noexcept { return *connection_; }
    pqxx::connection* operator->() const noexcept { return connection_.get(); }

  private:
    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
  };

  /// Waits up to `wait` for a connection; opens one if the slot is empty or
  /// its connection broke. @throws PoolTimeout, pqxx::broken_connection
  Lease acquire(std::chrono::milliseconds wait = std::chrono::seconds(5));

  [[nodiscard]] const std::string& url() const noexcept { return url_; }

private:
  void give_back(std::unique_ptr<pqxx::connection> connection);

  std::string url_;
  ConnectionInit init_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_; ///< null entries are free slots without a connection
};

/// True for errors where the same transaction may succeed if tried again:
/// a lost connection, a serialization failure or deadlock, an unknown commit
/// outcome (safe because effects are deduplicated), a pool timeout, the
/// server shutting down or out of resources.
[[nodiscard]] bool is_transient(const std::exception& error) noexcept;

/// True when the database itself cannot be used right now (connection lost
/// or refused, server shutting down or starting, pool exhausted, commit
/// outcome unknown): no record is at fault, so a consumer waits rather than
/// using up attempts.
[[nodiscard]] bool is_unavailable(const std::exception& error) noexcept;

/// True for errors that the same input will always raise: a violated
/// constraint (SQLSTATE class 23), bad data (22), a statement the server
/// rejects (42). A consumer sends such a record to the DLQ at once.
[[nodiscard]] bool is_permanent(const std::exception& error) noexcept;

/// The SQLSTATE of a server error, or empty.
[[nodiscard]] std::string sqlstate_of(const std::exception& error);

} // namespace fte::pg
