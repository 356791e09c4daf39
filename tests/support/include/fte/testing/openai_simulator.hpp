#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "fte/common/child_process.hpp"

namespace fte::testing {

/// tests/fakes/fake_openai.py, the OpenAI-compatible simulator (its wire
/// format, its failures, the quirks of vLLM, llama.cpp server and Ollama),
/// started as a child process on a free port and stopped with this object.
class OpenAiSimulator {
public:
  /// @throws std::runtime_error when it does not start within ten seconds
  explicit OpenAiSimulator(int delay_ms = 0);
  ~OpenAiSimulator();
  OpenAiSimulator(const OpenAiSimulator&) = delete;
  OpenAiSimulator& operator=(const OpenAiSimulator&) = delete;

  /// The API's base URL, ".../v1".
  [[nodiscard]] std::string v1() const { return root_ + "/v1"; }
  /// POST /_control/openai/WHAT with `body`, or GET when it is null.
  nlohmann::json control(const std::string& what, const nlohmann::json& body = nullptr);
  /// The chat completion requests it received, in order, with their status.
  [[nodiscard]] nlohmann::json chat_requests();

private:
  std::unique_ptr<ChildProcess> process_;
  std::string root_;
};

} // namespace fte::testing
