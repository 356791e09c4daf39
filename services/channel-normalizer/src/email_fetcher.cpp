#include "email_fetcher.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/identity/identifier.hpp"
#include "fte/kafka/backoff.hpp"
#include "fte/mail/mail.hpp"

namespace fte::normalizer {
namespace {

using std::chrono::system_clock;

// The ticket message schema's limits, in characters.
constexpr std::size_t kBodyLimit = 100'000;
constexpr std::size_t kSubjectLimit = 1000;
constexpr std::size_t kDisplayNameLimit = 200;
constexpr std::size_t kAddressLimit = 320;

// Valid UTF-8 of at most `max_chars` code points. Unlike truncate_utf8
// (common/text.hpp), which trusts its input, this repairs it: an email's
// bytes are the outside world's, and JSON serialisation refuses invalid
// UTF-8, which would fail the batch for good. Invalid sequences become U+FFFD.
std::string clean_utf8(std::string_view text, std::size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars * 4));
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < text.size() && chars < max_chars) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t min = 0;
    if (c < 0x80) {
      length = 1;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, min = 0x10000;
    }
    bool valid = length > 0 && i + length <= text.size();
    std::uint32_t code = length == 1 ? c : (c & (0x7F >> length));
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    valid = valid && code >= min && code <= 0x10FFFF && (code < 0xD800 || code > 0xDFFF);
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
    ++chars;
  }
  return out;
}

std::string lower_ascii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c); });
  return text;
}

bool has_label(const std::vector<std::string>& labels, std::string_view label) {
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

// Labels that mean "not a customer's new message", whatever the watch's
// filter promised: our own replies and drafts arrive in history too.
std::optional<std::string> skipped_label(const std::vector<std::string>& labels) {
  for (const char* label : {"SENT", "DRAFT", "SPAM", "TRASH", "CHAT"})
    if (has_label(labels, label)) return std::string("label ") + label;
  return std::nullopt;
}

system_clock::time_point from_millis(std::int64_t ms) {
  return system_clock::time_point(std::chrono::milliseconds(ms));
}

std::int64_t unix_seconds(system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

nlohmann::json address_list(const std::vector<mail::Address>& addresses) {
  auto list = nlohmann::json::array();
  for (const auto& a : addresses)
    if (!a.address.empty()) list.push_back(clean_utf8(a.address, kAddressLimit));
  return list;
}

// A message to consider: where history named it (record 0 in a backfill).
struct Candidate {
  std::uint64_t record_id = 0;
  gmail::MessageRef message;
};

} // namespace

class EmailFetcher::ApiPool {
public:
  ApiPool(gmail::GmailApiOptions options, std::shared_ptr<gmail::TokenSource> tokens)
      : options_(std::move(options)), tokens_(std::move(tokens)) {}

  // A client for one fetch; returned to the pool when the lease ends.
  class Lease {
  public:
    Lease(ApiPool& pool, std::unique_ptr<gmail::GmailApi> api) : pool_(pool), api_(std::move(api)) {}
    ~Lease() { pool_.give_back(std::move(api_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    gmail::GmailApi& operator*() const { return *api_; }
    gmail::GmailApi* operator->() const { return api_.get(); }

  private:
    ApiPool& pool_;
    std::unique_ptr<gmail::GmailApi> api_;
  };

  Lease lease() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto api = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(api));
      }
    }
    return Lease(*this, std::make_unique<gmail::GmailApi>(options_, tokens_));
  }

private:
  void give_back(std::unique_ptr<gmail::GmailApi> api) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(api));
  }

  gmail::GmailApiOptions options_;
  std::shared_ptr<gmail::TokenSource> tokens_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<gmail::GmailApi>> idle_;
};

struct EmailFetcher::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : calls(prometheus::BuildCounter()
                  .Name("fte_gmail_api_calls_total")
                  .Help("Gmail API requests made by the fetch (401 retries included)")
                  .Register(registry)
                  .Add({})),
        messages(prometheus::BuildCounter()
                     .Name("fte_gmail_messages_total")
                     .Help("Gmail messages the fetch decided about, by outcome (ticket, skipped, missing, vanished)")
                     .Register(registry)),
        backfills(prometheus::BuildCounter()
                      .Name("fte_gmail_backfills_total")
                      .Help("Backfills by messages.list, by reason (stale_cursor, no_cursor)")
                      .Register(registry)),
        backfill_truncated(prometheus::BuildCounter()
                               .Name("fte_gmail_backfill_truncated_total")
                               .Help("Backfills that reached FTE_GMAIL_BACKFILL_MAX_MESSAGES: older mail not fetched")
                               .Register(registry)
                               .Add({})) {}
  prometheus::Counter& calls;
  prometheus::Family<prometheus::Counter>& messages;
  prometheus::Family<prometheus::Counter>& backfills;
  prometheus::Counter& backfill_truncated;
};

