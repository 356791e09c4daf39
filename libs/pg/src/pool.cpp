#include "fte/pg/pool.hpp"

namespace fte::pg {

ConnectionPool::ConnectionPool(std::string url, std::size_t size) : url_(std::move(url)) {
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

bool is_transient(const std::exception& error) noexcept {
  return dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr ||
         dynamic_cast<const pqxx::serialization_failure*>(&error) != nullptr ||
         dynamic_cast<const pqxx::deadlock_detected*>(&error) != nullptr ||
         dynamic_cast<const pqxx::statement_completion_unknown*>(&error) != nullptr ||
         dynamic_cast<const pqxx::insufficient_resources*>(&error) != nullptr ||
         dynamic_cast<const PoolTimeout*>(&error) != nullptr;
}

} // namespace fte::pg
