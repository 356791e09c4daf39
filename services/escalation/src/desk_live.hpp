#pragma once

// Live updates for the desk's consoles (ADR 0021): GET /api/events is a
// server-sent event stream. Every desk change NOTIFYs `fte_desk` with the
// conversation's id in the transaction that makes it (desk_store.cpp), so
// an update reaches every replica's consoles only once it is committed.
// Presence (who has a conversation open) travels on `fte_desk_presence`,
// so people on different replicas see each other.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <condition_variable>

#include "fte/common/logging.hpp"
#include "fte/http/server.hpp"
#include "fte/pg/pool.hpp"

namespace fte::escalation::desk {

inline constexpr std::string_view kPresenceChannel = "fte_desk_presence";

/// Who has which conversation open, as announced on fte_desk_presence by
/// every replica; entries not announced again within `ttl` are forgotten
/// (a replica that died). A plain value, testable without a database.
class PresenceBoard {
public:
  explicit PresenceBoard(std::chrono::seconds ttl) : ttl_(ttl) {}
  /// Applies one announcement; returns whether the people of that
  /// conversation changed.
  bool apply(const std::string& conversation, const std::string& person, const std::string& replica, bool present,
             std::chrono::steady_clock::time_point now);
  /// Forgets what was not announced within the ttl; returns the
  /// conversations whose people changed.
  std::vector<std::string> expire(std::chrono::steady_clock::time_point now);
  [[nodiscard]] std::vector<std::string> people(const std::string& conversation) const;

private:
  std::chrono::seconds ttl_;
  // conversation -> (person, replica) -> last announced
  std::map<std::string, std::map<std::pair<std::string, std::string>, std::chrono::steady_clock::time_point>> seen_;
};

/// The server-sent events of one desk replica: a thread LISTENs for desk
/// changes and presence and hands them to the connected consoles.
class DeskLive {
public:
  DeskLive(std::string database_url, pg::ConnectionPool& database, Logger logger);
  ~DeskLive();
  DeskLive(const DeskLive&) = delete;
  DeskLive& operator=(const DeskLive&) = delete;

  /// Streams events to one console until it goes: `conversation` (a
  /// uuid, or empty) is the one the person has open, for presence.
  boost::asio::awaitable<void> stream(http::StreamWriter& writer, std::string person, std::string conversation);

  /// Consoles connected to this replica.
  [[nodiscard]] std::size_t connected() const;

  /// How often a console with nothing to hear gets a comment line (so
  /// proxies and the client see the connection alive).
  static constexpr std::chrono::seconds kHeartbeat{15};

private:
  class Subscriber;
  void listen();
  void announce(const std::string& conversation, const std::string& person, bool present);
  void deliver(const std::string& event, const std::string& only_conversation);

  std::string database_url_;
  pg::ConnectionPool& database_;
  Logger logger_;
  std::string replica_; ///< a random id: whose announcements are whose
  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::set<std::shared_ptr<Subscriber>> subscribers_;
  PresenceBoard presence_{std::chrono::seconds(75)};
  std::thread listener_;
};

} // namespace fte::escalation::desk
