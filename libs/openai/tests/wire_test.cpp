#include "fte/openai/wire.hpp"

#include <gtest/gtest.h>

#include "fte/common/text.hpp"

namespace fte::openai {
namespace {

TEST(ProviderError, ReadsEachServersShape) {
  // OpenAI (and Ollama's /v1).
  auto e = provider_error_of(R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota",)"
                             R"("param":null,"code":"insufficient_quota"}})");
  EXPECT_EQ(e.code, "insufficient_quota");
  EXPECT_TRUE(is_quota_exhausted(e));
  // vLLM's ErrorResponse: a numeric code.
  e = provider_error_of(R"({"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400})");
  EXPECT_EQ(e.type, "BadRequestError");
  EXPECT_EQ(e.message, "bad");
  EXPECT_EQ(e.code, "");
  // vLLM's key check.
  EXPECT_EQ(provider_error_of(R"({"error":"Unauthorized"})").message, "Unauthorized");
  // llama.cpp server: a numeric code inside error.
  e = provider_error_of(R"({"error":{"code":400,"message":"response_format type must be one of \"text\" or )"
                        R"(\"json_object\", but got: json_schema","type":"invalid_request_error"}})");
  EXPECT_TRUE(refuses_json_schema(400, e));
  EXPECT_FALSE(refuses_json_schema(500, e));
  EXPECT_FALSE(is_quota_exhausted(e));
  // Not JSON: the body's start.
  EXPECT_EQ(provider_error_of("<html>Bad Gateway</html>").message, "<html>Bad Gateway</html>");
  // A rate limit is not a spent quota.
  EXPECT_FALSE(is_quota_exhausted(provider_error_of(
      R"({"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}})")));
}

TEST(ChatCompletion, ReadsContentToolCallsAndUsage) {
  const auto reply = parse_chat_completion(
      R"({"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":)"
      R"("assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"handoff",)"
      R"("arguments":"{\"reason\":\"x\"}"}}]},"finish_reason":"tool_calls"}],)"
      R"("usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}})");
  EXPECT_EQ(reply.content, "");
  ASSERT_EQ(reply.tool_calls.size(), 1U);
  EXPECT_EQ(reply.tool_calls[0].name, "handoff");
  EXPECT_EQ(reply.tool_calls[0].arguments, R"({"reason":"x"})");
  EXPECT_EQ(reply.finish_reason, "tool_calls");
  EXPECT_EQ(reply.usage.prompt_tokens, 12);
  EXPECT_EQ(reply.usage.completion_tokens, 3);
  EXPECT_EQ(reply.model, "m");
}

TEST(ChatCompletion, ArgumentsAsAnObjectAreTakenAsJsonText) {
  // Older Ollama sends arguments as an object, not a string.
  const auto reply = parse_chat_completion(
      R"({"choices":[{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"answer",)"
      R"("arguments":{"answer":"a","citations":["s"]}}}]},"finish_reason":"stop"}]})");
  ASSERT_EQ(reply.tool_calls.size(), 1U);
  EXPECT_EQ(nlohmann::json::parse(reply.tool_calls[0].arguments)["citations"][0], "s");
  EXPECT_EQ(reply.usage.prompt_tokens, 0); // no usage: zero, not an error
}

TEST(ChatCompletion, AnythingElseIsMalformed) {
  // What a proxy that died mid-body sends (the simulator's "malformed" fault).
  EXPECT_THROW(
      (void)parse_chat_completion(
          R"({"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","con)"),
      MalformedReply);
  EXPECT_THROW((void)parse_chat_completion(R"({"choices":[]})"), MalformedReply);
  EXPECT_THROW((void)parse_chat_completion(R"({"choices":[{"finish_reason":"stop"}]})"), MalformedReply);
  EXPECT_THROW((void)parse_chat_completion(R"([1,2])"), MalformedReply);
  EXPECT_THROW((void)parse_chat_completion(R"({"choices":[{"message":{"tool_calls":[{"function":{}}]}}]})"),
               MalformedReply);
}

TEST(Excerpt, CutsLongTextOnACharacterBoundary) {
  EXPECT_EQ(excerpt("short"), "short");
  const auto cut = excerpt(std::string(400, 'x'), 10);
  EXPECT_EQ(cut, std::string(10, 'x') + "...");
  EXPECT_EQ(excerpt("ab\xC3\xA9"
                    "cd",
                    3),
            "ab..."); // not half of é
}

} // namespace
} // namespace fte::openai
