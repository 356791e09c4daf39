#include "selection.hpp"

#include <charconv>
#include <cstdio>
#include <iostream>
#include <pwd.h>
#include <unistd.h>

#include "commands.hpp"
#include "fte/common/ids.hpp"
#include "fte/common/text.hpp"
#include "fte/common/time.hpp"
#include "fte/identity/identifier.hpp"
#include "fte/kafka/topics.hpp"

namespace fte::cli {
namespace {

template <class Int> std::optional<Int> to_int(std::string_view text) {
  Int value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

} // namespace

std::chrono::system_clock::time_point parse_time_arg(std::string_view text, std::string_view flag,
                                                     std::chrono::system_clock::time_point now) {
  const auto trimmed = trim(text);
  if (trimmed == "now") return now;
  if (auto at = parse_rfc3339(trimmed)) return *at;
  std::string_view amount = trimmed;
  if (!amount.empty() && amount.front() == '-') amount.remove_prefix(1);
  if (amount.size() >= 2) {
    const char unit = amount.back();
    const auto count = to_int<std::int64_t>(amount.substr(0, amount.size() - 1));
    std::optional<std::chrono::seconds> per_unit;
    switch (unit) {
    case 's': per_unit = std::chrono::seconds(1); break;
    case 'm': per_unit = std::chrono::minutes(1); break;
    case 'h': per_unit = std::chrono::hours(1); break;
    case 'd': per_unit = std::chrono::hours(24); break;
    default: break;
    }
    // Ten years back is the furthest a topic's retention could reach.
    if (count && per_unit && *count >= 0 && *count <= 3650L * 86400) return now - *count * *per_unit;
  }
  throw UsageError(std::string(flag) + " '" + std::string(text) +
                   "' is neither RFC 3339 (2026-11-24T09:00:00Z) nor relative (now, -90s, -30m, -2h, -7d)");
}

TimeRange parse_time_range(std::string_view from, std::string_view to, std::chrono::system_clock::time_point now) {
  TimeRange range;
  if (!from.empty()) range.from = parse_time_arg(from, "--from", now);
  if (!to.empty()) range.to = parse_time_arg(to, "--to", now);
  if (range.from && range.to && *range.from > *range.to) {
    throw UsageError("the time range is inverted: --from " + format_rfc3339(*range.from) + " is after --to " +
                     format_rfc3339(*range.to));
  }
  return range;
}

std::vector<OffsetRange> parse_offset_ranges(std::string_view text) {
  std::vector<OffsetRange> ranges;
  const auto bad = [&](std::string_view part) {
    return UsageError("--offsets '" + std::string(part) +
                      "' is not PARTITION:FIRST-LAST, PARTITION:FIRST- or PARTITION:OFFSET (comma-separated)");
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto part =
        trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    start = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    if (part.empty()) continue;
    const auto colon = part.find(':');
    if (colon == std::string_view::npos) throw bad(part);
    const auto partition = to_int<std::int32_t>(part.substr(0, colon));
    const auto span = part.substr(colon + 1);
    const auto dash = span.find('-');
    OffsetRange range;
    if (!partition || *partition < 0) throw bad(part);
    range.partition = *partition;
    const auto first = to_int<std::int64_t>(dash == std::string_view::npos ? span : span.substr(0, dash));
    if (!first || *first < 0) throw bad(part);
    range.first = *first;
    if (dash == std::string_view::npos) {
      range.last = *first;
    } else if (dash + 1 < span.size()) {
      const auto last = to_int<std::int64_t>(span.substr(dash + 1));
      if (!last || *last < *first) throw bad(part);
      range.last = *last;
    }
    ranges.push_back(range);
  }
  if (ranges.empty()) throw bad(text);
  return ranges;
}

std::vector<std::string> CustomerKeys::all_keys() const {
  std::vector<std::string> keys{customer_id};
  keys.insert(keys.end(), emails.begin(), emails.end());
  keys.insert(keys.end(), phones.begin(), phones.end());
  return keys;
}

std::vector<std::string> CustomerKeys::keys_for(std::string_view contract_topic) const {
  // The channel topics are keyed by what the gateway knows (ARCHITECTURE.md,
  // Topics); the DLQ keeps each record's original key, so it may hold any.
  if (contract_topic == kafka::topics::kWebformInbound || contract_topic == kafka::topics::kEmailInbound) return emails;
  if (contract_topic == kafka::topics::kWhatsappInbound) return phones;
  if (contract_topic == kafka::topics::kDlq) return all_keys();
  return {customer_id};
}

CustomerKeys resolve_customer(pqxx::connection& connection, std::string_view id_or_identifier) {
  const std::string text(trim(id_or_identifier));
  std::optional<std::string> customer_id;
  pqxx::read_transaction tx(connection);
  if (is_uuid(text)) {
    const auto rows = tx.exec_params("SELECT id::text FROM customers WHERE id = $1::uuid", text);
    if (rows.empty()) throw UsageError("no customer has the id " + text);
    customer_id = rows[0][0].as<std::string>();
  } else {
    const auto kind =
        text.find('@') != std::string::npos ? identity::IdentifierKind::email : identity::IdentifierKind::phone;
    const auto identifier = identity::make_identifier(kind, text);
    if (!identifier) {
      throw UsageError("--customer '" + text +
                       "' is neither a customer id (UUID), an email address nor a phone number in international "
                       "form (+ and the country code)");
    }
    // WhatsApp numbers are stored as phones (ADR 0011).
    const auto rows =
        tx.exec_params("SELECT customer_id::text FROM customer_identifiers WHERE kind = $1 AND value = $2 LIMIT 1",
                       std::string(identity::to_string(identifier->kind)), identifier->value);
    if (rows.empty()) throw UsageError("no customer has the " + std::string(identity::to_string(kind)) + " " + text);
    customer_id = rows[0][0].as<std::string>();
  }
  CustomerKeys keys{*customer_id, {}, {}};
  for (const auto& row :
       tx.exec_params("SELECT kind, value FROM customer_identifiers WHERE customer_id = $1::uuid ORDER BY kind, value",
                      *customer_id)) {
    const auto kind = row[0].as<std::string>();
    (kind == "email" ? keys.emails : keys.phones).push_back(row[1].as<std::string>());
  }
  return keys;
}

std::string actor(const Environment& env) {
  if (auto who = env.get("FTE_ACTOR"); who && !who->empty()) return *who;
  std::string user;
  if (const auto* pw = getpwuid(geteuid()); pw != nullptr && pw->pw_name != nullptr) user = pw->pw_name;
  if (user.empty()) user = env.get_or("USER", "unknown");
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) == 0 && host[0] != '\0') return user + "@" + host.data();
  return user;
}

