"""The fake OpenAI-compatible API speaks OpenAI's wire format (and the
self-hosted servers' variants), answers like a support model that cites its
retrieved articles, and fails the ways a client must survive."""

import base64
import json
import math
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest

import fake_openai
import fakehttp
import providers
from fakes_testing import call

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "sk-fte-sim-test-key-1234"
ARTICLES = ("Answer from these help articles.\n"
            "[article: reset-password]\nReset your password from Settings > Security > Reset password.\n\n"
            "[article: shipping-canada]\nShipping to Canada takes 5 to 8 business days.\n")
HANDOFF_TOOL = {"type": "function", "function": {"name": "handoff", "description": "Pass to a person",
                                                 "parameters": {"type": "object",
                                                                "properties": {"reason": {"type": "string"}},
                                                                "required": ["reason"]}}}
ANSWER_TOOL = {"type": "function", "function": {"name": "answer", "parameters": {"type": "object"}}}
REPLY_SCHEMA = {"type": "json_schema", "json_schema": {"name": "reply", "strict": True, "schema": {
    "type": "object", "properties": {"answer": {"type": "string"}, "citations": {"type": "array"},
                                     "handoff": {"type": "boolean"}},
    "required": ["answer", "citations", "handoff"], "additionalProperties": False}}}


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


class FakeOpenAICase(unittest.TestCase):
    api_key = None

    def setUp(self):
        self.fake = fake_openai.OpenAIFake(api_key=self.api_key, log=fakehttp.Log(quiet=True))
        self.server = fakehttp.Server(self.fake.router(), log=fakehttp.Log(quiet=True)).start()

    def tearDown(self):
        self.server.stop()

    def post(self, path, body, key=KEY):
        return call("POST", self.server.url + "/v1" + path, body,
                    headers={"Authorization": "Bearer " + key} if key else None)

    def embed(self, inputs, **options):
        return self.post("/embeddings", dict({"model": "text-embedding-3-small", "input": inputs}, **options))

    def vectors(self, inputs, **options):
        status, body, _ = self.embed(inputs, **options)
        self.assertEqual(status, 200, body)
        return [item["embedding"] for item in body["data"]]

    def chat(self, user, system=ARTICLES, **options):
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        return self.post("/chat/completions", dict({"model": "gpt-4o-mini", "messages": messages}, **options))

    def completion(self, user, system=ARTICLES, **options):
        status, body, _ = self.chat(user, system, **options)
        self.assertEqual(status, 200, body)
        return body["choices"][0]

    def control(self, path, body=None):
        status, answer, _ = call("POST" if body is not None else "GET", self.server.url + "/_control/openai/" + path,
                                 body)
        self.assertEqual(status, 200, answer)
        return answer


