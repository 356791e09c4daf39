#include "fte/kafka/topic_admin.hpp"

#include <array>

#include "fte/kafka/topics.hpp"

namespace fte::kafka {

std::vector<TopicSpec> TopicSpec::contract_topics(const Environment& env) {
  TopicSpec base;
  base.partitions = static_cast<int>(env.get_int("FTE_TOPIC_PARTITIONS", base.partitions, 1, 10'000));
  base.replication_factor =
      static_cast<int>(env.get_int("FTE_TOPIC_REPLICATION_FACTOR", base.replication_factor, 1, 32));
  base.min_insync_replicas = static_cast<int>(env.get_int("FTE_TOPIC_MIN_ISR", base.min_insync_replicas, 1, 32));
  base.retention_ms = env.get_int("FTE_TOPIC_RETENTION_MS", base.retention_ms, -1, INT64_MAX);
  if (base.min_insync_replicas > base.replication_factor) {
    throw ConfigError("FTE_TOPIC_MIN_ISR",
                      "must not exceed FTE_TOPIC_REPLICATION_FACTOR (" + std::to_string(base.replication_factor) + ")");
  }
  std::vector<TopicSpec> specs;
  for (const auto& name : TopicNames::from_env(env).all()) {
    TopicSpec spec = base;
    spec.name = name;
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::map<std::string, std::string> TopicSpec::configs() const {
  return {
      {"retention.ms", std::to_string(retention_ms)},
      {"min.insync.replicas", std::to_string(min_insync_replicas)},
      {"compression.type", "lz4"},
      {"cleanup.policy", "delete"},
      {"unclean.leader.election.enable", "false"},
  };
}

TopicAdmin::TopicAdmin(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout)
    : logger_(std::move(logger)), timeout_(timeout), bootstrap_(settings.bootstrap) {
  ConfHandle conf = make_conf(settings, {{"socket.nagle.disable", "true"}}, {});
  std::array<char, 512> error{};
  handle_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error.data(), error.size()));
  if (!handle_) {
    throw ConfigError("kafka admin client", error.data());
  }
  (void)conf.release();
}

EventHandle TopicAdmin::wait_result(QueueHandle& queue, const char* what) {
  EventHandle event(rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout_.count()) + 1000));
  if (!event) {
    throw AdminError(std::string(what) + ": Kafka at " + bootstrap_ + " did not answer within " +
                     std::to_string(timeout_.count()) + " ms");
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw AdminError(std::string(what) + " failed: " + rd_kafka_event_error_string(event.get()));
  }
  return event;
}

std::vector<TopicDescription> TopicAdmin::describe(const std::vector<std::string>& names) {
  const rd_kafka_metadata_t* raw = nullptr;
  const auto err =
      rd_kafka_metadata(handle_.get(), /*all_topics=*/1, nullptr, &raw, static_cast<int>(timeout_.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw AdminError("metadata request to Kafka at " + bootstrap_ + " failed: " + rd_kafka_err2str(err));
  }
  MetadataHandle metadata(raw);
  std::vector<TopicDescription> descriptions;
  for (const auto& name : names) {
    TopicDescription description;
    description.name = name;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const auto& topic = metadata->topics[i];
      if (name == topic.topic && topic.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        description.exists = true;
        description.partitions = topic.partition_cnt;
        description.replication_factor = topic.partition_cnt > 0 ? topic.partitions[0].replica_cnt : 0;
      }
    }
    descriptions.push_back(std::move(description));
  }

  std::vector<ConfigResourceHandle> resources;
  std::vector<rd_kafka_ConfigResource_t*> raw_resources;
  for (const auto& d : descriptions) {
    if (d.exists) {
      resources.emplace_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, d.name.c_str()));
      raw_resources.push_back(resources.back().get());
    }
  }
  if (raw_resources.empty()) {
    return descriptions;
  }
  AdminOptionsHandle options(rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
  std::array<char, 512> error{};
  rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout_.count()), error.data(),
                                            error.size());
  QueueHandle queue(rd_kafka_queue_new(handle_.get()));
  rd_kafka_DescribeConfigs(handle_.get(), raw_resources.data(), raw_resources.size(), options.get(), queue.get());
  const auto event = wait_result(queue, "describe topic configs");
  const auto* result = rd_kafka_event_DescribeConfigs_result(event.get());
  size_t count = 0;
  const auto** described = rd_kafka_DescribeConfigs_result_resources(result, &count);
  for (size_t i = 0; i < count; ++i) {
    const std::string name = rd_kafka_ConfigResource_name(described[i]);
    size_t entry_count = 0;
    const auto** entries = rd_kafka_ConfigResource_configs(described[i], &entry_count);
    for (auto& d : descriptions) {
      if (d.name != name) continue;
      for (size_t e = 0; e < entry_count; ++e) {
        const char* value = rd_kafka_ConfigEntry_value(entries[e]);
        d.configs[rd_kafka_ConfigEntry_name(entries[e])] = value ? value : "";
      }
    }
  }
  return descriptions;
}

