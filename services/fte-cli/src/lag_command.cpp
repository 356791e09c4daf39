// `fte lag`: consumer lag per group, topic and partition, counted the way
// KEDA's Kafka scaler counts it (keda_lag.hpp), with the groups' members and
// the age of the oldest record each group has not consumed yet.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/group_inspector.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/kafka/topics.hpp"
#include "keda_lag.hpp"
#include "selection.hpp"

namespace fte::cli {
namespace {

using Clock = std::chrono::system_clock;

struct LagFlags {
  std::vector<std::string> groups;
  std::vector<std::string> topics;
  KedaOptions keda;
  bool watch = false;
  bool json = false;
  double interval_seconds = 2;
  int timeout_ms = 10'000;
};

struct PartitionLag {
  std::int32_t partition = 0;
  PartitionOffsets offsets;
  std::int64_t lag = 0;
  std::optional<Clock::time_point> oldest_unconsumed; ///< the timestamp of the record at the committed offset
  std::optional<std::size_t> member;                  ///< who has it assigned: an index into the group's members
};

struct TopicLag {
  std::string topic;
  std::vector<PartitionLag> partitions;
  KedaScale keda;
};

struct GroupLag {
  kafka::GroupDescription description;
  std::vector<TopicLag> topics;
};

struct Snapshot {
  Clock::time_point at;
  std::vector<GroupLag> groups;
};

/// What to look at, resolved once: the deployment's topics (or the ones
/// named) and the groups named (none: every group with offsets on them).
struct Selection {
  std::vector<std::string> topics;
  bool topics_named = false;
  std::vector<std::string> groups;
};

Selection resolve_selection(const Context& context, const LagFlags& flags) {
  const auto prefix = context.env.get_or("FTE_TOPIC_PREFIX", "");
  const auto all = kafka::TopicNames::from_env(context.env).all();
  Selection selection{{}, !flags.topics.empty(), flags.groups};
  std::set<std::string> named;
  for (const auto& topic : flags.topics) {
    const auto contract = contract_topic_name(topic, prefix);
    const auto at = std::find(kafka::topics::kAll.begin(), kafka::topics::kAll.end(), contract);
    named.insert(all[static_cast<std::size_t>(at - kafka::topics::kAll.begin())]);
  }
  for (const auto& topic : all) {
    if (named.empty() || named.contains(topic)) selection.topics.push_back(topic);
  }
  std::sort(selection.groups.begin(), selection.groups.end());
  selection.groups.erase(std::unique(selection.groups.begin(), selection.groups.end()), selection.groups.end());
  return selection;
}

std::optional<std::chrono::milliseconds> age(const PartitionLag& p, Clock::time_point now) {
  if (!p.oldest_unconsumed) return std::nullopt;
  // A producer whose clock runs ahead would give a negative age; the record
  // has waited no less than nothing.
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - *p.oldest_unconsumed));
}

template <class Range> std::optional<std::chrono::milliseconds> oldest(const Range& ages) {
  std::optional<std::chrono::milliseconds> result;
  for (const auto& a : ages) {
    if (a && (!result || *a > *result)) result = a;
  }
  return result;
}

std::optional<std::chrono::milliseconds> oldest_in(const TopicLag& topic, Clock::time_point now) {
  std::vector<std::optional<std::chrono::milliseconds>> ages;
  for (const auto& p : topic.partitions)
    ages.push_back(age(p, now));
  return oldest(ages);
}

std::optional<std::chrono::milliseconds> oldest_in(const GroupLag& group, Clock::time_point now) {
  std::vector<std::optional<std::chrono::milliseconds>> ages;
  for (const auto& t : group.topics)
    ages.push_back(oldest_in(t, now));
  return oldest(ages);
}

std::int64_t total_lag(const GroupLag& group) {
  std::int64_t total = 0;
  for (const auto& t : group.topics)
    total += t.keda.total_lag;
  return total;
}

