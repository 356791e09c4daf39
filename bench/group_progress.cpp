// fte-group-progress: how far a consumer group has committed on a topic.
//
// Prints, summed over the topic's partitions, the group's committed offsets,
// the topic's end offsets (high watermarks) and the lag between them. A
// partition the group has never committed counts from its low watermark
// (where a fresh group with auto.offset.reset=earliest starts).
//
// With --wait-caught-up it polls every --interval-ms (100 ms) until the lag
// is 0 and the end is above 0, and reports when it first saw a committed
// offset above the one it started from and when the group caught up, so a
// drain rate can be given both from the consumer's start and from its first
// commit (joining a group can take seconds). Exit 0: caught up (or, without
// --wait-caught-up, the figures were read); 1: timed out; 2: error.
//
// The tool never joins the group: it only reads committed offsets
// (rd_kafka_committed) and watermarks (rd_kafka_query_watermark_offsets), so
// it does not disturb the consumer it watches.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string bootstrap = "127.0.0.1:19092";
  std::string group;
  std::vector<std::string> topics;
  bool wait = false;
  double timeout_s = 600;
  int interval_ms = 100;
  double progress_s = 0;
  int request_timeout_ms = 5000;
  bool json = false;
};

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const noexcept {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};
struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const noexcept {
    if (list != nullptr) rd_kafka_topic_partition_list_destroy(list);
  }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* md) const noexcept {
    if (md != nullptr) rd_kafka_metadata_destroy(md);
  }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

struct Progress {
  std::int64_t committed = 0; ///< sum of the valid committed offsets
  std::int64_t end = 0;       ///< sum of high watermarks
  std::int64_t start = 0;     ///< sum of low watermarks
  std::int64_t lag = 0;       ///< sum of end - (committed, or low when none)
  int partitions = 0;
  int partitions_committed = 0; ///< partitions with a valid committed offset
};

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

KafkaPtr make_client(const Options& o) {
  std::array<char, 512> err{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const auto set = [&](const char* key, const std::string& value) {
    if (rd_kafka_conf_set(conf, key, value.c_str(), err.data(), err.size()) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw Error(std::string(key) + ": " + err.data());
    }
  };
  set("bootstrap.servers", o.bootstrap);
  set("group.id", o.group);
  set("enable.auto.commit", "false");
  set("client.id", "fte-group-progress");
  set("log_level", "3");
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err.data(), err.size());
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw Error(std::string("rd_kafka_new: ") + err.data());
  }
  return KafkaPtr(rk);
}

/// Every (topic, partition) of the topics; throws when a topic is missing.
ListPtr partitions_of(rd_kafka_t* rk, const Options& o) {
  ListPtr list(rd_kafka_topic_partition_list_new(16));
  for (const auto& topic : o.topics) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    if (rkt == nullptr) throw Error("rd_kafka_topic_new(" + topic + ") failed");
    const rd_kafka_metadata_t* raw = nullptr;
    const auto rc = rd_kafka_metadata(rk, 0, rkt, &raw, o.request_timeout_ms);
    rd_kafka_topic_destroy(rkt);
    MetadataPtr md(raw);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw Error("metadata of " + topic + ": " + rd_kafka_err2str(rc));
    }
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topics[0].partition_cnt == 0) {
      const auto terr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      throw Error("topic " + topic + ": " + rd_kafka_err2str(terr));
    }
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), md->topics[0].partitions[p].id);
    }
  }
  return list;
}

Progress read_progress(rd_kafka_t* rk, const rd_kafka_topic_partition_list_t* partitions, const Options& o) {
  ListPtr list(rd_kafka_topic_partition_list_copy(partitions));
  if (const auto rc = rd_kafka_committed(rk, list.get(), o.request_timeout_ms); rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw Error(std::string("rd_kafka_committed: ") + rd_kafka_err2str(rc));
  }
  Progress p;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw Error(std::string("committed offset of ") + tp.topic + "[" + std::to_string(tp.partition) +
                  "]: " + rd_kafka_err2str(tp.err));
    }
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (const auto rc = rd_kafka_query_watermark_offsets(rk, tp.topic, tp.partition, &low, &high, o.request_timeout_ms);
        rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw Error(std::string("watermarks of ") + tp.topic + "[" + std::to_string(tp.partition) +
                  "]: " + rd_kafka_err2str(rc));
    }
    ++p.partitions;
    p.end += high;
    p.start += low;
    if (tp.offset >= 0) {
      ++p.partitions_committed;
      p.committed += tp.offset;
      p.lag += std::max<std::int64_t>(0, high - tp.offset);
    } else {
      p.lag += std::max<std::int64_t>(0, high - low);
    }
  }
  return p;
}