EmailFetcherOptions EmailFetcherOptions::from_env(const Environment& env) {
  EmailFetcherOptions options;
  options.backfill_max_messages =
      static_cast<std::size_t>(env.get_int("FTE_GMAIL_BACKFILL_MAX_MESSAGES", 500, 1, 100'000));
  options.max_attempts = kafka::RetryPolicy::from_env(env).max_attempts;
  return options;
}

EmailFetcher::EmailFetcher(EmailFetcherOptions options, gmail::GmailApiOptions api_options,
                           std::shared_ptr<gmail::TokenSource> tokens, Logger logger,
                           const std::shared_ptr<prometheus::Registry>& metrics)
    : options_(options), logger_(std::move(logger)),
      apis_(std::make_unique<ApiPool>(std::move(api_options), std::move(tokens))),
      metrics_(metrics ? std::make_unique<Metrics>(*metrics) : nullptr) {}

EmailFetcher::~EmailFetcher() = default;

EmailNotification EmailFetcher::notification_of(const kafka::Delivery& delivery) {
  const auto& data = delivery.event.data;
  EmailNotification notification;
  notification.cause = &delivery.event;
  notification.event_id = delivery.event.id;
  notification.mailbox = lower_ascii(events::string_field(data, "email_address"));
  const auto history_id = gmail::parse_decimal_id(events::string_field(data, "history_id"));
  if (notification.mailbox.empty() || !history_id) {
    throw kafka::PoisonError("email notification without email_address or a decimal history_id");
  }
  notification.history_id = *history_id;
  notification.received_at = events::string_field(data, "received_at");
  if (!parse_rfc3339(notification.received_at)) notification.received_at = format_rfc3339(system_clock::now());
  notification.source_topic = delivery.record.topic;
  notification.attempt = delivery.attempt;
  return notification;
}

std::vector<InboundMessage> EmailFetcher::fetch(MailboxStore& store, const std::string& mailbox,
                                                std::span<const EmailNotification> notifications) const {
  if (notifications.empty()) return {};
  const auto& trigger = notifications.back();
  int attempt = 0;
  for (const auto& n : notifications)
    attempt = std::max(attempt, n.attempt);
  const bool last_attempt = attempt >= options_.max_attempts;
  const auto log = logger_.with({{"mailbox", mailbox}, {"event_id", trigger.event_id}});
  auto api = apis_->lease();
  const auto calls_before = api->calls();
  // Whatever happens, the calls made count ("API calls per message").
  struct CountCalls {
    const Metrics* metrics;
    const gmail::GmailApi& api;
    std::uint64_t before;
    ~CountCalls() {
      if (metrics) metrics->calls.Increment(static_cast<double>(api.calls() - before));
    }
  } count_calls{metrics_.get(), *api, calls_before};

  try {
    const auto cursor = store.lock(mailbox);
    std::vector<Candidate> candidates;
    bool backfill = false;
    std::uint64_t backfill_history_id = 0;

    const auto run_backfill = [&](system_clock::time_point since, const char* reason) {
      backfill = true;
      // The history id to continue from is read before the listing: any
      // message added later has a history record after it, so nothing falls
      // between the backfill and the next history.list (overlap is deduplicated).
      backfill_history_id = api->get_profile(mailbox).history_id;
      const auto after = unix_seconds(since - options_.backfill_overlap);
      const auto list = api->list_messages(mailbox, "after:" + std::to_string(std::max<std::int64_t>(after, 0)),
                                           options_.backfill_max_messages);
      if (metrics_) metrics_->backfills.Add({{"reason", reason}}).Increment();
      log.warn("Gmail backfill by date", {{"reason", reason},
                                          {"after", format_rfc3339(since - options_.backfill_overlap)},
                                          {"listed", list.messages.size()},
                                          {"truncated", list.truncated}});
      if (list.truncated) {
        if (metrics_) metrics_->backfill_truncated.Increment();
        log.error("Gmail backfill reached FTE_GMAIL_BACKFILL_MAX_MESSAGES: the newest messages are fetched, "
                  "older ones since the cursor was lost are not",
                  {{"max", options_.backfill_max_messages}});
      }
      // Oldest first, as history would have given them.
      for (auto it = list.messages.rbegin(); it != list.messages.rend(); ++it)
        candidates.push_back({0, *it});
    };

    if (!cursor.history_id) {
      // No cursor: `fte gmail watch` did not record this mailbox (or a
      // backfill must be repeated). Mail from shortly before this push on.
      const auto since = cursor.last_message_internal_date.value_or(
          parse_rfc3339(trigger.received_at).value_or(system_clock::now()) - options_.first_backfill_window);
      run_backfill(since, "no_cursor");
    } else {
      auto history = api->list_history(mailbox, *cursor.history_id);
      if (std::holds_alternative<gmail::StaleHistory>(history)) {
        const auto since =
            cursor.last_message_internal_date.value_or(system_clock::now() - options_.first_backfill_window);
        run_backfill(since, "stale_cursor");
      } else {
        for (auto& added : std::get<gmail::History>(history).added)
          candidates.push_back({added.record_id, std::move(added.message)});
      }
    }

    std::vector<std::string> ids;
    std::set<std::string> unique_ids;
    for (const auto& c : candidates)
      if (unique_ids.insert(c.message.id).second) ids.push_back(c.message.id);
    const auto known = store.known(mailbox, ids);

    std::vector<InboundMessage> emails;
    std::vector<SeenMessage> seen;
    std::set<std::string> decided;
    std::optional<std::uint64_t> hold_record; // the first record that must be read again
    bool hold = false;
    std::uint64_t max_record = cursor.history_id.value_or(0);
    std::optional<system_clock::time_point> newest = cursor.last_message_internal_date;
    const auto note_date = [&](system_clock::time_point at) { newest = newest ? std::max(*newest, at) : at; };

    for (const auto& candidate : candidates) {
      const auto& ref = candidate.message;
      if (!hold) max_record = std::max(max_record, candidate.record_id);
      if (known.settled.contains(ref.id) || !decided.insert(ref.id).second) continue;
      SeenMessage record{ref.id, ref.thread_id, std::nullopt, SeenMessage::Outcome::skipped, {}, {}};
      // History's labels already show our own replies and drafts: no fetch.
      if (auto label = skipped_label(ref.label_ids);
          label && (has_label(ref.label_ids, "SENT") || has_label(ref.label_ids, "DRAFT"))) {
        record.detail = *label;
        seen.push_back(std::move(record));
        continue;
      }
      std::optional<gmail::RawMessage> raw;
      try {
        raw = api->get_raw_message(mailbox, ref.id);
      } catch (const gmail::ApiError& e) {
        // An answer we cannot read for one message: retried like any
        // failure, but on the last attempt set aside, so that one odd
        // message cannot hold up the mailbox for good.
        if (e.reason() != "unreadable_answer") throw;
        if (!last_attempt) throw std::runtime_error(e.what());
        record.detail = clean_utf8(std::string("unreadable Gmail answer: ") + e.what(), 500);
        log.error("Gmail message skipped: its answer could not be read", {{"gmail_message_id", ref.id}});
        seen.push_back(std::move(record));
        continue;
      }
      if (!raw) {
        const auto missing = known.missing_since.find(ref.id);
        if (missing != known.missing_since.end() &&
            system_clock::now() - missing->second >= options_.give_up_missing_after) {
          record.outcome = SeenMessage::Outcome::vanished;
          record.detail = "listed by Gmail but not served since " + format_rfc3339(missing->second);
          log.warn("Gmail message given up: deleted before it could be read", {{"gmail_message_id", ref.id}});
          seen.push_back(std::move(record));
          continue;
        }
        if (!last_attempt) {
          throw MessageNotVisible("Gmail lists message " + ref.id + " of " + mailbox +
                                  " but does not serve it yet (a push ahead of the message); retrying");
        }
        // Out of attempts for this notification: commit the rest, keep the
        // cursor before this message, and read it again at the next push.
        record.outcome = SeenMessage::Outcome::missing;
        record.detail = "not served yet";
        log.warn("Gmail message not served yet; the cursor waits before it", {{"gmail_message_id", ref.id}});
        seen.push_back(std::move(record));
        if (!hold) {
          hold = true;
          hold_record = candidate.record_id;
        }
        continue;
      }
      record.thread_id = raw->thread_id.empty() ? ref.thread_id : raw->thread_id;
      record.internal_date = from_millis(raw->internal_date_ms);
      note_date(*record.internal_date);
      if (auto label = skipped_label(raw->label_ids)) {
        record.detail = *label;
        seen.push_back(std::move(record));
        continue;
      }
      auto parsed = mail::parse_email(raw->rfc822);
      if (const auto* error = std::get_if<mail::ParseError>(&parsed)) {
        record.detail = clean_utf8("unparseable: " + error->message, 500);
        log.warn("Gmail message skipped: not a parseable email",
                 {{"gmail_message_id", ref.id}, {"error", record.detail}});
        seen.push_back(std::move(record));
        continue;
      }
      auto& email = std::get<mail::ParsedEmail>(parsed);
      // The customer is found by this address (ADR 0011): it must be one
      // customer_identifiers accepts, or the whole batch would fail on the
      // table's CHECK, for good, holding up every later mail of the mailbox.
      // Non-ASCII addresses are set aside too: PostgreSQL's lower() and
      // ASCII folding disagree on them.
      const auto normalised = identity::normalize_email(email.from.address);
      const auto from = normalised.value_or("");
      const bool ascii =
          std::all_of(from.begin(), from.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
      if (!normalised) {
        record.detail = clean_utf8("no usable From address: '" + email.from.address + "'", 500);
      } else if (!ascii) {
        record.detail =
            clean_utf8("non-ASCII From address '" + from + "' (not supported as a customer identifier)", 500);
        log.warn("Gmail message skipped: its From address is not ASCII", {{"gmail_message_id", ref.id}});
      } else if (from == mailbox) {
        record.detail = "from the mailbox itself";
      } else if (email.auto_submitted) {
        record.detail = "auto-submitted"; // auto-replies and bulk mail: answering them loops
      }
      if (!record.detail.empty()) {
        seen.push_back(std::move(record));
        continue;
      }

      InboundMessage message;
      message.cause = trigger.cause;
      message.source_topic = trigger.source_topic;
      message.id = event_id_from_provider("gmail", mailbox + ":" + ref.id);
      message.channel = "email";
      message.sender = Sender{identity::IdentifierKind::email, from, clean_utf8(email.from.name, kDisplayNameLimit)};
      nlohmann::json metadata = {{"provider", "gmail"},
                                 {"mailbox", mailbox},
                                 {"gmail_message_id", ref.id},
                                 {"thread_id", record.thread_id},
                                 {"message_id_header", clean_utf8(email.message_id, 1000)},
                                 {"to", address_list(email.to)},
                                 {"internal_date", format_rfc3339(*record.internal_date)}};
      if (!email.in_reply_to.empty()) metadata["in_reply_to"] = clean_utf8(email.in_reply_to, 1000);
      if (!email.references.empty()) {
        auto references = nlohmann::json::array();
        for (const auto& r : email.references)
          references.push_back(clean_utf8(r, 1000));
        metadata["references"] = references;
      }
      if (!email.cc.empty()) metadata["cc"] = address_list(email.cc);
      if (!email.attachments.empty()) {
        // Not the ticket's `attachments` (those need a URL to fetch from):
        // what the mail carried, for people reading the ticket.
        auto attachments = nlohmann::json::array();
        for (const auto& a : email.attachments)
          attachments.push_back({{"filename", clean_utf8(a.filename, 255)},
                                 {"content_type", clean_utf8(a.content_type, 255)},
                                 {"size", a.size}});
        metadata["attachments"] = attachments;
      }
      message.fields = {{"body", clean_utf8(email.text, kBodyLimit)},
                        {"received_at", trigger.received_at},
                        {"channel_metadata", metadata}};
      if (!email.subject.empty()) message.fields["subject"] = clean_utf8(email.subject, kSubjectLimit);
      record.outcome = SeenMessage::Outcome::ticket;
      record.event_id = message.id->str();
      seen.push_back(std::move(record));
      emails.push_back(std::move(message));
    }

    MailboxCursor next = cursor;
    if (backfill) {
      // A message the backfill could not read keeps the mailbox in
      // backfill mode: the next push lists it again.
      if (!hold) next.history_id = backfill_history_id;
    } else if (hold) {
      // Up to the last record before the held one: history.list answers
      // records after its start id, so the held record comes again.
      std::uint64_t before = cursor.history_id.value_or(0);
      for (const auto& c : candidates)
        if (c.record_id < *hold_record) before = std::max(before, c.record_id);
      next.history_id = before;
    } else {
      next.history_id = max_record;
    }
    if (!hold) next.last_message_internal_date = newest;

    store.record(mailbox, seen);
    store.save(mailbox, next);
    if (metrics_) {
      for (const auto& s : seen)
        metrics_->messages.Add({{"outcome", to_string(s.outcome)}}).Increment();
    }
    log.debug("Gmail fetch done", {{"candidates", candidates.size()},
                                   {"tickets", emails.size()},
                                   {"decided", seen.size()},
                                   {"history_id", next.history_id ? std::to_string(*next.history_id) : ""}});
    return emails;
  } catch (const gmail::ApiError& e) {
    if (e.retryable()) throw kafka::UnavailableError(std::string("Gmail unavailable: ") + e.what());
    throw kafka::PoisonError(std::string("Gmail refused: ") + e.what());
  }
}

} // namespace fte::normalizer