// The topics of a group worth a row: those it committed offsets on, those
// its members are assigned (a consumer that has not committed yet: KEDA
// counts such partitions too), and every topic named with --topic when the
// group was named as well.
std::vector<std::string> topics_of(const kafka::GroupDescription& group,
                                   const std::map<kafka::TopicPartition, std::int64_t>& committed,
                                   const Selection& selection) {
  std::vector<std::string> topics;
  for (const auto& topic : selection.topics) {
    const bool has_commit =
        std::any_of(committed.begin(), committed.end(), [&](const auto& entry) { return entry.first.topic == topic; });
    const bool assigned = std::any_of(group.members.begin(), group.members.end(), [&](const auto& m) {
      return std::any_of(m.assignment.begin(), m.assignment.end(), [&](const auto& tp) { return tp.topic == topic; });
    });
    const bool named = selection.topics_named && !selection.groups.empty();
    if (has_commit || assigned || named) topics.push_back(topic);
  }
  return topics;
}

Snapshot take_snapshot(kafka::GroupInspector& inspector, const Selection& selection, const KedaOptions& keda,
                       const std::string& bootstrap) {
  const auto partition_counts = inspector.partition_counts(selection.topics);
  if (selection.topics_named) {
    for (const auto& topic : selection.topics) {
      if (!partition_counts.contains(topic))
        throw kafka::AdminError("topic " + topic + " does not exist on Kafka at " + bootstrap +
                                " (fte topics create provisions it)");
    }
  }

  const auto known_groups = inspector.list_groups();
  for (const auto& group : selection.groups) {
    if (!std::binary_search(known_groups.begin(), known_groups.end(), group))
      throw UsageError("no consumer group '" + group + "' on Kafka at " + bootstrap +
                       " (without --group, fte lag shows every group with offsets on the deployment's topics)");
  }
  const auto& candidates = selection.groups.empty() ? known_groups : selection.groups;
  auto committed = inspector.committed_offsets(candidates);

  std::vector<std::string> shown;
  for (const auto& group : candidates) {
    const auto& offsets = committed[group];
    const bool touches = std::any_of(offsets.begin(), offsets.end(),
                                     [&](const auto& entry) { return partition_counts.contains(entry.first.topic); });
    if (!selection.groups.empty() || touches) shown.push_back(group);
  }

  Snapshot snapshot;
  std::vector<kafka::TopicPartition> all_partitions;
  for (auto& description : inspector.describe_groups(shown)) {
    GroupLag group{std::move(description), {}};
    for (const auto& topic : topics_of(group.description, committed[group.description.group], selection)) {
      if (!partition_counts.contains(topic)) continue;
      TopicLag topic_lag{topic, {}, {}};
      for (int p = 0; p < partition_counts.at(topic); ++p) {
        topic_lag.partitions.push_back({p, {}, 0, {}, {}});
        all_partitions.push_back({topic, p});
      }
      group.topics.push_back(std::move(topic_lag));
    }
    snapshot.groups.push_back(std::move(group));
  }

  // End offsets after committed offsets: a commit never passes the end, so
  // no lag comes out negative while records keep arriving.
  const auto ends = inspector.end_offsets(all_partitions);
  for (auto& group : snapshot.groups) {
    const auto& offsets = committed[group.description.group];
    std::map<kafka::TopicPartition, std::int64_t> unconsumed_from;
    for (auto& topic : group.topics) {
      std::vector<PartitionOffsets> keda_input;
      for (auto& p : topic.partitions) {
        const kafka::TopicPartition tp{topic.topic, p.partition};
        if (const auto it = offsets.find(tp); it != offsets.end()) p.offsets.committed = it->second;
        p.offsets.end = ends.at(tp);
        p.lag = keda_partition_lag(p.offsets, keda);
        const auto& members = group.description.members;
        for (std::size_t m = 0; m < members.size(); ++m) {
          if (std::binary_search(members[m].assignment.begin(), members[m].assignment.end(), tp)) p.member = m;
        }
        keda_input.push_back(p.offsets);
        if (p.offsets.committed && p.offsets.end > *p.offsets.committed) unconsumed_from[tp] = *p.offsets.committed;
      }
      topic.keda = keda_scale(keda_input, keda);
    }
    const auto times = inspector.first_record_times(unconsumed_from);
    for (auto& topic : group.topics) {
      for (auto& p : topic.partitions) {
        if (const auto it = times.find({topic.topic, p.partition}); it != times.end()) p.oldest_unconsumed = it->second;
      }
    }
  }
  snapshot.at = Clock::now();
  return snapshot;
}

// ---- output ----

nlohmann::json optional_ms(const std::optional<std::chrono::milliseconds>& ms) {
  return ms ? nlohmann::json(ms->count()) : nlohmann::json(nullptr);
}

