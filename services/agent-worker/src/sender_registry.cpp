#include "sender_registry.hpp"

#include <algorithm>
#include <stdexcept>

namespace fte::agent {

void SenderRegistry::add(std::string channel, std::string provider, Factory factory,
                         std::optional<std::chrono::milliseconds> reconcile_delay) {
  if (std::find(kReplyChannels.begin(), kReplyChannels.end(), channel) == kReplyChannels.end()) {
    throw std::invalid_argument("no such reply channel: " + channel);
  }
  if (!factory) throw std::invalid_argument("a sender factory for " + channel + " is empty");
  entries_[std::move(channel)] = Entry{std::move(provider), std::move(factory), reconcile_delay};
}

bool SenderRegistry::serves(std::string_view channel) const { return entries_.find(channel) != entries_.end(); }

std::vector<std::string> SenderRegistry::channels() const {
  std::vector<std::string> result;
  for (const auto& [channel, entry] : entries_)
    result.push_back(channel);
  return result;
}

std::string SenderRegistry::provider(std::string_view channel) const {
  const auto it = entries_.find(channel);
  return it == entries_.end() ? std::string() : it->second.provider;
}

std::optional<std::chrono::milliseconds> SenderRegistry::reconcile_delay(std::string_view channel) const {
  const auto it = entries_.find(channel);
  return it == entries_.end() ? std::nullopt : it->second.reconcile_delay;
}

SenderSet SenderRegistry::instantiate() const {
  SenderSet senders;
  for (const auto& [channel, entry] : entries_)
    senders.emplace(channel, entry.factory());
  return senders;
}

} // namespace fte::agent
