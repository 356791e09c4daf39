#include "fte/testing/suite.hpp"

#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <pqxx/pqxx>

#include "fte/common/config.hpp"
#include "fte/kafka/topic_admin.hpp"

namespace fte::testing {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

// A port for a service to listen on, below Linux's ephemeral range
// (32768-60999): a port the kernel hands out (bind to 0) is free only for
// the moment, and the many outgoing connections of Kafka clients take their
// source ports from that same range, so a service started a little later
// could find it taken. Ports here are only ever taken by choice.
std::uint16_t free_port() {
  static std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000, 32000);
  asio::io_context io;
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<std::uint16_t>(pick(random));
    boost::system::error_code ec;
    asio::ip::tcp::acceptor acceptor(io);
    acceptor.open(asio::ip::tcp::v4(), ec);
    if (!ec) acceptor.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no free port in 20000-32000");
}

nlohmann::json HttpAnswer::json() const { return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false); }

HttpAnswer http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body, const std::map<std::string, std::string>& headers,
                        std::chrono::milliseconds timeout) {
  HttpAnswer answer;
  try {
    asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(method), target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers)
      request.set(name, value);
    request.body() = body;
    request.prepare_payload();
    bhttp::write(stream, request);
    boost::beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    bhttp::read(stream, buffer, response);
    answer.status = static_cast<int>(response.result_int());
    answer.body = response.body();
    for (const auto& field : response)
      answer.headers[std::string(field.name_string())] = std::string(field.value());
  } catch (const std::exception&) {
    answer.status = 0;
  }
  return answer;
}

std::string service_binary(const std::string& service) {
  return std::string(FTE_BUILD_DIR) + "/services/" + service + "/" + service;
}

Suite::Suite(std::map<std::string, std::string> extra_env)
    : stack_(StackAddresses::from_env()), prefix_(unique_name("e2e") + "."),
      topics_(kafka::TopicNames::with_prefix(prefix_)) {
  database_ = std::make_unique<ScratchDatabase>(stack_);
  kafka::ClientSettings settings;
  settings.bootstrap = stack_.kafka_bootstrap;
  kafka::TopicAdmin admin(settings, test_logger("suite"), 30s);
  const auto specs = kafka::TopicSpec::contract_topics(
      Environment(std::map<std::string, std::string, std::less<>>{{"FTE_TOPIC_PREFIX", prefix_}}));
  for (const auto& outcome : admin.ensure(specs)) {
    if (outcome.state != kafka::TopicOutcome::State::created) {
      throw std::runtime_error("suite topic " + outcome.name + ": " + outcome.detail);
    }
  }
  gateway_port_ = free_port();
  escalation_port_ = free_port();
  env_ = {{"FTE_KAFKA_BOOTSTRAP", stack_.kafka_bootstrap},
          {"FTE_DATABASE_URL", database_->url()},
          {"FTE_TOPIC_PREFIX", prefix_},
          {"FTE_LOG_LEVEL", "info"},
          {"FTE_COMMIT_INTERVAL_MS", "200"},
          // A killed member's partitions move after this (the broker's minimum).
          {"FTE_RDKAFKA_SESSION_TIMEOUT_MS", "6000"},
          {"FTE_RDKAFKA_HEARTBEAT_INTERVAL_MS", "1000"}};
  for (const auto& [k, v] : extra_env)
    env_[k] = v;
  for (const char* service : kServices) {
    admin_ports_[service] = free_port();
    start(service);
  }
}

Suite::~Suite() {
  for (auto it = std::rbegin(kServices); it != std::rend(kServices); ++it) {
    for (auto& [name, process] : processes_) {
      if (name.substr(0, name.find('#')) == *it && process) process->terminate(10s);
    }
  }
  processes_.clear();
  try {
    kafka::ClientSettings settings;
    settings.bootstrap = stack_.kafka_bootstrap;
    kafka::TopicAdmin(settings, test_logger("suite"), 10s).remove(topics_.all());
  } catch (...) {
    // The broker may be the thing a robustness test stopped.
  }
}

void Suite::start(const std::string& instance, std::chrono::milliseconds timeout) {
  const std::string service = instance.substr(0, instance.find('#'));
  admin_ports_.try_emplace(instance, free_port());
  auto env = env_;
  env["FTE_ADMIN_ADDR"] = "127.0.0.1:" + std::to_string(admin_ports_.at(instance));
  env["FTE_CONSUMER_GROUP"] = group(service);
  if (service == "webhook-gateway") env["FTE_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(gateway_port_);
  if (service == "escalation") env["FTE_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(escalation_port_);
  const int n = ++starts_[instance];
  const auto log =
      (std::filesystem::temp_directory_path() / (prefix_ + instance + "." + std::to_string(n) + ".log")).string();
  processes_[instance] = std::make_unique<ChildProcess>(service_binary(service), std::vector<std::string>{}, env, log);
  const bool ready = eventually(
      [&] {
        if (!processes_[instance]->running()) return false;
        return http_request(admin_ports_.at(instance), "GET", "/readyz", {}, {}, 2s).status == 200;
      },
      timeout);
  if (!ready) {
    throw std::runtime_error(instance + " not ready within " + std::to_string(timeout.count()) + " ms:\n" +
                             processes_[instance]->log_tail());
  }
}

void Suite::kill(const std::string& service) { processes_.at(service)->kill_hard(); }

int Suite::stop(const std::string& service, std::chrono::milliseconds timeout) {
  return processes_.at(service)->terminate(timeout);
}

bool Suite::wait_until_drained(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::pair<const char*, std::string> inputs[] = {{"channel-normalizer", topics_.webform_inbound},
                                                        {"agent-worker", topics_.tickets_incoming},
                                                        {"escalation", topics_.escalations}};
  // In pipeline order: a later stage's input is final once the earlier stage
  // has drained.
  for (const auto& [service, topic] : inputs) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_caught_up(stack_, group(service), topic, left)) return false;
  }
  return true;
}

void run_stack_command(const std::string& variable) {
  const auto command = Environment::from_process().get(variable);
  if (!command || command->empty()) {
    throw std::runtime_error(variable + " is not set: run the robustness tier through deploy/local/fte-local test");
  }
  if (const int rc = std::system(command->c_str()); rc != 0) {
    throw std::runtime_error(variable + " (" + *command + ") exited with " + std::to_string(rc));
  }
}

std::string Suite::logs() const {
  std::string out;
  for (const auto& [name, process] : processes_) {
    out += "----- " + name + " (" + process->log_path() + ")\n" + process->log_tail(1500) + "\n";
  }
  return out;
}

HttpAnswer Suite::submit(const nlohmann::json& form, const std::string& idempotency_key) {
  std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}};
  if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
  return http_request(gateway_port_, "POST", "/webhooks/webform", form.dump(), headers);
}

long Suite::count(const std::string& sql) const {
  pqxx::connection c(database_->url());
  pqxx::read_transaction tx(c);
  return tx.exec1(sql)[0].as<long>();
}

} // namespace fte::testing