nlohmann::json to_json(const Snapshot& snapshot, const KedaOptions& keda, const std::string& bootstrap) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& group : snapshot.groups) {
    nlohmann::json members = nlohmann::json::array();
    for (const auto& m : group.description.members) {
      nlohmann::json assignment = nlohmann::json::array();
      for (const auto& tp : m.assignment)
        assignment.push_back({{"topic", tp.topic}, {"partition", tp.partition}});
      members.push_back({{"member_id", m.member_id},
                         {"client_id", m.client_id},
                         {"host", m.host},
                         {"group_instance_id", m.group_instance_id ? nlohmann::json(*m.group_instance_id) : nullptr},
                         {"assignment", assignment}});
    }
    nlohmann::json topics = nlohmann::json::array();
    for (const auto& t : group.topics) {
      nlohmann::json partitions = nlohmann::json::array();
      for (const auto& p : t.partitions) {
        partitions.push_back(
            {{"partition", p.partition},
             {"committed_offset", p.offsets.committed ? nlohmann::json(*p.offsets.committed) : nullptr},
             {"end_offset", p.offsets.end},
             {"lag", p.lag},
             {"member_id", p.member ? nlohmann::json(group.description.members[*p.member].member_id) : nullptr},
             {"oldest_unconsumed_timestamp",
              p.oldest_unconsumed ? nlohmann::json(format_rfc3339(*p.oldest_unconsumed)) : nullptr},
             {"oldest_unconsumed_age_ms", optional_ms(age(p, snapshot.at))}});
      }
      topics.push_back({{"topic", t.topic},
                        {"partition_count", t.partitions.size()},
                        {"total_lag", t.keda.total_lag},
                        {"keda_metric", t.keda.metric},
                        {"keda_replicas", t.keda.replicas},
                        {"oldest_unconsumed_age_ms", optional_ms(oldest_in(t, snapshot.at))},
                        {"partitions", partitions}});
    }
    groups.push_back({{"group", group.description.group},
                      {"state", group.description.state},
                      {"total_lag", total_lag(group)},
                      {"oldest_unconsumed_age_ms", optional_ms(oldest_in(group, snapshot.at))},
                      {"members", members},
                      {"topics", topics}});
  }
  return {{"at", format_rfc3339(snapshot.at)},
          {"bootstrap", bootstrap},
          {"keda",
           {{"offset_reset_policy", std::string(to_string(keda.offset_reset_policy))},
            {"scale_to_zero_on_invalid_offset", keda.scale_to_zero_on_invalid_offset},
            {"allow_idle_consumers", keda.allow_idle_consumers},
            {"lag_threshold", keda.lag_threshold}}},
          {"groups", groups}};
}

std::string format_age(const std::optional<std::chrono::milliseconds>& age) {
  if (!age) return "-";
  const auto ms = age->count();
  std::ostringstream out;
  if (ms < 1000) {
    out << ms << "ms";
  } else if (ms < 60'000) {
    out << std::fixed << std::setprecision(1) << static_cast<double>(ms) / 1000 << "s";
  } else if (ms < 3'600'000) {
    out << ms / 60'000 << "m" << std::setw(2) << std::setfill('0') << ms / 1000 % 60 << "s";
  } else if (ms < 86'400'000) {
    out << ms / 3'600'000 << "h" << std::setw(2) << std::setfill('0') << ms / 60'000 % 60 << "m";
  } else {
    out << ms / 86'400'000 << "d" << std::setw(2) << std::setfill('0') << ms / 3'600'000 % 24 << "h";
  }
  return out.str();
}

// "0-5,7,9-11"
std::string partition_ranges(const std::vector<std::int32_t>& partitions) {
  std::string out;
  for (std::size_t i = 0; i < partitions.size();) {
    std::size_t j = i;
    while (j + 1 < partitions.size() && partitions[j + 1] == partitions[j] + 1)
      ++j;
    out += (out.empty() ? "" : ",") + std::to_string(partitions[i]) +
           (j > i ? "-" + std::to_string(partitions[j]) : std::string());
    i = j + 1;
  }
  return out;
}

