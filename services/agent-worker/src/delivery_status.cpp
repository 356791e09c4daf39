#include "delivery_status.hpp"

#include <array>
#include <utility>

namespace fte::agent {
namespace {

constexpr int kTerminal = 100;
constexpr int kSent = 3;

// Rank of each stored delivery status; 0 for any other status.
int rank_of(std::string_view status) {
  static constexpr std::array<std::pair<std::string_view, int>, 8> kRanks{{{"queued", 1},
                                                                           {"accepted", 1},
                                                                           {"sending", 2},
                                                                           {"sent", kSent},
                                                                           {"delivered", 4},
                                                                           {"read", 5},
                                                                           {"failed", kTerminal},
                                                                           {"undelivered", kTerminal}}};
  for (const auto& [name, rank] : kRanks) {
    if (name == status) return rank;
  }
  return 0;
}

} // namespace

std::optional<std::string> stored_delivery_status(std::string_view provider_status) {
  if (provider_status == "scheduled") return std::string("queued");
  if (provider_status == "canceled") return std::string("failed");
  if (rank_of(provider_status) > 0) return std::string(provider_status);
  return std::nullopt;
}

std::optional<std::string> advance_delivery_status(std::string_view current, std::string_view reported) {
  const int next = rank_of(reported);
  if (next == 0) return std::nullopt;
  if (current.empty()) return std::string(reported);
  const int now = rank_of(current);
  if (now == 0 || now == kTerminal) return std::nullopt;
  if (next == kTerminal) return now <= kSent ? std::optional<std::string>(reported) : std::nullopt;
  return next > now ? std::optional<std::string>(reported) : std::nullopt;
}

bool is_delivery_failure(std::string_view status) { return rank_of(status) == kTerminal; }

} // namespace fte::agent
