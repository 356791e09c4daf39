#include "fte/testing/openai_simulator.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include "fte/outbound_http/client.hpp"

namespace fte::testing {

OpenAiSimulator::OpenAiSimulator(int delay_ms) {
  static std::atomic<int> counter{0};
  const auto dir = std::filesystem::temp_directory_path() /
                   ("fte-openai-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  const auto log = (dir / "openai.log").string();
  process_ =
      std::make_unique<ChildProcess>("/usr/bin/python3",
                                     std::vector<std::string>{FTE_SOURCE_DIR "/tests/fakes/fake_openai.py", "--port",
                                                              "0", "--delay-ms", std::to_string(delay_ms)},
                                     std::map<std::string, std::string>{}, log);
  static const std::regex kReady(R"(ready: (http://127\.0\.0\.1:[0-9]+)/v1)");
  for (int i = 0; i < 200 && root_.empty(); ++i) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    const auto s = text.str();
    if (std::smatch m; std::regex_search(s, m, kReady)) root_ = m[1].str();
    if (root_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (root_.empty()) throw std::runtime_error("the OpenAI simulator did not start: " + process_->log_tail());
}

OpenAiSimulator::~OpenAiSimulator() = default;

nlohmann::json OpenAiSimulator::control(const std::string& what, const nlohmann::json& body) {
  outbound_http::Client client;
  outbound_http::Request request;
  request.method = body.is_null() ? "GET" : "POST";
  request.url = root_ + "/_control/openai/" + what;
  request.headers = {{"Content-Type", "application/json"}};
  if (!body.is_null()) request.body = body.dump();
  auto result = client.perform(request);
  const auto* response = std::get_if<outbound_http::Response>(&result);
  if (!response || response->status != 200)
    throw std::runtime_error("the simulator's control " + what + " failed" +
                             (response ? ": " + response->body : std::string()));
  return nlohmann::json::parse(response->body);
}

nlohmann::json OpenAiSimulator::chat_requests() {
  nlohmann::json out = nlohmann::json::array();
  const auto all = control("requests"); // named: a range-for over a temporary's member dangles
  for (const auto& r : all["requests"])
    if (r["path"] == "/v1/chat/completions") out.push_back(r);
  return out;
}

} // namespace fte::testing
