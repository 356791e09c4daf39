#include "webform_normalizer.hpp"

#include "fte/kafka/consumer_runner.hpp"

namespace fte::normalizer {
namespace {

std::string required_string(const nlohmann::json& data, const char* field) {
  const auto it = data.find(field);
  if (it == data.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw kafka::PoisonError(std::string("webform submission without '") + field + "'");
  }
  return it->get<std::string>();
}

} // namespace

Sender webform_sender(const events::CloudEvent& submission) {
  return Sender{"email", required_string(submission.data, "email"), required_string(submission.data, "name")};
}

nlohmann::json ticket_message_from_webform(const events::CloudEvent& submission, const std::string& customer_id,
                                           const std::string& source_topic) {
  const auto& d = submission.data;
  const auto sender = webform_sender(submission);
  nlohmann::json message = {
      {"customer_id", customer_id},
      {"channel", "webform"},
      {"sender", {{"kind", sender.kind}, {"address", sender.address}, {"display_name", sender.display_name}}},
      {"subject", required_string(d, "subject")},
      {"body", required_string(d, "message")},
      {"received_at", required_string(d, "received_at")},
      {"source_event_id", submission.id},
      {"source_topic", source_topic},
  };
  if (d.contains("category") && d["category"].is_string()) message["category"] = d["category"];
  if (d.contains("priority") && d["priority"].is_string()) message["priority"] = d["priority"];
  return message;
}

} // namespace fte::normalizer
