#pragma once

#include <functional>

#include "fte/runtime/service.hpp"

namespace fte::normalizer {

/// Keeps every Gmail watch recorded in gmail_mailboxes alive: a pass at
/// start and then hourly renews the watches that lapse within 24 hours
/// (Gmail stops pushing after 7 days otherwise). Only when Gmail API access
/// is configured; the topic is FTE_GMAIL_PUBSUB_TOPIC, else the one `fte
/// gmail watch` recorded. Returns the action that stops it (empty when
/// Gmail is not configured). @throws ConfigError
[[nodiscard]] std::function<void()> start_watch_renewal(runtime::Service& service, const std::string& database_url);

} // namespace fte::normalizer
