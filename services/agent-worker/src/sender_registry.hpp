#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fte/replies/reply_sender.hpp"

namespace fte::agent {

/// Every channel a reply can go out on.
inline constexpr std::array<std::string_view, 3> kReplyChannels = {"whatsapp", "email", "webform"};

/// The senders of one dispatcher worker, by channel. A sender owns an HTTP
/// client, which belongs to one thread.
using SenderSet = std::map<std::string, std::unique_ptr<replies::ReplySender>, std::less<>>;

/// Which ReplySender serves each channel (whatsapp -> Twilio; email and
/// webform -> Gmail once configured). main() registers a factory per
/// configured channel; each dispatcher worker makes its own senders from
/// them. A channel with no sender keeps its replies pending: the dispatcher
/// does not claim them, says so once in its log and counts them.
class SenderRegistry {
public:
  using Factory = std::function<std::unique_ptr<replies::ReplySender>()>;

  /// `provider` names whose ids the sender returns ("twilio", "gmail"):
  /// delivery statuses are keyed by it. `reconcile_delay`, when given,
  /// replaces the dispatcher's FTE_REPLY_RECONCILE_DELAY_MS for this
  /// channel: how long after an ambiguous send the provider can be trusted
  /// to find the message (Gmail's search lags a send by minutes, so "not
  /// found" sooner proves nothing). A second registration for a channel
  /// replaces the first. @throws std::invalid_argument for an unknown channel
  void add(std::string channel, std::string provider, Factory factory,
           std::optional<std::chrono::milliseconds> reconcile_delay = std::nullopt);

  [[nodiscard]] bool serves(std::string_view channel) const;
  /// The channels with a sender, sorted.
  [[nodiscard]] std::vector<std::string> channels() const;
  /// The provider of `channel`'s sender, or empty.
  [[nodiscard]] std::string provider(std::string_view channel) const;
  /// The channel's own reconcile delay, if it registered one.
  [[nodiscard]] std::optional<std::chrono::milliseconds> reconcile_delay(std::string_view channel) const;
  /// One sender per served channel, for one worker thread.
  [[nodiscard]] SenderSet instantiate() const;

private:
  struct Entry {
    std::string provider;
    Factory factory;
    std::optional<std::chrono::milliseconds> reconcile_delay;
  };
  std::map<std::string, Entry, std::less<>> entries_;
};

} // namespace fte::agent
