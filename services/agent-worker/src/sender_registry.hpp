#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
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
  /// delivery statuses are keyed by it. A second registration for a channel
  /// replaces the first. @throws std::invalid_argument for an unknown channel
  void add(std::string channel, std::string provider, Factory factory);

  [[nodiscard]] bool serves(std::string_view channel) const;
  /// The channels with a sender, sorted.
  [[nodiscard]] std::vector<std::string> channels() const;
  /// The provider of `channel`'s sender, or empty.
  [[nodiscard]] std::string provider(std::string_view channel) const;
  /// One sender per served channel, for one worker thread.
  [[nodiscard]] SenderSet instantiate() const;

private:
  struct Entry {
    std::string provider;
    Factory factory;
  };
  std::map<std::string, Entry, std::less<>> entries_;
};

} // namespace fte::agent
