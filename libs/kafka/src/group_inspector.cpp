#include "fte/kafka/group_inspector.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <thread>

#include "fte/common/ids.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/kafka/topic_admin.hpp"

namespace fte::kafka {
namespace {

bool is_no_answer(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE;
}

PartitionListHandle to_list(const std::vector<TopicPartition>& partitions) {
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& tp : partitions)
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  return list;
}

} // namespace

struct GroupInspector::Impl {
  Logger logger;
  std::chrono::milliseconds timeout;
  std::string bootstrap;
  // One consumer-type handle serves the admin requests and the assign-only
  // reads. Its group id is random and it never subscribes, so it never
  // appears among the groups it lists.
  KafkaHandle handle;

  [[noreturn]] void not_answering(const std::string& what, const std::string& why) const {
    throw AdminError("Kafka at " + bootstrap + " is not answering (" + what + ": " + why + "; waited up to " +
                     std::to_string(timeout.count()) + " ms)");
  }

  void check(rd_kafka_resp_err_t err, const std::string& what, const char* message = nullptr) const {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    const std::string why = message != nullptr ? message : rd_kafka_err2str(err);
    if (is_no_answer(err)) not_answering(what, why);
    throw AdminError(what + " failed on Kafka at " + bootstrap + ": " + why);
  }

  AdminOptionsHandle options(rd_kafka_admin_op_t op) const {
    AdminOptionsHandle opts(rd_kafka_AdminOptions_new(handle.get(), op));
    std::array<char, 512> error{};
    rd_kafka_AdminOptions_set_request_timeout(opts.get(), static_cast<int>(timeout.count()), error.data(),
                                              error.size());
    return opts;
  }

  // Waits for `count` results of admin requests sent to `queue`.
  std::vector<EventHandle> wait_results(QueueHandle& queue, std::size_t count, const std::string& what) const {
    std::vector<EventHandle> events;
    const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(1);
    while (events.size() < count) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) not_answering(what, "no answer");
      EventHandle event(rd_kafka_queue_poll(queue.get(), static_cast<int>(left.count())));
      if (!event) continue;
      check(rd_kafka_event_error(event.get()), what, rd_kafka_event_error_string(event.get()));
      events.push_back(std::move(event));
    }
    return events;
  }
};

GroupInspector::GroupInspector(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(Impl{std::move(logger), timeout, settings.bootstrap, nullptr})) {
  // read_uncommitted: the end offset is the high watermark, what KEDA's scaler
  // reads (ListOffsets without an isolation level), not the last stable offset.
  // log_level 2: librdkafka's own connection errors would precede the one
  // clear error this class throws (FTE_RDKAFKA_LOG_LEVEL brings them back).
  auto conf = make_conf(settings, {{"log_level", "2"}},
                        {{"group.id", "fte-lag-" + random_uuid()},
                         {"enable.auto.commit", "false"},
                         {"enable.partition.eof", "true"},
                         {"auto.offset.reset", "earliest"},
                         {"isolation.level", "read_uncommitted"}});
  std::array<char, 512> error{};
  impl_->handle.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), error.data(), error.size()));
  if (!impl_->handle) throw ConfigError("kafka group inspector", error.data());
  (void)conf.release();
}

GroupInspector::~GroupInspector() {
  if (impl_ && impl_->handle) rd_kafka_consumer_close(impl_->handle.get());
}

std::map<std::string, int> GroupInspector::partition_counts(const std::vector<std::string>& topics) {
  const rd_kafka_metadata_t* raw = nullptr;
  impl_->check(
      rd_kafka_metadata(impl_->handle.get(), /*all_topics=*/1, nullptr, &raw, static_cast<int>(impl_->timeout.count())),
      "metadata request");
  MetadataHandle metadata(raw);
  std::map<std::string, int> counts;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const auto& topic = metadata->topics[i];
    if (topic.err == RD_KAFKA_RESP_ERR_NO_ERROR &&
        std::find(topics.begin(), topics.end(), topic.topic) != topics.end()) {
      counts[topic.topic] = topic.partition_cnt;
    }
  }
  return counts;
}