double unix_ms_now() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

nlohmann::json to_json(const Progress& p) {
  return {{"committed", p.committed},   {"end", p.end},
          {"start", p.start},           {"lag", p.lag},
          {"partitions", p.partitions}, {"partitions_committed", p.partitions_committed}};
}

void print_line(const Progress& p, const char* prefix, FILE* out) {
  std::fprintf(out, "%scommitted %lld  end %lld  lag %lld  (%d partitions, %d with a commit)\n", prefix,
               static_cast<long long>(p.committed), static_cast<long long>(p.end), static_cast<long long>(p.lag),
               p.partitions, p.partitions_committed);
}

int run(const Options& o) {
  auto rk = make_client(o);
  const auto partitions = partitions_of(rk.get(), o);
  const auto t0 = Clock::now();
  const double t0_unix_ms = unix_ms_now();
  const auto initial = read_progress(rk.get(), partitions.get(), o);
  if (!o.wait) {
    if (o.json) {
      std::cout << to_json(initial).dump() << '\n';
    } else {
      print_line(initial, "", stdout);
    }
    return 0;
  }

  const auto since = [&t0](Clock::time_point t) { return std::chrono::duration<double>(t - t0).count(); };
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
  std::optional<double> first_commit_s;
  std::optional<double> first_commit_unix_ms;
  std::int64_t committed_at_first = 0;
  auto next_report = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.progress_s));
  Progress p = initial;
  bool caught_up = false;
  for (;;) {
    const auto now = Clock::now();
    if (!first_commit_s && p.committed > initial.committed) {
      first_commit_s = since(now);
      first_commit_unix_ms = unix_ms_now();
      committed_at_first = p.committed;
    }
    if (p.lag == 0 && p.end > 0) {
      caught_up = true;
      break;
    }
    if (now >= deadline) break;
    if (o.progress_s > 0 && now >= next_report) {
      std::fprintf(stderr, "fte-group-progress: %6.1f s  ", since(now));
      print_line(p, "", stderr);
      next_report += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.progress_s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.interval_ms));
    p = read_progress(rk.get(), partitions.get(), o);
  }
  const double elapsed_s = since(Clock::now());
  const double end_unix_ms = unix_ms_now();

  if (o.json) {
    nlohmann::json j = to_json(p);
    j["group"] = o.group;
    j["topics"] = o.topics;
    j["caught_up"] = caught_up;
    j["elapsed_s"] = elapsed_s;
    j["started_unix_ms"] = t0_unix_ms;
    j["ended_unix_ms"] = end_unix_ms;
    j["initial"] = to_json(initial);
    if (first_commit_s) {
      j["first_commit_s"] = *first_commit_s;
      j["first_commit_unix_ms"] = *first_commit_unix_ms;
      j["committed_at_first_commit"] = committed_at_first;
    } else {
      j["first_commit_s"] = nullptr;
      j["first_commit_unix_ms"] = nullptr;
      j["committed_at_first_commit"] = nullptr;
    }
    std::cout << j.dump() << '\n';
  } else {
    print_line(p, caught_up ? "caught up: " : "timed out: ", stdout);
    std::printf("elapsed %.3f s", elapsed_s);
    if (first_commit_s) {
      std::printf("; first commit seen at %.3f s (committed %lld)", *first_commit_s,
                  static_cast<long long>(committed_at_first));
    }
    std::printf("\n");
  }
  return caught_up ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"fte-group-progress: a consumer group's committed offsets against a topic's end offsets"};
  app.add_option("--bootstrap", options.bootstrap, "Kafka bootstrap servers")->capture_default_str();
  app.add_option("--group", options.group, "consumer group")->required();
  app.add_option("--topic", options.topics, "topic (repeatable; figures are summed)")->required();
  app.add_flag("--wait-caught-up", options.wait, "poll until the lag is 0 and the end is above 0");
  app.add_option("--timeout", options.timeout_s, "seconds to wait with --wait-caught-up")
      ->check(CLI::Range(0.0, 86'400.0))
      ->capture_default_str();
  app.add_option("--interval-ms", options.interval_ms, "poll interval with --wait-caught-up")
      ->check(CLI::Range(10, 60'000))
      ->capture_default_str();
  app.add_option("--progress", options.progress_s, "with --wait-caught-up, a progress line on stderr every S seconds")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--request-timeout-ms", options.request_timeout_ms, "timeout of each request to Kafka")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  app.add_flag("--json", options.json, "print one JSON object");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "fte-group-progress: " << e.what() << '\n';
    return 2;
  }
}