class Embeddings(FakeOpenAICase):
    def test_answer_is_openais_list_of_embeddings(self):
        status, body, _ = self.embed(["Where is my parcel?", "Reset my password"])
        self.assertEqual(status, 200, body)
        self.assertEqual((body["object"], body["model"]), ("list", "text-embedding-3-small"))
        self.assertEqual([(d["object"], d["index"]) for d in body["data"]], [("embedding", 0), ("embedding", 1)])
        self.assertEqual([len(d["embedding"]) for d in body["data"]], [384, 384])
        self.assertEqual(body["usage"], {"prompt_tokens": 10, "total_tokens": 10})  # ceil(4 * 1.3) + ceil(3 * 1.3)

    def test_a_string_input_is_one_embedding(self):
        self.assertEqual(len(self.vectors("Where is my parcel?")), 1)

    def test_vectors_are_unit_length_and_deterministic(self):
        first = self.vectors(["Where is my parcel?", "Cancel my plan"])
        again = self.vectors(["Cancel my plan", "Where is my parcel?"])
        self.assertEqual(first, list(reversed(again)))
        for vector in first:
            self.assertAlmostEqual(math.sqrt(dot(vector, vector)), 1.0, places=9)
        self.assertNotEqual(first[0], first[1])

    def test_texts_that_share_words_are_closer(self):
        query, *articles = self.vectors([
            "How do I reset my password?",
            "Shipping to Canada takes 5 to 8 business days.",
            "Reset your password from Settings, then sign in with the new password.",
            "Cancel your subscription from the billing page.",
        ])
        ranked = sorted(range(3), key=lambda i: -dot(query, articles[i]))
        self.assertEqual(ranked[0], 1)
        self.assertGreater(dot(query, articles[1]), 0.5)
        self.assertLess(abs(dot(query, articles[0])), 0.3)
        # Case and punctuation do not matter; word order neither.
        same = self.vectors(["PASSWORD reset!", "reset password"])
        self.assertAlmostEqual(dot(*same), 1.0, places=9)

    def test_base64_is_little_endian_float32(self):
        floats = self.vectors(["Reset my password"])[0]
        status, body, _ = self.embed(["Reset my password"], encoding_format="base64")
        self.assertEqual(status, 200, body)
        raw = base64.b64decode(body["data"][0]["embedding"])
        self.assertEqual(len(raw), 384 * 4)
        decoded = struct.unpack("<384f", raw)
        self.assertLess(max(abs(a - b) for a, b in zip(decoded, floats)), 1e-6)

    def test_dimensions_shorten_like_openais_models(self):
        full = self.vectors(["Reset my password"])[0]
        short = self.vectors(["Reset my password"], dimensions=64)[0]
        self.assertEqual(len(short), 64)
        self.assertAlmostEqual(dot(short, short), 1.0, places=9)
        norm = math.sqrt(dot(full[:64], full[:64]))
        self.assertLess(max(abs(a / norm - b) for a, b in zip(full, short)), 1e-9, "a renormalised prefix")

    def test_a_batch_of_2048_is_taken_and_2049_refused(self):
        status, body, _ = self.embed(["text %d" % i for i in range(2048)], dimensions=4)
        self.assertEqual((status, len(body["data"]), body["data"][-1]["index"]), (200, 2048, 2047))
        status, body, _ = self.embed(["text"] * 2049, dimensions=4)
        self.assertEqual((status, body["error"]["type"]), (400, "invalid_request_error"))

    def test_refusals_are_openais_400s(self):
        invalid = {"message": fake_openai.INVALID_INPUT, "type": "invalid_request_error", "param": None, "code": None}
        for inputs in ("", [""], ["ok", ""], [], [[1, 2, 3]], [1, 2], None):
            status, body, _ = self.embed(inputs)
            self.assertEqual((status, body), (400, {"error": invalid}), inputs)
        for options in ({"dimensions": 0}, {"dimensions": "64"}, {"encoding_format": "int8"}, {"model": ""}):
            status, body, _ = self.embed(["x"], **options)
            self.assertEqual((status, body["error"]["type"]), (400, "invalid_request_error"), options)
        answer = fakehttp.http_call("POST", self.server.url + "/v1/embeddings", b"{not json",
                                    {"Content-Type": "application/json"})
        self.assertEqual(answer.status, 400)
        self.assertIn("could not parse the JSON body", json.loads(answer.body)["error"]["message"])


