#include "fte/pg/pool.hpp"

namespace fte::pg {

ConnectionPool::ConnectionPool(std::string url, std::size_t size, ConnectionInit init)
    : url_(std::move(url)), init_(std::move(init)) {
  idle_.resize(size == 0 ? 1 : size);
}

ConnectionPool::Lease::~Lease() {
  // A broken connection goes back too: acquire() replaces it.
  if (pool_ != nullptr) {
    pool_->give_back(std::move(connection_));
  }
}

ConnectionPool::Lease ConnectionPool::acquire(std::chrono::milliseconds wait) {
  std::unique_ptr<pqxx::connection> connection;
  {
    std::unique_lock lock(mutex_);
    if (!available_.wait_for(lock, wait, [this] { return !idle_.empty(); })) {
      throw PoolTimeout("no database connection free within " + std::to_string(wait.count()) + " ms");
    }
    connection = std::move(idle_.back());
    idle_.pop_back();
  }
  if (!connection || !connection->is_open()) {
    try {
      connection = std::make_unique<pqxx::connection>(url_);
      if (init_) init_(*connection);
    } catch (...) {
      give_back(nullptr); // keep the slot
      throw;
    }
  }
  return Lease(*this, std::move(connection));
}

void ConnectionPool::give_back(std::unique_ptr<pqxx::connection> connection) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

std::string sqlstate_of(const std::exception& error) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    return sql->sqlstate();
  }
  return {};
}

bool is_unavailable(const std::exception& error) noexcept {
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr ||
      dynamic_cast<const PoolTimeout*>(&error) != nullptr) {
    return true;
  }
  try {
    const std::string state = sqlstate_of(error);
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot
    // connect now; 53: insufficient resources.
    return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03" ||
           state.starts_with("53");
  } catch (...) {
    return false;
  }
}

bool is_transient(const std::exception& error) noexcept {
  return is_unavailable(error) || dynamic_cast<const pqxx::serialization_failure*>(&error) != nullptr ||
         dynamic_cast<const pqxx::deadlock_detected*>(&error) != nullptr ||
         dynamic_cast<const pqxx::statement_completion_unknown*>(&error) != nullptr ||
         dynamic_cast<const pqxx::insufficient_resources*>(&error) != nullptr;
}

bool is_permanent(const std::exception& error) noexcept {
  if (is_transient(error)) return false;
  try {
    const std::string state = sqlstate_of(error);
    return state.starts_with("22") || state.starts_with("23") || state.starts_with("42");
  } catch (...) {
    return false;
  }
}

} // namespace fte::pg