std::vector<std::string> GroupInspector::list_groups() {
  const std::string what = "list consumer groups";
  auto options = impl_->options(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
  QueueHandle queue(rd_kafka_queue_new(impl_->handle.get()));
  rd_kafka_ListConsumerGroups(impl_->handle.get(), options.get(), queue.get());
  const auto events = impl_->wait_results(queue, 1, what);
  const auto* result = rd_kafka_event_ListConsumerGroups_result(events[0].get());
  std::size_t error_count = 0;
  const auto** errors = rd_kafka_ListConsumerGroups_result_errors(result, &error_count);
  if (error_count > 0) {
    // A broker that did not answer would leave its groups out: say so rather
    // than show a partial list.
    impl_->check(rd_kafka_error_code(errors[0]), what, rd_kafka_error_string(errors[0]));
  }
  std::size_t count = 0;
  const auto** listings = rd_kafka_ListConsumerGroups_result_valid(result, &count);
  std::vector<std::string> groups;
  for (std::size_t i = 0; i < count; ++i)
    groups.emplace_back(rd_kafka_ConsumerGroupListing_group_id(listings[i]));
  std::sort(groups.begin(), groups.end());
  return groups;
}

std::map<std::string, std::map<TopicPartition, std::int64_t>>
GroupInspector::committed_offsets(const std::vector<std::string>& groups) {
  const std::string what = "fetch committed offsets";
  QueueHandle queue(rd_kafka_queue_new(impl_->handle.get()));
  auto options = impl_->options(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
  // librdkafka takes one group per request; they all go out at once.
  for (const auto& group : groups) {
    ListGroupOffsetsHandle request(rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr));
    auto* raw = request.get();
    rd_kafka_ListConsumerGroupOffsets(impl_->handle.get(), &raw, 1, options.get(), queue.get());
  }
  std::map<std::string, std::map<TopicPartition, std::int64_t>> offsets;
  for (const auto& event : impl_->wait_results(queue, groups.size(), what)) {
    const auto* result = rd_kafka_event_ListConsumerGroupOffsets_result(event.get());
    std::size_t count = 0;
    const auto** results = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::string group = rd_kafka_group_result_name(results[i]);
      if (const auto* error = rd_kafka_group_result_error(results[i])) {
        impl_->check(rd_kafka_error_code(error), what + " of " + group, rd_kafka_error_string(error));
      }
      auto& committed = offsets[group];
      const auto* partitions = rd_kafka_group_result_partitions(results[i]);
      for (int p = 0; partitions != nullptr && p < partitions->cnt; ++p) {
        const auto& elem = partitions->elems[p];
        // A partition without a commit comes back as RD_KAFKA_OFFSET_INVALID.
        if (elem.err == RD_KAFKA_RESP_ERR_NO_ERROR && elem.offset >= 0)
          committed[{elem.topic, elem.partition}] = elem.offset;
      }
    }
  }
  return offsets;
}

std::vector<GroupDescription> GroupInspector::describe_groups(const std::vector<std::string>& groups) {
  if (groups.empty()) return {};
  const std::string what = "describe consumer groups";
  std::vector<const char*> names;
  for (const auto& group : groups)
    names.push_back(group.c_str());
  auto options = impl_->options(RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
  QueueHandle queue(rd_kafka_queue_new(impl_->handle.get()));
  rd_kafka_DescribeConsumerGroups(impl_->handle.get(), names.data(), names.size(), options.get(), queue.get());
  const auto events = impl_->wait_results(queue, 1, what);
  std::size_t count = 0;
  const auto** described = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(events[0].get()), &count);
  std::vector<GroupDescription> descriptions;
  for (std::size_t i = 0; i < count; ++i) {
    GroupDescription description;
    description.group = rd_kafka_ConsumerGroupDescription_group_id(described[i]);
    if (const auto* error = rd_kafka_ConsumerGroupDescription_error(described[i])) {
      impl_->check(rd_kafka_error_code(error), what + " (" + description.group + ")", rd_kafka_error_string(error));
    }
    description.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(described[i]));
    const auto members = rd_kafka_ConsumerGroupDescription_member_count(described[i]);
    for (std::size_t m = 0; m < members; ++m) {
      const auto* member = rd_kafka_ConsumerGroupDescription_member(described[i], m);
      GroupMember out;
      out.member_id = rd_kafka_MemberDescription_consumer_id(member);
      out.client_id = rd_kafka_MemberDescription_client_id(member);
      out.host = rd_kafka_MemberDescription_host(member);
      if (const char* instance = rd_kafka_MemberDescription_group_instance_id(member); instance && *instance)
        out.group_instance_id = instance;
      const auto* assigned = rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(member));
      for (int p = 0; assigned != nullptr && p < assigned->cnt; ++p)
        out.assignment.push_back({assigned->elems[p].topic, assigned->elems[p].partition});
      std::sort(out.assignment.begin(), out.assignment.end());
      description.members.push_back(std::move(out));
    }
    std::sort(description.members.begin(), description.members.end(),
              [](const GroupMember& a, const GroupMember& b) { return a.assignment < b.assignment; });
    descriptions.push_back(std::move(description));
  }
  return descriptions;
}

