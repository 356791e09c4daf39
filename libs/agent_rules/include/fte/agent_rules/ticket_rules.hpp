#pragma once

#include <map>
#include <string>
#include <string_view>

namespace fte::agent {

/// Which ticket a message belongs to (issue 15, item 5), as a plain rule:
/// a web-form submission is a new case, always; a chat or mail message
/// continues its conversation's open ticket, if it has one; an escalated
/// ticket is no longer open, so the conversation's next message starts
/// another; an answered one stays open for the follow-up.
///
/// Seeded with the open tickets the database knows, then told each
/// decision in offset order, so a batch decides as its messages would one
/// at a time.
class TicketContinuation {
public:
  /// `open`: conversation id -> its open ticket (status open or answered).
  explicit TicketContinuation(std::map<std::string, std::string> open = {}) : open_(std::move(open)) {}

  /// The ticket the message continues, or empty: it opens a new one.
  [[nodiscard]] std::string continues(std::string_view channel, const std::string& conversation) const {
    if (channel == "webform") return {};
    const auto it = open_.find(conversation);
    return it == open_.end() ? std::string() : it->second;
  }

  /// What the message's decision did to its ticket.
  void decided(const std::string& conversation, const std::string& ticket, bool escalated) {
    if (escalated) {
      open_.erase(conversation);
    } else {
      open_[conversation] = ticket;
    }
  }

private:
  std::map<std::string, std::string> open_;
};

} // namespace fte::agent
