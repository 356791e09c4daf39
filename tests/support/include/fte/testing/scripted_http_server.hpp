#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fte/http/server.hpp"

namespace fte::testing {

/// A provider API in the test's own process: a real HTTP server on a
/// loopback port whose answers the test scripts, recording every request.
/// Stands in for Twilio's Messages API where a test needs to control the
/// answer exactly (201, 429, 500 after accepting, an answer that never
/// comes).
class ScriptedHttpServer {
public:
  struct Seen {
    std::string method;
    std::string target;
    std::string authorization;
    std::string body;
  };
  struct Answer {
    unsigned status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    /// Held this long before answering (a provider that times out).
    std::chrono::milliseconds delay{0};
  };
  /// Gets the request number (1-based) and what arrived.
  using Script = std::function<Answer(int number, const Seen& request)>;

  /// Listens on `port` (0: any free port).
  explicit ScriptedHttpServer(Script script, std::uint16_t port = 0);
  ~ScriptedHttpServer();
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::string base_url() const;
  [[nodiscard]] std::vector<Seen> requests() const;
  [[nodiscard]] int count() const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

/// A Twilio Messages API answer: 201 with a message resource.
[[nodiscard]] ScriptedHttpServer::Answer twilio_created(const std::string& sid, const std::string& status = "queued");
/// A Twilio error answer: {"code", "message", "more_info", "status"}.
[[nodiscard]] ScriptedHttpServer::Answer twilio_error(unsigned status, int code, const std::string& message);

} // namespace fte::testing
