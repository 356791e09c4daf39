// `fte dlq redrive`: selected DLQ records back to their origin topic, with
// their original event id (so the group's dedup makes a second re-drive of a
// processed record harmless), audited in dlq_redrives.
#include <future>
#include <iomanip>
#include <iostream>
#include <unistd.h>

#include "dlq_command.hpp"
#include "fte/common/ids.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/pg/array_literal.hpp"
#include "progress.hpp"

namespace fte::cli::dlq {
namespace {

// Records are sent and audited in chunks: each chunk is acknowledged and its
// rows written before the next is sent, so a failure loses at most one
// chunk's audit and a large re-drive shows progress.
constexpr std::size_t kChunk = 500;

constexpr const char* kPreviousRedrivesSql =
    "SELECT event_id, dlq_partition, dlq_offset, redrive_count FROM dlq_redrives "
    "WHERE dlq_topic = $1 AND (event_id = ANY($2::text[]) OR (dlq_partition, dlq_offset) IN "
    "(SELECT * FROM unnest($3::int[], $4::bigint[])))";

constexpr const char* kAuditSql =
    "INSERT INTO dlq_redrives (redrive_id, redriven_by, selection, dlq_topic, dlq_partition, dlq_offset, event_id, "
    "consumer_group, reason, origin_topic, origin_partition, new_offset, redrive_count) "
    "SELECT $1::uuid, $2, $3::jsonb, $4, r.* FROM unnest($5::int[], $6::bigint[], $7::text[], $8::text[], "
    "$9::text[], $10::text[], $11::int[], $12::bigint[], $13::int[]) AS r";

struct Planned {
  const Entry* entry = nullptr;
  int redrive_count = 1;
};

struct Sent {
  const Entry* entry = nullptr;
  int redrive_count = 1;
  kafka::DeliveryReport report;
};

// The number this re-drive gets: one more than any earlier re-drive of the
// same event (from any DLQ copy of it) or of this DLQ record, and than the
// redrive.count the record carried when it failed again.
std::vector<Planned> plan_counts(pqxx::connection& database, const std::string& dlq_topic,
                                 const std::vector<const Entry*>& entries) {
  pg::ArrayLiteral ids, partitions, offsets;
  for (const auto* e : entries) {
    if (!e->event_id.empty()) ids.add(e->event_id);
    partitions.add(static_cast<std::int64_t>(e->record.partition));
    offsets.add(e->record.offset);
  }
  std::map<std::string, int> by_event;
  std::map<std::pair<std::int32_t, std::int64_t>, int> by_place;
  pqxx::read_transaction tx(database);
  for (const auto& row : tx.exec_params(kPreviousRedrivesSql, dlq_topic, ids.str(), partitions.str(), offsets.str())) {
    const int count = row[3].as<int>();
    if (!row[0].is_null()) {
      auto& best = by_event[row[0].as<std::string>()];
      best = std::max(best, count);
    }
    auto& best = by_place[{row[1].as<std::int32_t>(), row[2].as<std::int64_t>()}];
    best = std::max(best, count);
  }
  std::vector<Planned> planned;
  for (const auto* e : entries) {
    int previous = e->dlq.redrive_count;
    if (const auto it = by_event.find(e->event_id); !e->event_id.empty() && it != by_event.end()) {
      previous = std::max(previous, it->second);
    }
    if (const auto it = by_place.find({e->record.partition, e->record.offset}); it != by_place.end()) {
      previous = std::max(previous, it->second);
    }
    planned.push_back({e, previous + 1});
  }
  return planned;
}

void write_audit(pqxx::connection& database, const std::string& redrive_id, const std::string& who,
                 const nlohmann::json& selection, const std::string& dlq_topic, const std::vector<Sent>& sent) {
  pg::ArrayLiteral partitions, offsets, events, groups, reasons, origins, origin_partitions, new_offsets, counts;
  for (const auto& s : sent) {
    const auto& e = *s.entry;
    partitions.add(static_cast<std::int64_t>(e.record.partition));
    offsets.add(e.record.offset);
    events.add_or_null(e.event_id);
    groups.add_or_null(e.group);
    reasons.add_or_null(e.dlq.reason ? kafka::to_string(*e.dlq.reason) : std::string_view());
    origins.add(e.dlq.original_topic);
    origin_partitions.add(static_cast<std::int64_t>(s.report.partition));
    new_offsets.add(s.report.offset);
    counts.add(static_cast<std::int64_t>(s.redrive_count));
  }
  pqxx::work tx(database);
  tx.exec_params(kAuditSql, redrive_id, who, selection.dump(), dlq_topic, partitions.str(), offsets.str(), events.str(),
                 groups.str(), reasons.str(), origins.str(), origin_partitions.str(), new_offsets.str(), counts.str());
  tx.commit();
}

// What is about to happen, for the person who confirms it.
void print_plan(std::ostream& out, const std::string& dlq_topic, std::size_t selected,
                const std::vector<const Entry*>& to_send, std::size_t already_processed, std::size_t older_copies,
                const std::vector<const Entry*>& unroutable, bool force, bool list_all) {
  std::set<std::string> customers;
  std::map<std::string, std::size_t> per_topic;
  for (const auto* e : to_send) {
    customers.insert(e->customer);
    ++per_topic[e->dlq.original_topic];
  }
  out << "Selected " << selected << " DLQ record" << (selected == 1 ? "" : "s") << " on " << dlq_topic << ".\n"
      << "To re-drive: " << to_send.size() << " record" << (to_send.size() == 1 ? "" : "s") << " of "
      << customers.size() << " customer" << (customers.size() == 1 ? "" : "s") << "\n";
  for (const auto& [topic, n] : per_topic)
    out << "  to " << topic << ": " << n << "\n";
  if (already_processed > 0) {
    out << "Already processed: " << already_processed
        << (force ? " (re-driven anyway: --force; dedup makes them harmless)"
                  : " (skipped: their group has processed their event id; --force re-drives them)")
        << "\n";
  }
  if (older_copies > 0) {
    out << "Older DLQ copies of an event also selected in a newer copy: " << older_copies
        << " (skipped: the newest copy is re-driven)\n";
  }
  if (!unroutable.empty()) {
    out << "Cannot be re-driven: " << unroutable.size() << " (no dlq.original.topic, or that topic no longer exists)\n";
  }
  const std::size_t shown = list_all ? to_send.size() : std::min<std::size_t>(to_send.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto* e = to_send[i];
    out << "  " << std::left << std::setw(10) << e->place() << std::setw(38)
        << (e->event_id.empty() ? "(no event id)" : e->event_id) << std::setw(19)
        << (e->dlq.reason ? std::string(kafka::to_string(*e->dlq.reason)) : "unknown") << e->customer << "\n";
  }
  if (shown < to_send.size()) out << "  ... and " << to_send.size() - shown << " more\n";
}

} // namespace

int redrive(const Context& context, const RedriveFlags& flags) {
  auto database = connect_database(context);
  const auto selection = make_selection(context, flags.selection, database.get());
  if (selection.empty() && !flags.all) {
    throw UsageError("say which DLQ records to re-drive (--reason, --group, --customer, --topic, --from/--to, "
                     "--offsets, --event-id), or pass --all for every one");
  }
  const auto source = open_dlq(context, std::chrono::milliseconds(flags.timeout_ms));
  auto entries = source.read(selection.from);
  std::erase_if(entries, [&](const Entry& e) { return !selection.matches(e); });
  if (entries.empty()) {
    std::cerr << "fte: no DLQ record on " << source.topic() << " matches the selection " << selection.to_json().dump()
              << "; nothing re-driven\n";
    return kExitFailure;
  }
  mark_resolved(entries, *database);

  // One copy per event: a record re-driven and dead-lettered again has two
  // DLQ copies; the newest (entries are in time order) is the one to send.
  std::map<std::pair<std::string, std::string>, const Entry*> newest;
  for (const auto& e : entries) {
    if (!e.event_id.empty()) newest[{e.group, e.event_id}] = &e;
  }
  kafka::TopicAdmin admin(kafka::ClientSettings::from_env(context.env, "fte-cli"), context.logger,
                          std::chrono::milliseconds(flags.timeout_ms));
  std::map<std::string, int> origin_partitions;
  {
    std::set<std::string> names;
    for (const auto& e : entries) {
      if (!e.dlq.original_topic.empty()) names.insert(e.dlq.original_topic);
    }
    for (const auto& d : admin.describe({names.begin(), names.end()})) {
      if (d.exists) origin_partitions[d.name] = d.partitions;
    }
  }
  std::vector<const Entry*> to_send;
  std::vector<const Entry*> unroutable;
  std::size_t already_processed = 0;
  std::size_t older_copies = 0;
  for (const auto& e : entries) {
    if (!e.event_id.empty() && newest.at({e.group, e.event_id}) != &e) {
      ++older_copies;
    } else if (!origin_partitions.contains(e.dlq.original_topic)) {
      unroutable.push_back(&e);
    } else if (e.resolved && !flags.force) {
      ++already_processed;
    } else {
      if (e.resolved) ++already_processed;
      to_send.push_back(&e);
    }
  }
  std::ostream& plan_out = flags.json ? std::cerr : std::cout;
  print_plan(plan_out, source.topic(), entries.size(), to_send, already_processed, older_copies, unroutable,
             flags.force, flags.dry_run);
  for (const auto* e : unroutable) {
    std::cerr << "fte: DLQ record " << e->place() << " cannot be re-driven: "
              << (e->dlq.original_topic.empty() ? "it has no dlq.original.topic header"
                                                : "its origin topic " + e->dlq.original_topic + " does not exist")
              << "\n";
  }
  if (to_send.empty()) {
    plan_out << "Nothing to re-drive.\n";
    if (flags.json) {
      std::cout << nlohmann::json{{"redriven", 0},
                                  {"selected", entries.size()},
                                  {"already_processed", already_processed},
                                  {"older_copies", older_copies},
                                  {"cannot_redrive", unroutable.size()}}
                       .dump(2)
                << "\n";
    }
    return unroutable.empty() ? kExitOk : kExitFailure;
  }
  if (flags.dry_run) {
    plan_out << "Dry run: nothing sent.\n";
    return kExitOk;
  }
  if (!flags.yes) {
    if (isatty(STDIN_FILENO) == 0) {
      std::cerr << "fte: not on a terminal, so nothing was re-driven: pass --yes to confirm from a script\n";
      return kExitUsage;
    }
    if (!confirm_on_terminal("Re-drive " + std::to_string(to_send.size()) + " record" +
                             (to_send.size() == 1 ? "" : "s") + "?")) {
      std::cerr << "fte: not confirmed; nothing re-driven\n";
      return kExitFailure;
    }
  }

  const auto redrive_id = random_uuid();
  const auto who = actor(context.env);
  auto selection_json = selection.to_json();
  selection_json["all"] = flags.all;
  selection_json["force"] = flags.force;
  const auto planned = plan_counts(*database, source.topic(), to_send);
  kafka::Producer producer(kafka::ProducerOptions::from_env(context.env, "fte-cli"), context.logger);

  // Large re-drives show progress on stderr (a line redrawn on a terminal,
  // plain lines every few seconds otherwise); small ones stay quiet.
  std::optional<Progress> progress;
  if (planned.size() > kChunk) {
    progress.emplace("records re-driven", static_cast<std::int64_t>(planned.size()), std::cerr,
                     isatty(STDERR_FILENO) != 0);
  }
  std::vector<Sent> failed;
  nlohmann::json records = nlohmann::json::array();
  for (std::size_t at = 0; at < planned.size(); at += kChunk) {
    const auto end = std::min(planned.size(), at + kChunk);
    std::vector<std::future<kafka::DeliveryReport>> acks;
    for (std::size_t i = at; i < end; ++i) {
      auto record = kafka::make_redrive_record(planned[i].entry->record, planned[i].redrive_count, redrive_id);
      // A topic recreated with fewer partitions: the key decides.
      if (record.partition >= origin_partitions.at(record.topic)) record.partition = kafka::kAnyPartition;
      acks.push_back(producer.send_async(std::move(record)));
    }
    std::vector<Sent> acked;
    for (std::size_t i = at; i < end; ++i) {
      Sent sent{planned[i].entry, planned[i].redrive_count, acks[i - at].get()};
      (sent.report.ok() ? acked : failed).push_back(std::move(sent));
    }
    if (!acked.empty()) {
      try {
        write_audit(*database, redrive_id, who, selection_json, source.topic(), acked);
      } catch (const std::exception& e) {
        std::cerr << "fte: " << acked.size() << " records were re-driven (run " << redrive_id
                  << ") but their dlq_redrives rows could not be written: " << e.what() << "\n";
        for (const auto& s : acked)
          std::cerr << "  " << s.entry->place() << " -> " << s.report.topic << " " << s.report.partition << ":"
                    << s.report.offset << "\n";
        return kExitFailure;
      }
    }
    for (const auto& s : acked) {
      records.push_back({{"dlq_place", s.entry->place()},
                         {"event_id", s.entry->event_id},
                         {"origin_topic", s.report.topic},
                         {"partition", s.report.partition},
                         {"new_offset", s.report.offset},
                         {"redrive_count", s.redrive_count}});
    }
    if (progress) progress->advance(static_cast<std::int64_t>(end - at));
  }
  if (progress) progress->finish();
  for (const auto& s : failed) {
    std::cerr << "fte: DLQ record " << s.entry->place() << " was not re-driven: " << s.report.error.message() << " ("
              << s.report.detail << ")\n";
  }
  const auto redriven = planned.size() - failed.size();
  if (flags.json) {
    std::cout << nlohmann::json{{"redrive_id", redrive_id},
                                {"redriven_by", who},
                                {"selected", entries.size()},
                                {"redriven", redriven},
                                {"failed", failed.size()},
                                {"already_processed", already_processed},
                                {"older_copies", older_copies},
                                {"cannot_redrive", unroutable.size()},
                                {"records", records}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << "Re-drove " << redriven << " record" << (redriven == 1 ? "" : "s") << " (run " << redrive_id
              << ", audited in dlq_redrives)";
    if (!failed.empty()) std::cout << "; " << failed.size() << " failed";
    std::cout << ".\n";
  }
  return failed.empty() && unroutable.empty() ? kExitOk : kExitFailure;
}

} // namespace fte::cli::dlq
