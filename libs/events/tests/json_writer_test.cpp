#include "fte/events/json_writer.hpp"

#include <gtest/gtest.h>

namespace fte::events {
namespace {

std::string nlohmann_dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ours(const nlohmann::json& j) {
  std::string out;
  append_json(out, j);
  return out;
}

TEST(JsonWriter, WritesWhatNlohmannWrites) {
  const std::vector<nlohmann::json> cases = {
      nlohmann::json::object(),
      nlohmann::json::array(),
      {{"name", "Ada \"the\" Countess"}, {"path", "C:\\dir"}, {"n", 42}, {"x", -1.5}, {"ok", true}, {"none", nullptr}},
      {{"ctl", std::string("a\nb\tc\rd\be\ff\x01g\x1fh\x7f", 17)}},
      {{"utf8", "héllo € 𝄞 日本"}, {"nested", {{"list", {1, "two", nlohmann::json::object()}}}}},
      {{"latency_ms", 0.1 + 0.2}, {"big", 12345678901234LL}, {"small", 1e-300}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ours(c), nlohmann_dump(c));
  }
}

// Invalid UTF-8 becomes U+FFFD, one per byte that starts no valid sequence
// (nlohmann groups some of them differently; both are valid JSON).
TEST(JsonWriter, ReplacesInvalidUtf8AndStaysValidJson) {
  // Built from bytes: truncated sequences, overlongs, surrogates, stray
  // continuation bytes, a code point above U+10FFFF.
  const std::vector<std::string> inputs = {
      "a\xC3",
      "\xC3(",
      "\xE2\x82",
      "\xE0\x80\xAF",
      "\xED\xA0\x80",
      "\x80x",
      "\xF4\x90\x80\x80",
      "ok\xFF\xFEok",
      "\xF0\x9F\x98",
      "mixed \xC3\xA9 \xE9 end",
  };
  std::string mixed;
  append_json_string(mixed, "mixed \xC3\xA9 \xE9 end");
  EXPECT_EQ(mixed, "\"mixed \xC3\xA9 \xEF\xBF\xBD end\"") << "valid sequences kept, the bad byte replaced";
  for (const auto& input : inputs) {
    std::string out;
    append_json_string(out, input);
    const auto parsed = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not valid JSON: " << out;
    EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos) << out;
  }
}

} // namespace
} // namespace fte::events