std::vector<TopicOutcome> TopicAdmin::ensure(const std::vector<TopicSpec>& specs) {
  std::vector<std::string> names;
  for (const auto& spec : specs)
    names.push_back(spec.name);
  const auto existing = describe(names);

  std::vector<TopicOutcome> outcomes;
  std::vector<NewTopicHandle> to_create;
  std::vector<rd_kafka_NewTopic_t*> raw;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& spec = specs[i];
    const auto& found = existing[i];
    if (found.exists) {
      if (found.partitions < spec.partitions) {
        outcomes.push_back({spec.name, TopicOutcome::State::fewer_partitions,
                            "exists with " + std::to_string(found.partitions) + " partitions, " +
                                std::to_string(spec.partitions) +
                                " wanted; records of one key would move if it "
                                "grew, so fte will not change it: recreate it or raise its partitions deliberately"});
      } else {
        outcomes.push_back({spec.name, TopicOutcome::State::unchanged,
                            "exists with " + std::to_string(found.partitions) + " partitions"});
      }
      continue;
    }
    std::array<char, 512> error{};
    NewTopicHandle topic(
        rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replication_factor, error.data(), error.size()));
    if (!topic) {
      outcomes.push_back({spec.name, TopicOutcome::State::failed, error.data()});
      continue;
    }
    for (const auto& [key, value] : spec.configs()) {
      rd_kafka_NewTopic_set_config(topic.get(), key.c_str(), value.c_str());
    }
    raw.push_back(topic.get());
    to_create.push_back(std::move(topic));
  }
  if (raw.empty()) {
    return outcomes;
  }
  AdminOptionsHandle options(rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  std::array<char, 512> error{};
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), static_cast<int>(timeout_.count()), error.data(),
                                              error.size());
  rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout_.count()), error.data(),
                                            error.size());
  QueueHandle queue(rd_kafka_queue_new(handle_.get()));
  rd_kafka_CreateTopics(handle_.get(), raw.data(), raw.size(), options.get(), queue.get());
  const auto event = wait_result(queue, "create topics");
  size_t count = 0;
  const auto** results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    const std::string name = rd_kafka_topic_result_name(results[i]);
    const auto err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      outcomes.push_back({name, TopicOutcome::State::created, "created"});
    } else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      outcomes.push_back({name, TopicOutcome::State::unchanged, "created concurrently by someone else"});
    } else {
      const char* message = rd_kafka_topic_result_error_string(results[i]);
      outcomes.push_back({name, TopicOutcome::State::failed, message ? message : rd_kafka_err2str(err)});
    }
  }
  return outcomes;
}

void TopicAdmin::remove(const std::vector<std::string>& names) {
  std::vector<DeleteTopicHandle> owned;
  std::vector<rd_kafka_DeleteTopic_t*> raw;
  for (const auto& name : names) {
    owned.emplace_back(rd_kafka_DeleteTopic_new(name.c_str()));
    raw.push_back(owned.back().get());
  }
  AdminOptionsHandle options(rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS));
  QueueHandle queue(rd_kafka_queue_new(handle_.get()));
  rd_kafka_DeleteTopics(handle_.get(), raw.data(), raw.size(), options.get(), queue.get());
  (void)wait_result(queue, "delete topics");
}

void TopicAdmin::truncate(const std::string& topic, int partitions) {
  PartitionListHandle offsets(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(offsets.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
  DeleteRecordsHandle request(rd_kafka_DeleteRecords_new(offsets.get()));
  auto* raw = request.get();
  AdminOptionsHandle options(rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_DELETERECORDS));
  QueueHandle queue(rd_kafka_queue_new(handle_.get()));
  rd_kafka_DeleteRecords(handle_.get(), &raw, 1, options.get(), queue.get());
  const auto event = wait_result(queue, "delete records");
  const auto* result = rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event.get()));
  for (int i = 0; result != nullptr && i < result->cnt; ++i) {
    if (result->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw AdminError("delete records of " + topic + "[" + std::to_string(result->elems[i].partition) +
                       "]: " + rd_kafka_err2str(result->elems[i].err));
    }
  }
}

std::map<std::string, std::string> TopicAdmin::remove_groups(const std::vector<std::string>& groups) {
  std::map<std::string, std::string> refused;
  if (groups.empty()) return refused;
  std::vector<DeleteGroupHandle> owned;
  std::vector<rd_kafka_DeleteGroup_t*> raw;
  for (const auto& group : groups) {
    owned.emplace_back(rd_kafka_DeleteGroup_new(group.c_str()));
    raw.push_back(owned.back().get());
  }
  AdminOptionsHandle options(rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_DELETEGROUPS));
  QueueHandle queue(rd_kafka_queue_new(handle_.get()));
  rd_kafka_DeleteGroups(handle_.get(), raw.data(), raw.size(), options.get(), queue.get());
  const auto event = wait_result(queue, "delete groups");
  std::size_t count = 0;
  const auto* result = rd_kafka_event_DeleteGroups_result(event.get());
  const auto** each = rd_kafka_DeleteGroups_result_groups(result, &count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto* error = rd_kafka_group_result_error(each[i]);
    if (error == nullptr) continue;
    const auto code = rd_kafka_error_code(error);
    if (code == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;
    refused[rd_kafka_group_result_name(each[i])] = rd_kafka_error_string(error);
  }
  return refused;
}

} // namespace fte::kafka