std::map<TopicPartition, std::int64_t> GroupInspector::end_offsets(const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, std::int64_t> ends;
  if (partitions.empty()) return ends;
  const auto deadline = std::chrono::steady_clock::now() + impl_->timeout;
  for (auto list = to_list(partitions); list->cnt > 0;) {
    // ListOffsets with the timestamp "latest" for every partition in one
    // request per leader, rather than one watermark query per partition.
    for (int i = 0; i < list->cnt; ++i)
      list->elems[i].offset = RD_KAFKA_OFFSET_END;
    impl_->check(rd_kafka_offsets_for_times(impl_->handle.get(), list.get(), static_cast<int>(impl_->timeout.count())),
                 "list end offsets");
    // A partition whose leader is moving (an election, a topic just
    // created) is asked again until the timeout.
    std::vector<TopicPartition> again;
    for (int i = 0; i < list->cnt; ++i) {
      const auto& elem = list->elems[i];
      const bool leader_moving = elem.err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                                 elem.err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                                 elem.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      if (leader_moving && std::chrono::steady_clock::now() < deadline) {
        again.push_back({elem.topic, elem.partition});
        continue;
      }
      impl_->check(elem.err, "end offset of " + std::string(elem.topic) + "/" + std::to_string(elem.partition));
      ends[{elem.topic, elem.partition}] = elem.offset;
    }
    if (!again.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    list = to_list(again);
  }
  return ends;
}

std::map<TopicPartition, std::chrono::system_clock::time_point>
GroupInspector::first_record_times(const std::map<TopicPartition, std::int64_t>& from) {
  std::map<TopicPartition, std::chrono::system_clock::time_point> times;
  if (from.empty()) return times;
  PartitionListHandle assignment(rd_kafka_topic_partition_list_new(static_cast<int>(from.size())));
  for (const auto& [tp, offset] : from)
    rd_kafka_topic_partition_list_add(assignment.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  impl_->check(rd_kafka_assign(impl_->handle.get(), assignment.get()), "assign partitions to read");
  std::set<TopicPartition> waiting;
  for (const auto& [tp, offset] : from)
    waiting.insert(tp);
  const auto deadline = std::chrono::steady_clock::now() + impl_->timeout;
  while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
    MessageHandle msg(rd_kafka_consumer_poll(impl_->handle.get(), 100));
    if (!msg || msg->rkt == nullptr) continue;
    const TopicPartition tp{rd_kafka_topic_name(msg->rkt), msg->partition};
    if (!waiting.contains(tp)) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      waiting.erase(tp); // only control records (transaction markers) were left
    } else if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR && msg->offset >= from.at(tp)) {
      rd_kafka_timestamp_type_t type{};
      const auto ms = rd_kafka_message_timestamp(msg.get(), &type);
      if (ms >= 0) times[tp] = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
      waiting.erase(tp);
    }
  }
  // Unassigning drops what was fetched, so the next call starts clean.
  rd_kafka_assign(impl_->handle.get(), nullptr);
  return times;
}

} // namespace fte::kafka
