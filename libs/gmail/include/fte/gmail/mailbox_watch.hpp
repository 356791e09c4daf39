#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "fte/common/logging.hpp"
#include "fte/gmail/gmail_api.hpp"

namespace fte::gmail {

/// A users.watch as fte asks for it.
struct WatchRequest {
  std::string mailbox;                ///< lower case
  std::string topic;                  ///< projects/P/topics/T
  std::vector<std::string> label_ids; ///< empty: every change
};

/// Starts or renews the mailbox's watch, then records it in gmail_mailboxes.
/// A mailbox fte has not read before gets its cursor at the watch's
/// historyId, so every message that arrives after this call is fetched; an
/// existing cursor is left where it is. @throws ApiError, pqxx errors
WatchResult start_watch(GmailApi& api, pqxx::connection& database, const WatchRequest& request);

struct RenewalReport {
  int renewed = 0;
  int failed = 0;
};

/// Renews every watch recorded in gmail_mailboxes that lapses within
/// `horizon`, on `topic` when given (FTE_GMAIL_PUBSUB_TOPIC), else on the
/// topic recorded. Several replicas may run this at once: each mailbox is
/// claimed with SKIP LOCKED, so it is renewed once. A mailbox that fails is
/// logged and counted; the others go on. Never throws for one mailbox's API
/// error; a database error is thrown.
RenewalReport renew_expiring_watches(GmailApi& api, pqxx::connection& database, std::string_view topic,
                                     std::chrono::hours horizon, const Logger& logger);

} // namespace fte::gmail