std::string contract_topic_name(std::string_view topic, std::string_view prefix) {
  std::string_view name = topic;
  if (!prefix.empty() && name.starts_with(prefix)) name.remove_prefix(prefix.size());
  for (const auto known : kafka::topics::kAll) {
    if (name == known) return std::string(known);
  }
  std::string list;
  for (const auto known : kafka::topics::kAll)
    list += (list.empty() ? "" : ", ") + std::string(prefix) + std::string(known);
  throw UsageError("unknown topic '" + std::string(topic) + "'; the topics are " + list);
}

namespace {

bool is_uri(const std::string& url) { return url.starts_with("postgresql://") || url.starts_with("postgres://"); }

// [start, end) of the path's database name in a URI: after the first '/'
// that follows the authority, up to '?' or the end.
std::pair<std::size_t, std::size_t> database_span(const std::string& url) {
  const auto authority = url.find("://") + 3;
  const auto query = url.find('?', authority);
  const auto path = url.find('/', authority);
  const auto end = query == std::string::npos ? url.size() : query;
  if (path == std::string::npos || path > end) return {end, end};
  return {path + 1, end};
}

} // namespace

std::string with_database_name(const std::string& url, const std::string& database) {
  if (is_uri(url)) {
    const auto [start, end] = database_span(url);
    if (start == end && (start == url.size() || url[start] == '?') && (start == 0 || url[start - 1] != '/')) {
      return url.substr(0, start) + "/" + database + url.substr(start);
    }
    return url.substr(0, start) + database + url.substr(end);
  }
  // key/value form: drop any dbname=..., append ours.
  std::string out;
  std::size_t i = 0;
  while (i < url.size()) {
    const auto next = url.find(' ', i);
    const auto word = url.substr(i, next == std::string::npos ? std::string::npos : next - i);
    if (!word.empty() && !word.starts_with("dbname=")) out += (out.empty() ? "" : " ") + word;
    if (next == std::string::npos) break;
    i = next + 1;
  }
  return out + (out.empty() ? "" : " ") + "dbname=" + database;
}

std::string database_name_of(const std::string& url) {
  if (is_uri(url)) {
    const auto [start, end] = database_span(url);
    return start == end ? "fte" : url.substr(start, end - start);
  }
  const auto at = url.find("dbname=");
  if (at == std::string::npos) return "fte";
  const auto end = url.find(' ', at);
  return url.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
}

bool confirm_on_terminal(const std::string& question) {
  if (isatty(STDIN_FILENO) == 0) return false;
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  answer = lower_ascii(trim(answer));
  return answer == "y" || answer == "yes";
}

} // namespace fte::cli