std::string assignment_text(const kafka::GroupMember& member) {
  std::map<std::string, std::vector<std::int32_t>> by_topic;
  for (const auto& tp : member.assignment)
    by_topic[tp.topic].push_back(tp.partition);
  std::string out;
  for (const auto& [topic, partitions] : by_topic)
    out += (out.empty() ? "" : " ") + topic + "[" + partition_ranges(partitions) + "]";
  return out.empty() ? "(nothing)" : out;
}

std::string member_text(const kafka::GroupMember& member) { return member.client_id + " " + member.host; }

/// Columns padded to their widest cell; numbers right-aligned.
class Table {
public:
  Table(std::vector<std::string> headers, std::vector<bool> right_aligned)
      : rows_{std::move(headers)}, right_(std::move(right_aligned)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void print(std::ostream& out, const std::string& indent) const {
    std::vector<std::size_t> widths(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t c = 0; c < row.size(); ++c)
        widths[c] = std::max(widths[c], row[c].size());
    }
    for (const auto& row : rows_) {
      std::string line = indent;
      for (std::size_t c = 0; c < row.size(); ++c) {
        const auto pad = std::string(widths[c] - row[c].size(), ' ');
        line += (c > 0 ? "  " : "") + (right_[c] ? pad + row[c] : row[c] + pad);
      }
      while (!line.empty() && line.back() == ' ')
        line.pop_back();
      out << line << "\n";
    }
  }

private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

void print_text(std::ostream& out, const Snapshot& snapshot, const KedaOptions& keda, const std::string& bootstrap) {
  out << "Kafka " << bootstrap << " at " << format_rfc3339(snapshot.at) << "; lag as KEDA counts it (offsetResetPolicy "
      << to_string(keda.offset_reset_policy) << ", lagThreshold " << keda.lag_threshold
      << (keda.scale_to_zero_on_invalid_offset ? ", scaleToZeroOnInvalidOffset" : "")
      << (keda.allow_idle_consumers ? ", allowIdleConsumers" : "") << ")\n";
  if (snapshot.groups.empty()) out << "\nno consumer group has committed offsets on these topics\n";
  for (const auto& group : snapshot.groups) {
    const auto members = group.description.members.size();
    out << "\ngroup " << group.description.group << "  " << group.description.state << ", " << members
        << (members == 1 ? " member" : " members") << ", lag " << total_lag(group) << ", oldest unconsumed "
        << format_age(oldest_in(group, snapshot.at)) << "\n";
    if (group.topics.empty()) {
      out << "  no committed offsets on these topics and no member assigned to them\n";
      continue;
    }
    Table partitions({"TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OLDEST", "MEMBER"},
                     {false, true, true, true, true, true, false});
    for (const auto& t : group.topics) {
      for (const auto& p : t.partitions) {
        partitions.add({t.topic, std::to_string(p.partition),
                        p.offsets.committed ? std::to_string(*p.offsets.committed) : "-", std::to_string(p.offsets.end),
                        std::to_string(p.lag), format_age(age(p, snapshot.at)),
                        p.member ? member_text(group.description.members[*p.member]) : "-"});
      }
    }
    partitions.print(out, "  ");
    out << "\n";
    Table topics({"TOPIC", "PARTITIONS", "LAG", "OLDEST", "KEDA METRIC", "KEDA REPLICAS"},
                 {false, true, true, true, true, true});
    for (const auto& t : group.topics) {
      topics.add({t.topic, std::to_string(t.partitions.size()), std::to_string(t.keda.total_lag),
                  format_age(oldest_in(t, snapshot.at)), std::to_string(t.keda.metric),
                  std::to_string(t.keda.replicas)});
    }
    topics.print(out, "  ");
    if (members > 0) {
      out << "\n";
      Table member_table({"CLIENT ID", "HOST", "MEMBER ID", "INSTANCE ID", "ASSIGNMENT"},
                         {false, false, false, false, false});
      for (const auto& m : group.description.members) {
        member_table.add({m.client_id, m.host, m.member_id, m.group_instance_id.value_or("-"), assignment_text(m)});
      }
      member_table.print(out, "  ");
    }
  }
}

int run_lag(const Context& context, const LagFlags& flags) {
  const auto selection = resolve_selection(context, flags);
  const auto settings = kafka::ClientSettings::from_env(context.env, "fte-cli");
  kafka::GroupInspector inspector(settings, context.logger, std::chrono::milliseconds(flags.timeout_ms));
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  const auto interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(flags.interval_seconds));
  for (bool first = true;; first = false) {
    try {
      const auto snapshot = take_snapshot(inspector, selection, flags.keda, settings.bootstrap);
      const auto json = to_json(snapshot, flags.keda, settings.bootstrap);
      if (flags.json) {
        // --watch: one document a line, for `jq` or a log.
        std::cout << (flags.watch ? json.dump() : json.dump(2)) << "\n" << std::flush;
      } else {
        std::ostringstream text;
        print_text(text, snapshot, flags.keda, settings.bootstrap);
        if (flags.watch && terminal) {
          std::cout << "\x1b[H\x1b[2J" << text.str() << "\nevery " << flags.interval_seconds << " s; Ctrl-C to stop\n";
        } else {
          std::cout << text.str() << (flags.watch ? "\n" : "");
        }
        std::cout << std::flush;
      }
    } catch (const kafka::AdminError& e) {
      // Once a watch runs, a broker that stops answering is something to
      // watch too: say so and try again at the next refresh.
      if (first || !flags.watch) throw;
      std::cerr << "fte: " << e.what() << "\n";
    }
    if (!flags.watch) return kExitOk;
    std::this_thread::sleep_for(interval);
  }
}

} // namespace

