#include "desk_live.hpp"

#include <deque>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "desk_store.hpp"
#include "fte/common/ids.hpp"

namespace fte::escalation::desk {
namespace {

namespace asio = boost::asio;

std::string sse(std::string_view event, const nlohmann::json& data) {
  return "event: " + std::string(event) + "\ndata: " + data.dump() + "\n\n";
}

std::string presence_event(const std::string& conversation, const std::vector<std::string>& people) {
  return sse("presence", {{"conversation", conversation}, {"people", people}});
}

class Receiver final : public pqxx::notification_receiver {
public:
  Receiver(pqxx::connection_base& connection, std::string_view channel,
           std::function<void(const std::string&)> on_payload)
      : pqxx::notification_receiver(connection, std::string(channel)), on_payload_(std::move(on_payload)) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override { on_payload_(payload); }

private:
  std::function<void(const std::string&)> on_payload_;
};

} // namespace

bool PresenceBoard::apply(const std::string& conversation, const std::string& person, const std::string& replica,
                          bool present, std::chrono::steady_clock::time_point now) {
  auto& here = seen_[conversation];
  const auto before = people(conversation);
  if (present) {
    here[{person, replica}] = now;
  } else {
    here.erase({person, replica});
  }
  if (here.empty()) seen_.erase(conversation);
  return people(conversation) != before;
}

std::vector<std::string> PresenceBoard::expire(std::chrono::steady_clock::time_point now) {
  std::vector<std::string> changed;
  for (auto it = seen_.begin(); it != seen_.end();) {
    const auto before = people(it->first);
    std::erase_if(it->second, [&](const auto& entry) { return now - entry.second > ttl_; });
    const auto id = it->first;
    if (it->second.empty()) {
      it = seen_.erase(it);
    } else {
      ++it;
    }
    if (people(id) != before) changed.push_back(id);
  }
  return changed;
}

std::vector<std::string> PresenceBoard::people(const std::string& conversation) const {
  std::set<std::string> names;
  if (const auto it = seen_.find(conversation); it != seen_.end()) {
    for (const auto& [who, at] : it->second)
      names.insert(who.first);
  }
  return {names.begin(), names.end()};
}

// One console: events waiting for it, and the timer its coroutine sleeps on
// (cancelled, on the connection's strand, when an event arrives).
class DeskLive::Subscriber {
public:
  Subscriber(asio::any_io_executor executor, std::string who, std::string open_conversation)
      : person(std::move(who)), conversation(std::move(open_conversation)), executor_(executor), timer_(executor) {}

  void push(std::string event) {
    {
      std::lock_guard lock(mutex_);
      if (events_.size() >= kBacklogLimit) {
        // A console that does not read: it reloads instead of getting
        // everything (the `resync` event says so).
        events_.clear();
        events_.push_back(sse("resync", nlohmann::json::object()));
      }
      events_.push_back(std::move(event));
    }
    asio::post(executor_, [self = weak_from_this_()] {
      if (auto s = self.lock()) s->timer_.cancel();
    });
  }

  asio::awaitable<std::deque<std::string>> next(std::chrono::seconds wait) {
    {
      std::lock_guard lock(mutex_);
      if (!events_.empty()) co_return std::exchange(events_, {});
    }
    timer_.expires_after(wait);
    boost::system::error_code ignored;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    std::lock_guard lock(mutex_);
    co_return std::exchange(events_, {});
  }

  void bind(const std::shared_ptr<Subscriber>& self) { self_ = self; }

  const std::string person;
  const std::string conversation;

private:
  static constexpr std::size_t kBacklogLimit = 256;
  std::weak_ptr<Subscriber> weak_from_this_() const { return self_; }

  asio::any_io_executor executor_;
  asio::steady_timer timer_;
  std::mutex mutex_;
  std::deque<std::string> events_;
  std::weak_ptr<Subscriber> self_;
};

DeskLive::DeskLive(std::string database_url, pg::ConnectionPool& database, Logger logger)
    : database_url_(std::move(database_url)), database_(database), logger_(std::move(logger)), replica_(random_uuid()) {
  listener_ = std::thread([this] { listen(); });
}

DeskLive::~DeskLive() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  listener_.join();
}

std::size_t DeskLive::connected() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

void DeskLive::deliver(const std::string& event, const std::string& only_conversation) {
  std::lock_guard lock(mutex_);
  for (const auto& s : subscribers_) {
    if (only_conversation.empty() || s->conversation == only_conversation) s->push(event);
  }
}