class ChatCompletions(FakeOpenAICase):
    def test_answer_is_openais_chat_completion(self):
        status, body, _ = self.chat("How can I reset my password?")
        self.assertEqual(status, 200, body)
        self.assertRegex(body["id"], r"^chatcmpl-[A-Za-z0-9]{29}$")
        self.assertEqual((body["object"], body["model"]), ("chat.completion", "gpt-4o-mini"))
        self.assertIsInstance(body["created"], int)
        self.assertLessEqual(abs(body["created"] - time.time()), 5)
        choice = body["choices"][0]
        self.assertEqual((choice["index"], choice["finish_reason"]), (0, "stop"))
        self.assertEqual(choice["message"]["role"], "assistant")
        self.assertNotIn("tool_calls", choice["message"])
        usage = body["usage"]
        self.assertEqual(usage["prompt_tokens"], fake_openai.count_tokens(ARTICLES + "\nHow can I reset my password?"))
        self.assertEqual(usage["total_tokens"], usage["prompt_tokens"] + usage["completion_tokens"])
        self.assertGreater(usage["completion_tokens"], 0)

    def test_text_answer_cites_the_first_article(self):
        content = self.completion("How can I reset my password?")["message"]["content"]
        self.assertEqual(content, "Reset your password from Settings > Security > Reset password.\n"
                                  "[article: reset-password]")

    def test_json_schema_answer(self):
        choice = self.completion("How can I reset my password?", response_format=REPLY_SCHEMA)
        self.assertEqual(choice["finish_reason"], "stop")
        self.assertEqual(json.loads(choice["message"]["content"]), {
            "answer": "Reset your password from Settings > Security > Reset password.",
            "citations": ["reset-password"], "handoff": False})

    def test_articles_in_a_user_message_count_too(self):
        messages = [{"role": "system", "content": "You are a support agent."},
                    {"role": "user", "content": [{"type": "text", "text": "[article: shipping-canada] 5 to 8 days."},
                                                 {"type": "text", "text": "How long to Canada?"}]}]
        status, body, _ = self.post("/chat/completions", {"model": "m", "messages": messages})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["choices"][0]["message"]["content"].endswith("[article: shipping-canada]"))

    def test_no_article_hands_off_through_the_handoff_tool(self):
        choice = self.completion("Can you refund my order?", system="You are a support agent.",
                                 tools=[ANSWER_TOOL, HANDOFF_TOOL])
        self.assertEqual(choice["finish_reason"], "tool_calls")
        message = choice["message"]
        self.assertIsNone(message["content"])
        self.assertEqual(len(message["tool_calls"]), 1)
        tool_call = message["tool_calls"][0]
        self.assertRegex(tool_call["id"], r"^call_[A-Za-z0-9]{24}$")
        self.assertEqual((tool_call["type"], tool_call["function"]["name"]), ("function", "handoff"))
        self.assertIsInstance(tool_call["function"]["arguments"], str, "arguments are a JSON string, as OpenAI's")
        self.assertTrue(json.loads(tool_call["function"]["arguments"])["reason"])

    def test_the_word_handoff_hands_off_despite_an_article(self):
        choice = self.completion("HANDOFF please, reset my password", tools=[HANDOFF_TOOL])
        self.assertEqual(choice["message"]["tool_calls"][0]["function"]["name"], "handoff")
        self.assertIn("person", json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"])["reason"])

    def test_handoff_in_json_without_a_handoff_tool(self):
        choice = self.completion("Can you refund my order?", system="Be helpful.", response_format=REPLY_SCHEMA)
        reply = json.loads(choice["message"]["content"])
        self.assertEqual((reply["handoff"], reply["citations"], reply["answer"]), (True, [], ""))
        self.assertTrue(reply["reason"])

    def test_tools_without_a_handoff_leave_the_answer_in_text(self):
        choice = self.completion("How can I reset my password?", tools=[HANDOFF_TOOL])
        self.assertEqual(choice["finish_reason"], "stop")
        self.assertTrue(choice["message"]["content"].endswith("[article: reset-password]"))
        self.assertNotIn("tool_calls", choice["message"])

    def test_tool_choice_none_and_required(self):
        choice = self.completion("Refund?", system="x", tools=[HANDOFF_TOOL], tool_choice="none")
        self.assertNotIn("tool_calls", choice["message"])
        self.assertTrue(choice["message"]["content"])
        choice = self.completion("How can I reset my password?", tools=[HANDOFF_TOOL, ANSWER_TOOL],
                                 tool_choice="required")
        tool_call = choice["message"]["tool_calls"][0]["function"]
        self.assertEqual(tool_call["name"], "answer")
        self.assertEqual(json.loads(tool_call["arguments"])["citations"], ["reset-password"])

    def test_max_tokens_cuts_the_answer(self):
        choice = self.completion("How can I reset my password?", max_completion_tokens=3)
        self.assertEqual(choice["finish_reason"], "length")
        self.assertEqual(choice["message"]["content"], "Reset your")  # 2 words = 3 tokens
        choice = self.completion("How can I reset my password?", max_tokens=3, response_format=REPLY_SCHEMA)
        self.assertEqual(choice["finish_reason"], "length")
        with self.assertRaises(ValueError):
            json.loads(choice["message"]["content"])

    def test_refusals_are_openais_400s(self):
        cases = [{"messages": []}, {"messages": [{"role": "robot", "content": "x"}]}, {"model": ""},
                 {"tool_choice": "auto"}, {"temperature": 3}, {"max_tokens": 0}, {"stream": True},
                 {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
                 {"tools": [{"type": "function"}]},
                 {"tools": [HANDOFF_TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}}]
        for case in cases:
            body = dict({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, **case)
            status, answer, _ = self.post("/chat/completions", body)
            self.assertEqual((status, answer["error"]["type"]), (400, "invalid_request_error"), case)
        status, answer, _ = self.post("/chat/completions", {"model": "m"})
        self.assertEqual((status, answer["error"]["code"]), (400, "missing_required_parameter"))


class Script(FakeOpenAICase):
    def test_replies_are_used_in_order_then_the_default(self):
        self.control("script", {"replies": [
            {"content": "first"},
            {"json": {"answer": "scripted", "citations": ["x"], "handoff": False}},
            {"tool_call": {"name": "lookup_order", "arguments": {"order": 7}}},
            {"content": "checking", "tool_call": {"name": "handoff", "arguments": "{not json"}},
        ]})
        self.assertEqual(self.completion("a")["message"]["content"], "first")
        self.assertEqual(json.loads(self.completion("b")["message"]["content"])["answer"], "scripted")
        choice = self.completion("c")
        self.assertEqual(choice["finish_reason"], "tool_calls")
        self.assertEqual(choice["message"]["tool_calls"][0]["function"],
                         {"name": "lookup_order", "arguments": '{"order": 7}'})
        choice = self.completion("d")
        self.assertEqual(choice["message"]["content"], "checking")
        self.assertEqual(choice["message"]["tool_calls"][0]["function"]["arguments"], "{not json")
        self.assertTrue(self.completion("How can I reset my password?")["message"]["content"]
                        .endswith("[article: reset-password]"), "the script is used up")

    def test_a_reply_with_match_waits_for_its_message(self):
        self.control("script", {"replies": [{"match": "refund", "content": "refund reply"}, {"content": "any"}]})
        self.assertEqual(self.completion("hello")["message"]["content"], "any")
        self.assertEqual(self.completion("I want a refund")["message"]["content"], "refund reply")
        self.assertTrue(self.completion("I want a refund")["message"]["content"].endswith("]"))

    def test_a_new_script_replaces_the_old(self):
        self.control("script", {"replies": [{"content": "old"}]})
        self.control("script", {"replies": [{"content": "new"}]})
        self.assertEqual(self.completion("x")["message"]["content"], "new")

    def test_bad_replies_are_refused(self):
        for reply in ({}, {"content": "a", "json": {}}, {"text": "a"}, {"tool_call": {"arguments": {}}}):
            status, _, _ = call("POST", self.server.url + "/_control/openai/script", {"replies": [reply]})
            self.assertEqual(status, 400, reply)


class RequestLog(FakeOpenAICase):
    api_key = KEY

    def test_every_request_is_recorded_without_its_key(self):
        self.embed(["one"])
        self.chat("two")
        self.post("/embeddings", {"model": "m", "input": "three"}, key="wrong")
        requests = self.control("requests")["requests"]
        self.assertEqual([(r["method"], r["path"], r["status"]) for r in requests], [
            ("POST", "/v1/embeddings", 200), ("POST", "/v1/chat/completions", 200), ("POST", "/v1/embeddings", 401)])
        self.assertEqual(requests[0]["body"], {"model": "text-embedding-3-small", "input": ["one"]})
        self.assertEqual(requests[1]["body"]["messages"][-1], {"role": "user", "content": "two"})
        for request in requests:
            headers = {name.lower(): value for name, value in request["headers"].items()}
            self.assertEqual(headers.get("content-type"), "application/json")
            self.assertNotIn("authorization", headers)
            self.assertNotIn(KEY, json.dumps(request))

    def test_reset_clears_the_log_script_faults_and_flavour(self):
        self.control("script", {"replies": [{"content": "scripted"}]})
        self.control("faults", {"server_error": 5})
        self.control("flavour", {"flavour": "vllm"})
        self.embed(["x"])
        self.control("reset", {})
        self.assertEqual(self.control("requests")["requests"], [])
        self.assertNotEqual(self.completion("How can I reset my password?")["message"]["content"], "scripted")
        status, body, _ = self.embed([""])
        self.assertEqual((status, body["error"]["type"]), (400, "invalid_request_error"), "openai again")


class Faults(FakeOpenAICase):
    def test_rate_limit_is_429_with_retry_after(self):
        self.control("faults", {"rate_limit": 2, "retry_after": 3})
        for _ in range(2):
            status, body, headers = self.embed(["x"])
            self.assertEqual(status, 429)
            self.assertEqual(headers.get("Retry-After"), "3")
            self.assertEqual((body["error"]["type"], body["error"]["code"], body["error"]["param"]),
                             ("requests", "rate_limit_exceeded", None))
            self.assertTrue(body["error"]["message"].startswith("Rate limit reached"))
        self.assertEqual(self.embed(["x"])[0], 200)
        self.assertEqual([(r["status"], r["fault"]) for r in self.control("requests")["requests"]],
                         [(429, "rate_limit"), (429, "rate_limit"), (200, None)])

    def test_insufficient_quota_is_a_429_not_worth_retrying(self):
        self.control("faults", {"insufficient_quota": 1})
        status, body, headers = self.chat("x")
        self.assertEqual(status, 429)
        self.assertEqual((body["error"]["type"], body["error"]["code"]), ("insufficient_quota", "insufficient_quota"))
        self.assertNotIn("Retry-After", headers)
        self.assertEqual(self.chat("x")[0], 200)

    def test_server_error_and_overloaded(self):
        self.control("faults", {"server_error": 1, "overloaded": 1})
        status, body, _ = self.chat("x")
        self.assertEqual((status, body), (500, {"error": {"message": fake_openai.SERVER_ERROR, "type": "server_error",
                                                          "param": None, "code": None}}))
        status, body, _ = self.chat("x")
        self.assertEqual((status, body["error"]["type"]), (503, "server_error"))
        self.assertIn("overloaded", body["error"]["message"])
        self.assertEqual(self.chat("x")[0], 200)

    def test_reset_closes_the_connection_unanswered(self):
        self.control("faults", {"reset": 1})
        status, _, _ = self.embed(["x"])
        self.assertEqual(status, 0)
        self.assertEqual(self.embed(["x"])[0], 200)
        self.assertEqual([r["status"] for r in self.control("requests")["requests"]], [0, 200])

    def test_malformed_is_a_200_that_is_not_json(self):
        self.control("faults", {"malformed": 2})
        for answer in (self.embed(["x"]), self.chat("x")):
            status, body, headers = answer
            self.assertEqual(status, 200)
            self.assertTrue(headers["Content-Type"].startswith("application/json"))
            self.assertIsInstance(body, str, "the body did not parse")
            with self.assertRaises(ValueError):
                json.loads(body)

    def test_faults_can_be_kept_to_one_endpoint(self):
        self.control("faults", {"server_error": 1, "path": "chat"})
        self.assertEqual(self.embed(["x"])[0], 200)
        self.assertEqual(self.chat("x")[0], 500)
        status, _, _ = call("POST", self.server.url + "/_control/openai/faults", {"path": "completions"})
        self.assertEqual(status, 400)
        status, _, _ = call("POST", self.server.url + "/_control/openai/faults", {"rate_limt": 1})
        self.assertEqual(status, 400, "a misspelt fault is refused")

    def test_delayed_requests_are_in_flight_together(self):
        self.control("faults", {"delay_ms": 400})
        spans = []

        def one(i):
            started = time.time()
            status = self.embed(["text %d" % i])[0]
            spans.append((started, time.time(), status))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        self.assertEqual([s[2] for s in spans], [200] * 4)
        for started, ended, _ in spans:
            self.assertGreaterEqual(ended - started, 0.4)
        self.assertLess(max(s[0] for s in spans), min(s[1] for s in spans), "all four overlapped")
        self.assertLess(max(s[1] for s in spans) - min(s[0] for s in spans), 1.2, "not one after another")


class Flavours(FakeOpenAICase):
    def flavour(self, name, **options):
        self.control("flavour", dict({"flavour": name}, **options))

    def test_vllm_errors_are_flat(self):
        self.flavour("vllm")
        status, body, _ = self.embed([""])
        self.assertEqual((status, body), (400, {"object": "error", "message": fake_openai.INVALID_INPUT,
                                                "type": "BadRequestError", "param": None, "code": 400}))
        self.control("faults", {"server_error": 1})
        status, body, _ = self.chat("x")
        self.assertEqual((status, body["object"], body["type"], body["code"]), (500, "error", "InternalServerError", 500))
        self.assertEqual(self.control("flavour", {})["flavour"], "vllm")
        self.assertEqual(json.loads(self.completion("How can I reset my password?", response_format=REPLY_SCHEMA)
                                    ["message"]["content"])["citations"], ["reset-password"])

    def test_llamacpp_refuses_json_schema_so_the_client_falls_back_to_tools(self):
        self.flavour("llamacpp")
        status, body, _ = self.chat("How can I reset my password?", response_format=REPLY_SCHEMA)
        self.assertEqual(status, 400)
        self.assertEqual(set(body), {"error"})
        self.assertEqual((body["error"]["code"], body["error"]["type"]), (400, "invalid_request_error"))
        self.assertIn("json_schema", body["error"]["message"])
        choice = self.completion("Can you refund my order?", system="x", tools=[HANDOFF_TOOL])
        self.assertEqual(choice["message"]["tool_calls"][0]["function"]["name"], "handoff")
        self.assertTrue(self.completion("How can I reset my password?", tools=[HANDOFF_TOOL])["message"]["content"]
                        .endswith("[article: reset-password]"))
        self.control("faults", {"server_error": 1})
        status, body, _ = self.chat("x")
        self.assertEqual((status, body), (500, {"error": {"code": 500, "message": fake_openai.SERVER_ERROR,
                                                          "type": "server_error"}}))

    def test_ollama_drops_the_start_of_a_long_prompt(self):
        filler = " ".join(["word"] * 1600)  # 2080 tokens after the articles: over 2048
        long_question = filler + " How can I reset my password?"
        status, body, _ = self.chat(long_question, response_format=REPLY_SCHEMA)
        self.assertEqual(status, 200)
        full = body["usage"]["prompt_tokens"]
        self.assertGreater(full, 2048)
        self.assertEqual(json.loads(body["choices"][0]["message"]["content"])["citations"], ["reset-password"])

        self.flavour("ollama")
        status, body, _ = self.chat(long_question, response_format=REPLY_SCHEMA)
        self.assertEqual(status, 200)
        self.assertLessEqual(body["usage"]["prompt_tokens"], 2048, "the truncated count")
        reply = json.loads(body["choices"][0]["message"]["content"])
        self.assertTrue(reply["handoff"], "the articles at the start were dropped")
        choice = self.completion("Can you refund?", system="x", tools=[HANDOFF_TOOL])
        self.assertEqual(choice["message"]["tool_calls"][0]["function"]["name"], "handoff")

        self.flavour("ollama", num_ctx=8192)
        status, body, _ = self.chat(long_question, response_format=REPLY_SCHEMA)
        self.assertEqual(body["usage"]["prompt_tokens"], full)

    def test_the_model_list_and_unknown_flavours(self):
        status, body, _ = call("GET", self.server.url + "/v1/models")
        self.assertEqual(status, 200)
        self.assertEqual([(m["id"], m["object"]) for m in body["data"]], [("fte-sim", "model")])
        status, _, _ = call("POST", self.server.url + "/_control/openai/flavour", {"flavour": "bard"})
        self.assertEqual(status, 400)


class Auth(FakeOpenAICase):
    api_key = KEY

    def test_a_wrong_or_missing_key_is_openais_401(self):
        status, body, _ = self.post("/embeddings", {"model": "m", "input": "x"}, key="sk-wrong-key-0000")
        self.assertEqual(status, 401)
        self.assertEqual((body["error"]["type"], body["error"]["code"], body["error"]["param"]),
                         ("invalid_request_error", "invalid_api_key", None))
        self.assertTrue(body["error"]["message"].startswith("Incorrect API key provided: sk-**********0000."))
        status, body, _ = self.post("/chat/completions", {"model": "m", "messages": []}, key=None)
        self.assertEqual((status, body["error"]["code"]), (401, None))
        self.assertIn("didn't provide an API key", body["error"]["message"])
        self.assertEqual(call("GET", self.server.url + "/v1/models")[0], 401)
        self.assertEqual(self.embed(["x"])[0], 200)

    def test_the_401_comes_before_faults(self):
        self.control("faults", {"server_error": 1})
        self.assertEqual(self.embed(["x"])[0], 500)
        self.control("faults", {"server_error": 1})
        self.assertEqual(self.post("/embeddings", {"model": "m", "input": "x"}, key="nope")[0], 401)
        self.assertEqual(self.embed(["x"])[0], 500, "the fault was still there")

    def test_flavours_refuse_in_their_own_shape(self):
        self.control("flavour", {"flavour": "vllm"})
        self.assertEqual(self.embed(["x"])[0], 200)
        self.assertEqual(self.post("/embeddings", {"model": "m", "input": "x"}, key=None)[1], {"error": "Unauthorized"})
        self.control("flavour", {"flavour": "llamacpp"})
        self.assertEqual(self.post("/embeddings", {"model": "m", "input": "x"}, key=None)[1],
                         {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}})


class Processes(unittest.TestCase):
    def test_main_serves_until_sigterm(self):
        process = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_openai.py"), "--quiet", "--api-key", KEY,
                                    "--model", "my-model", "--delay-ms", "50"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = process.stdout.readline()
            self.assertIn("fte openai simulator ready", ready, process.stderr.read() if not ready else "")
            base = re.search(r"ready: (http://\S+/v1)", ready).group(1)
            started = time.time()
            status, body, _ = call("GET", base + "/models", headers={"Authorization": "Bearer " + KEY})
            self.assertEqual((status, body["data"][0]["id"]), (200, "my-model"))
            self.assertGreaterEqual(time.time() - started, 0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=10)
        self.assertEqual(process.returncode, 0, err)
        self.assertIn("stopped", out)

    def test_providers_serve_it_only_when_asked(self):
        with providers.Providers(quiet=True) as without:
            self.assertNotIn("FTE_LLM_BASE_URL", without.service_env())
            self.assertNotIn("openai", without.ready_line())
        with providers.Providers(quiet=True, openai_port=0) as together:
            env = together.service_env()
            self.assertRegex(env["FTE_LLM_BASE_URL"], r"^http://127\.0\.0\.1:\d+/v1$")
            self.assertEqual(env["FTE_EMBEDDINGS_BASE_URL"], env["FTE_LLM_BASE_URL"])
            self.assertIn("openai " + env["FTE_LLM_BASE_URL"], together.ready_line())
            status, body, _ = call("POST", env["FTE_EMBEDDINGS_BASE_URL"] + "/embeddings",
                                   {"model": "m", "input": "hello"})
            self.assertEqual((status, len(body["data"][0]["embedding"])), (200, 384))


if __name__ == "__main__":
    unittest.main()