void add_lag_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* lag = app.add_subcommand(
      "lag", "Consumer lag per group, topic and partition: committed and end offsets, members, the age of the "
             "oldest unconsumed record, and the total lag and replica count KEDA's Kafka scaler would scale on");
  auto flags = std::make_shared<LagFlags>();
  lag->add_option("--group", flags->groups,
                  "A consumer group to show (repeatable); default: every group with committed offsets on the "
                  "deployment's topics");
  lag->add_option("--topic", flags->topics,
                  "Only this topic (repeatable), with or without the deployment's FTE_TOPIC_PREFIX");
  lag->add_option_function<std::string>(
         "--offset-reset-policy",
         [flags](const std::string& v) {
           flags->keda.offset_reset_policy = v == "earliest" ? OffsetResetPolicy::earliest : OffsetResetPolicy::latest;
         },
         "KEDA's offsetResetPolicy: what a partition without a committed offset counts as: latest (1) or "
         "earliest (its end offset)")
      ->check(CLI::IsMember({"latest", "earliest"}))
      ->default_str("latest");
  lag->add_flag("--scale-to-zero-on-invalid-offset", flags->keda.scale_to_zero_on_invalid_offset,
                "KEDA's scaleToZeroOnInvalidOffset: a partition without a committed offset counts as 0");
  lag->add_option("--lag-threshold", flags->keda.lag_threshold, "KEDA's lagThreshold: the target lag per replica")
      ->check(CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()))
      ->capture_default_str();
  lag->add_flag("--allow-idle-consumers", flags->keda.allow_idle_consumers,
                "KEDA's allowIdleConsumers: do not cap the replicas at the topic's partition count");
  lag->add_flag("--watch", flags->watch, "Refresh until Ctrl-C (in place on a terminal)");
  lag->add_option("--interval", flags->interval_seconds, "Seconds between refreshes with --watch")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  lag->add_flag("--json", flags->json, "Print JSON (with --watch: one document a line)");
  lag->add_option("--timeout-ms", flags->timeout_ms, "How long to wait for Kafka")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  lag->footer(R"(
The lag of a partition is its end offset (high watermark) minus the group's
committed offset: what KEDA's Kafka scaler reads, not the consumers' positions,
so a consumer that commits rarely looks further behind than it is. A partition
without a committed offset counts as KEDA counts it (see the flags). KEDA METRIC
is the total KEDA hands the HPA for a trigger naming that topic (capped at
partitions x lagThreshold unless idle consumers are allowed), KEDA REPLICAS what
the HPA asks for: ceil(metric / lagThreshold), before min/maxReplicaCount.
OLDEST is how long ago the first unconsumed record was written.

Examples:
  fte lag                                     every group on the fte.* topics
  fte lag --group fte.agent-worker --watch    refresh every 2 s until Ctrl-C
  fte lag --topic fte.tickets.incoming --json
  fte lag --lag-threshold 50 --offset-reset-policy earliest
  fte lag --watch --json --interval 10 >> lag.jsonl)");
  lag->callback([&run, flags] { run = [flags](const Context& c) { return run_lag(c, *flags); }; });
}

} // namespace fte::cli