void DeskLive::announce(const std::string& conversation, const std::string& person, bool present) {
  try {
    auto connection = database_.acquire();
    pqxx::nontransaction tx(*connection);
    tx.exec_params(
        "SELECT pg_notify($1, $2)", std::string(kPresenceChannel),
        nlohmann::json{{"conversation", conversation}, {"person", person}, {"replica", replica_}, {"present", present}}
            .dump());
  } catch (const std::exception& e) {
    logger_.warn("could not announce presence", {{"error", e.what()}});
  }
}

void DeskLive::listen() {
  bool warned = false;
  auto next_announce = std::chrono::steady_clock::now();
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    try {
      pqxx::connection connection(database_url_);
      Receiver changes(connection, kDeskChannel, [this](const std::string& conversation) {
        deliver(sse("conversation", {{"id", conversation}}), {});
      });
      Receiver presence(connection, kPresenceChannel, [this](const std::string& payload) {
        const auto p = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
        if (!p.is_object() || !p.contains("conversation") || !p.contains("person")) return;
        const std::string conversation = p.value("conversation", ""), person = p.value("person", "");
        std::vector<std::string> people;
        {
          std::lock_guard lock(mutex_);
          if (!presence_.apply(conversation, person, p.value("replica", ""), p.value("present", false),
                               std::chrono::steady_clock::now())) {
            return;
          }
          people = presence_.people(conversation);
        }
        deliver(presence_event(conversation, people), conversation);
      });
      // Consoles connected while we were not listening may have missed
      // changes: tell them to read again.
      deliver(sse("resync", nlohmann::json::object()), {});
      if (warned) logger_.info("listening for desk changes again");
      warned = false;
      while (true) {
        connection.await_notification(0, 500'000);
        if (!connection.is_open()) throw std::runtime_error("the notification connection closed");
        const auto now = std::chrono::steady_clock::now();
        if (now < next_announce) continue;
        next_announce = now + std::chrono::seconds(30);
        // Announce this replica's viewers again (others forget after 75 s),
        // and forget the viewers of replicas that stopped announcing.
        std::set<std::pair<std::string, std::string>> here;
        std::vector<std::string> changed;
        {
          std::lock_guard lock(mutex_);
          if (stopping_) return;
          for (const auto& s : subscribers_) {
            if (!s->conversation.empty()) here.emplace(s->conversation, s->person);
          }
          changed = presence_.expire(now);
        }
        for (const auto& [conversation, person] : here)
          announce(conversation, person, true);
        for (const auto& conversation : changed) {
          std::vector<std::string> people;
          {
            std::lock_guard lock(mutex_);
            people = presence_.people(conversation);
          }
          deliver(presence_event(conversation, people), conversation);
        }
      }
    } catch (const std::exception& e) {
      if (!warned) logger_.warn("cannot listen for desk changes; consoles get no live updates", {{"error", e.what()}});
      warned = true;
      std::unique_lock lock(mutex_);
      stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  }
}

asio::awaitable<void> DeskLive::stream(http::StreamWriter& writer, std::string person, std::string conversation) {
  auto subscriber = std::make_shared<Subscriber>(writer.executor(), person, conversation);
  subscriber->bind(subscriber);
  std::vector<std::string> people;
  {
    std::lock_guard lock(mutex_);
    subscribers_.insert(subscriber);
    people = presence_.people(conversation);
  }
  // Whatever ends the stream (the client went, the service stops), the
  // console is forgotten and its presence withdrawn.
  struct Leave {
    DeskLive& live;
    std::shared_ptr<Subscriber> subscriber;
    ~Leave() {
      {
        std::lock_guard lock(live.mutex_);
        live.subscribers_.erase(subscriber);
      }
      if (!subscriber->conversation.empty()) live.announce(subscriber->conversation, subscriber->person, false);
    }
  } leave{*this, subscriber};
  if (!conversation.empty()) announce(conversation, person, true);

  http::Response head{http::Status::ok, 11};
  head.set(boost::beast::http::field::content_type, "text/event-stream; charset=utf-8");
  head.set(boost::beast::http::field::cache_control, "no-store");
  head.set("X-Accel-Buffering", "no");
  if (!co_await writer.begin(head)) co_return;
  std::string hello = "retry: 2000\n\n" + sse("ready", {{"person", person}});
  if (!conversation.empty()) hello += presence_event(conversation, people);
  if (!co_await writer.write(hello)) co_return;
  for (;;) {
    auto events = co_await subscriber->next(kHeartbeat);
    std::string out;
    for (auto& e : events)
      out += e;
    if (out.empty()) out = ": keep-alive\n\n";
    if (!co_await writer.write(out)) co_return;
  }
}

} // namespace fte::escalation::desk
