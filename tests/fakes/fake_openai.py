#!/usr/bin/python3
"""A fake OpenAI-compatible API (embeddings, chat completions) in OpenAI's
wire format, with the quirks of the self-hosted servers that imitate it.

- `POST /v1/embeddings` `{"model", "input": string | [string], "dimensions",
  "encoding_format": "float" | "base64"}`: deterministic unit vectors (384
  dimensions unless `dimensions`), the normalised sum of a pseudo-random
  vector per lowercased word, so texts that share words are close and a
  client's retrieval can be tested for sense. `dimensions` shortens them the
  way OpenAI's models do (the leading components, renormalised); base64 is
  little-endian float32. At most 2048 inputs; an empty one is OpenAI's 400.
- `POST /v1/chat/completions` `{"model", "messages", "tools", "tool_choice",
  "response_format", "max_tokens" | "max_completion_tokens", "temperature"}`:
  the next scripted reply (`/_control/openai/script`) whose `match` is in the
  last user message, else a stand-in for a support model: it hands off (a
  call to the `handoff` tool when one is offered) when the last user message
  says HANDOFF or no `[article: SLUG]` appears in the system or user
  messages, and otherwise answers from the first such article, citing it (a
  JSON object `{"answer","citations","handoff"}` under a json_schema or
  json_object response_format, else text ending `[article: SLUG]`). A
  tool_choice that demands a tool ("required", or one named) gets a call to
  it with that object as arguments (`{"reason"}` for handoff).
- `GET /v1/models`: the one model.
- `Authorization: Bearer <key>` when started with an API key.
- Faults, flavours (vllm, llamacpp, ollama) and the request log through
  `/_control/openai/...` (see `router`).

Tokens are counted as 1.3 per whitespace-separated word, for usage and for
the limits (`max_tokens`, ollama's `num_ctx`).
"""

import argparse
import base64
import functools
import hashlib
import http
import json
import math
import random
import re
import secrets
import signal
import string
import struct
import sys
import threading
import time

import fakehttp

DEFAULT_MODEL = "fte-sim"
DEFAULT_DIMENSIONS = 384
MAX_DIMENSIONS = 4096
MAX_EMBEDDING_INPUTS = 2048
DEFAULT_NUM_CTX = 2048  # ollama's default context length
FLAVOURS = ("openai", "vllm", "llamacpp", "ollama")
MODEL_OWNERS = {"openai": "system", "vllm": "vllm", "llamacpp": "llamacpp", "ollama": "library"}
ROLES = ("system", "developer", "user", "assistant", "tool")
ARTICLE = re.compile(r"\[article:\s*([a-z0-9][a-z0-9-]*)\]")
HANDOFF_WORD = re.compile(r"\bHANDOFF\b")
# Left out of the embedding when a text has other words, so that a question
# and an article meet on what they are about rather than on "how do I".
STOP_WORDS = frozenset("a an and are be can do does for from how i in is it me my of on or the this that to was "
                       "what when where which with you your".split())

INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
INVALID_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.")
RATE_LIMITED = ("Rate limit reached for %s in organization org-fte-sim on requests per min (RPM): Limit 3, Used 3, "
                "Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to "
                "learn more.")
NO_QUOTA = ("You exceeded your current quota, please check your plan and billing details. For more information on "
            "this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.")
SERVER_ERROR = ("The server had an error while processing your request. Sorry about that! You can retry your request, "
                "or contact us through our help center at help.openai.com if the error persists.")
OVERLOADED = ("That model is currently overloaded with other requests. You can retry your request, or contact us "
              "through our help center at help.openai.com if the error persists.")
NO_KEY = ("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
          "auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
          "https://platform.openai.com/account/api-keys.")
WRONG_KEY = "Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys."
# The start of a real answer, cut off: what a proxy that died mid-body sends.
MALFORMED_BODIES = {
    "embeddings": b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0123,-0.04',
    "chat": b'{"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","con',
    "models": b'{"object":"list","data":[{"id":"',
}
# llama.cpp server's error types by status (its ERROR_TYPE_*); others are server_error.
LLAMACPP_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                        404: "not_found_error", 501: "not_supported_error", 503: "unavailable_error"}


def count_tokens(text):
    """About 1.3 tokens a word, the usual rule of thumb for English BPE."""
    return _tokens_of_words(len(text.split()))


def _tokens_of_words(words):
    return (words * 13 + 9) // 10  # ceil(words * 1.3) in integers


def _words_within(tokens):
    """The most words that count as at most `tokens`."""
    return tokens * 10 // 13


@functools.lru_cache(maxsize=65536)
def _word_vector(word, dimensions):
    """Gaussian components from a generator seeded by the word. Not normalised
    per word: every word's norm is about sqrt(dimensions) anyway, and leaving
    it keeps a shorter vector the prefix of a longer one, so `dimensions`
    truncates as OpenAI's models do."""
    rng = random.Random(int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "big"))
    return tuple(rng.gauss(0.0, 1.0) for _ in range(dimensions))


def embed(text, dimensions=DEFAULT_DIMENSIONS):
    """The unit vector of `text`: the normalised sum of its words' vectors."""
    words = re.findall(r"\w+", text.lower())
    content = [w for w in words if w not in STOP_WORDS] or words or [text]
    total = [0.0] * dimensions
    for word in content:
        total = [a + b for a, b in zip(total, _word_vector(word, dimensions))]
    norm = math.sqrt(sum(x * x for x in total))
    return [x / norm for x in total]


def message_text(message):
    """A message's content as text (a string, or the text parts of an array)."""
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def last_user_text(messages):
    return next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")


def _tool_names(body):
    return [tool["function"]["name"] for tool in body.get("tools") or []]


def truncate_prompt(messages, num_ctx):
    """Ollama's silent truncation: words dropped from the start of the prompt
    until it fits `num_ctx` tokens."""
    words = [message_text(m).split() for m in messages]
    excess = sum(map(len, words)) - _words_within(num_ctx)
    if excess <= 0:
        return messages
    kept = []
    for message, text_words in zip(messages, words):
        dropped = min(excess, len(text_words))
        excess -= dropped
        kept.append(dict(message, content=" ".join(text_words[dropped:])))
    return kept


def _random_id(prefix, length):
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def error_response(flavour, status, message, error_type="invalid_request_error", code=None, param=None,
                   headers=None):
    """An error in the flavour's shape: OpenAI's (Ollama's /v1 uses it too),
    vLLM's flat ErrorResponse, or llama.cpp server's."""
    if flavour == "vllm":
        vllm_type = {400: "BadRequestError", 404: "NotFoundError"}.get(
            status, "InternalServerError" if status >= 500 else http.HTTPStatus(status).phrase.replace(" ", "") + "Error")
        body = {"object": "error", "message": message, "type": vllm_type, "param": None, "code": status}
    elif flavour == "llamacpp":
        body = {"error": {"code": status, "message": message, "type": LLAMACPP_ERROR_TYPES.get(status, "server_error")}}
    else:
        body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return fakehttp.json_response(status, body, headers)


class Faults:
    """Counted faults: each API request meets at most one, the first of
    COUNTED with a count left, which it uses up."""

    COUNTED = ("reset", "rate_limit", "insufficient_quota", "server_error", "overloaded", "malformed")
    PATHS = (None, "embeddings", "chat", "models")

    def __init__(self, delay_ms=0):
        self.counts = dict.fromkeys(self.COUNTED, 0)
        self.retry_after = 1  # seconds, the 429s' Retry-After; None: no header
        self.delay_ms = delay_ms  # every answer this late
        self.path = None  # "embeddings", "chat" or "models": only that endpoint meets the faults

    def update(self, body):
        unknown = set(body) - set(self.COUNTED) - {"retry_after", "delay_ms", "path"}
        if unknown:
            raise ValueError("unknown faults %s" % sorted(unknown))
        if body.get("path") not in self.PATHS:
            raise ValueError("path must be embeddings, chat or models")
        self.counts.update({name: int(body[name]) for name in self.COUNTED if name in body})
        if "retry_after" in body:
            self.retry_after = None if body["retry_after"] is None else int(body["retry_after"])
        if "delay_ms" in body:
            self.delay_ms = int(body["delay_ms"])
        if "path" in body:
            self.path = body["path"]

    def applies(self, endpoint):
        return self.path in (None, endpoint)

    def take(self):
        for name in self.COUNTED:
            if self.counts[name] > 0:
                self.counts[name] -= 1
                return name
        return None

    def as_dict(self):
        return dict(self.counts, retry_after=self.retry_after, delay_ms=self.delay_ms, path=self.path)


def _scripted_reply(raw):
    """A canned reply as the control API takes it -> {"match", "content", "tool_call"}."""
    if not isinstance(raw, dict):
        raise ValueError("a reply is an object")
    unknown = set(raw) - {"match", "content", "tool_call", "json"}
    if unknown:
        raise ValueError("unknown reply fields %s" % sorted(unknown))
    if "content" in raw and "json" in raw:
        raise ValueError("a reply has content or json, not both")
    if not {"content", "tool_call", "json"} & set(raw):
        raise ValueError("a reply needs content, tool_call or json")
    if not all(isinstance(raw[name], str) for name in ("match", "content") if raw.get(name) is not None):
        raise ValueError("match and content are strings")
    content = json.dumps(raw["json"]) if "json" in raw else raw.get("content")
    tool_call = None
    if "tool_call" in raw:
        name, arguments = raw["tool_call"]["name"], raw["tool_call"].get("arguments", {})
        # A string is sent as given, so a test can script arguments that are not JSON.
        tool_call = (name, arguments if isinstance(arguments, str) else json.dumps(arguments))
    return {"match": raw.get("match"), "content": content, "tool_call": tool_call}


class OpenAIFake:
    def __init__(self, model=DEFAULT_MODEL, api_key=None, delay_ms=0, log=None):
        self.model = model
        self.api_key = api_key
        self.default_delay_ms = delay_ms
        self.created = int(time.time())
        self.log = log or fakehttp.Log()
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.script = []  # canned chat replies, first match first
            self.faults = Faults(self.default_delay_ms)
            self.flavour = "openai"
            self.num_ctx = DEFAULT_NUM_CTX
            self.requests = []  # every API request, with the status it got

    # ----- what every API request goes through ----------------------------

    def _api(self, endpoint, answer):
        """Records the request, then: auth, the faults, the body as JSON, and
        `answer(body, flavour)`; the fault delay applies to whatever comes out."""
        def handler(request):
            try:
                body = json.loads(request.body.decode("utf-8")) if request.body else None
            except (ValueError, UnicodeDecodeError):
                body = request.body.decode("utf-8", "replace")
            entry = {"at": time.time(), "method": request.method, "path": request.path, "body": body,
                     "headers": {k: v for k, v in request.headers.items() if k.lower() != "authorization"},
                     "status": None, "fault": None}
            with self.lock:
                self.requests.append(entry)
                flavour = self.flavour
                faults = self.faults if self.faults.applies(endpoint) else Faults()
            response = self._unauthorised(request, flavour)
            if response is None:
                with self.lock:
                    entry["fault"] = faults.take()
                if entry["fault"]:
                    response = self._fault(entry["fault"], endpoint, flavour, faults.retry_after)
                elif request.method == "POST" and not isinstance(body, dict):
                    response = error_response(flavour, 400, INVALID_JSON)
                else:
                    response = answer(body, flavour)
            if faults.delay_ms:
                time.sleep(faults.delay_ms / 1000.0)
            entry["status"] = 0 if response.drop_connection else response.status
            return response
        return handler

    def _unauthorised(self, request, flavour):
        """None when no key is required or the right one came; else the 401."""
        header = request.header("Authorization", "")
        if not self.api_key or header == "Bearer " + self.api_key:
            return None
        if flavour == "vllm":
            return fakehttp.json_response(401, {"error": "Unauthorized"})
        if flavour == "llamacpp":
            return error_response(flavour, 401, "Invalid API Key")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return error_response(flavour, 401, NO_KEY)
        key = header[7:].strip()
        masked = key[:3] + "*" * (len(key) - 7) + key[-4:] if len(key) > 8 else "*" * len(key)
        return error_response(flavour, 401, WRONG_KEY % masked, code="invalid_api_key")

    def _fault(self, fault, endpoint, flavour, retry_after):
        if fault == "reset":
            return fakehttp.dropped_connection()
        if fault == "malformed":
            return fakehttp.Response(200, MALFORMED_BODIES[endpoint], content_type="application/json")
        if fault == "rate_limit":
            headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
            return error_response(flavour, 429, RATE_LIMITED % self.model, "requests", "rate_limit_exceeded",
                                  headers=headers)
        if fault == "insufficient_quota":
            return error_response(flavour, 429, NO_QUOTA, "insufficient_quota", "insufficient_quota")
        if fault == "server_error":
            return error_response(flavour, 500, SERVER_ERROR, "server_error")
        return error_response(flavour, 503, OVERLOADED, "server_error")  # overloaded

    # ----- the API ----------------------------------------------------------

    def models(self, body, flavour):
        return fakehttp.json_response(200, {"object": "list", "data": [
            {"id": self.model, "object": "model", "created": self.created, "owned_by": MODEL_OWNERS[flavour]}]})

    def embeddings(self, body, flavour):
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        dimensions = body.get("dimensions", DEFAULT_DIMENSIONS)
        encoding = body.get("encoding_format", "float")
        if not body.get("model"):
            return error_response(flavour, 400, "you must provide a model parameter")
        # Token arrays (OpenAI takes them) fail here too: fte sends text.
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            return error_response(flavour, 400, INVALID_INPUT)
        if len(texts) > MAX_EMBEDDING_INPUTS:
            return error_response(flavour, 400, "'$.input' is invalid: at most %d inputs per request."
                                  % MAX_EMBEDDING_INPUTS, param="input")
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= MAX_DIMENSIONS:
            return error_response(flavour, 400, "Invalid value for 'dimensions' = %s. Must be an integer from 1 "
                                  "to %d." % (dimensions, MAX_DIMENSIONS), param="dimensions")
        if encoding not in ("float", "base64"):
            return error_response(flavour, 400, "Invalid value for 'encoding_format': '%s'. Supported values are: "
                                  "'float' and 'base64'." % encoding, param="encoding_format")
        data = []
        for index, text in enumerate(texts):
            vector = embed(text, dimensions)
            if encoding == "base64":
                vector = base64.b64encode(struct.pack("<%df" % dimensions, *vector)).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(count_tokens(t) for t in texts)
        return fakehttp.json_response(200, {"object": "list", "data": data, "model": body["model"],
                                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def _chat_refusal(self, body, flavour):
        """The 400 for a chat request the API will not run (None: acceptable)."""
        def bad(message, param=None, code=None):
            return error_response(flavour, 400, message, code=code, param=param)

        if not body.get("model"):
            return bad("you must provide a model parameter")
        messages = body.get("messages")
        if messages is None:
            return bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
        if not isinstance(messages, list) or not messages:
            return bad("Invalid 'messages': expected a non-empty array.", "messages", "invalid_value")
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ROLES:
                return bad("Invalid value: '%s'. Supported values are: %s." % (role, ", ".join(ROLES)),
                           "messages[%d].role" % index, "invalid_value")
        if body.get("stream"):
            return bad("This simulator answers whole completions only: send stream false.", "stream")
        temperature = body.get("temperature", 1)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            return bad("Invalid 'temperature': expected a number from 0 to 2.", "temperature", "invalid_value")
        for name in ("max_tokens", "max_completion_tokens"):
            limit = body.get(name)
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
                return bad("Invalid '%s': expected an integer of at least 1." % name, name, "invalid_value")
        response_format = body.get("response_format") or {"type": "text"}
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            return bad("Invalid value: '%s'. Supported values are: 'text', 'json_object' and 'json_schema'." % kind,
                       "response_format.type", "invalid_value")
        if kind == "json_schema":
            if flavour == "llamacpp":  # llama.cpp server before JSON-schema support
                return bad('response_format type must be one of "text" or "json_object", but got: json_schema')
            schema = response_format.get("json_schema")
            if not isinstance(schema, dict) or not schema.get("name"):
                return bad("Missing required parameter: 'response_format.json_schema.name'.",
                           "response_format.json_schema.name", "missing_required_parameter")
        tools = body.get("tools")
        if tools is not None:
            for index, tool in enumerate(tools if isinstance(tools, list) else [None]):
                function = tool.get("function") if isinstance(tool, dict) else None
                if not isinstance(function, dict) or tool.get("type") != "function" or not function.get("name"):
                    return bad("Invalid 'tools[%d]': expected {\"type\": \"function\", \"function\": {\"name\", ...}}."
                               % index, "tools[%d]" % index, "invalid_value")
        choice = body.get("tool_choice")
        if choice is not None:
            if not tools:
                return bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                           "specified.", "tool_choice")
            function = choice.get("function") if isinstance(choice, dict) else None
            named = function.get("name") if isinstance(function, dict) else None
            if choice not in ("none", "auto", "required") and named not in _tool_names(body):
                return bad("Invalid value for 'tool_choice': expected none, auto, required or one of the tools.",
                           "tool_choice", "invalid_value")
        return None

    def chat_completions(self, body, flavour):
        refused = self._chat_refusal(body, flavour)
        if refused:
            return refused
        messages = body["messages"]
        if flavour == "ollama":
            with self.lock:
                num_ctx = self.num_ctx
            messages = truncate_prompt(messages, num_ctx)
        last_user = last_user_text(messages)
        with self.lock:
            index = next((i for i, r in enumerate(self.script) if r["match"] is None or r["match"] in last_user), None)
            reply = self.script.pop(index) if index is not None else None
        if reply:
            self.log("openai", "chat: scripted reply")
        else:
            reply = self._default_reply(messages, body)
        content, tool_call = reply["content"], reply["tool_call"]
        finish_reason = "tool_calls" if tool_call else "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit and content and count_tokens(content) > limit:
            content = " ".join(content.split()[:_words_within(limit)])
            finish_reason = "length"
        message = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
        completion_tokens = count_tokens(content or "")
        if tool_call:
            message["tool_calls"] = [{"id": _random_id("call_", 24), "type": "function",
                                      "function": {"name": tool_call[0], "arguments": tool_call[1]}}]
            completion_tokens += count_tokens(tool_call[1])
        # What the model saw: under ollama, the truncated prompt.
        prompt_tokens = count_tokens("\n".join(message_text(m) for m in messages))
        return fakehttp.json_response(200, {
            "id": _random_id("chatcmpl-", 29),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    def _default_reply(self, messages, body):
        """The stand-in support model: hand off, or answer from the first
        retrieved article (see the module's docstring)."""
        match, text = None, ""
        for message in messages:
            if message.get("role") in ("system", "developer", "user"):
                text = message_text(message)
                match = ARTICLE.search(text)
                if match:
                    break
        reason = None
        if HANDOFF_WORD.search(last_user_text(messages)):
            reason = "The customer asked for a person."
        elif not match:
            reason = "No retrieved article covers the question."
        if reason:
            payload = {"answer": "", "citations": [], "handoff": True, "reason": reason}
            self.log("openai", "chat: handoff (%s)" % reason)
        else:
            # The article's first line after its marker stands for the answer.
            line = next((row.strip() for row in text[match.end():].splitlines() if row.strip()), "")
            payload = {"answer": line[:300] or "See the article.", "citations": [match.group(1)], "handoff": False}
            self.log("openai", "chat: answer citing %s" % match.group(1))

        # The tool it calls: the one tool_choice demands, else handoff when handing off.
        tools = _tool_names(body)
        choice = body.get("tool_choice") or ("auto" if tools else "none")
        tool = None
        if isinstance(choice, dict):
            tool = choice["function"]["name"]
        elif choice == "required":
            others = [name for name in tools if name != "handoff"]
            tool = "handoff" if reason and "handoff" in tools else (others or tools)[0]
        elif reason and choice == "auto" and "handoff" in tools:
            tool = "handoff"
        if tool:
            arguments = {"reason": reason} if tool == "handoff" and reason else payload
            return {"content": None, "tool_call": (tool, json.dumps(arguments))}
        if (body.get("response_format") or {}).get("type") in ("json_schema", "json_object"):
            return {"content": json.dumps(payload), "tool_call": None}
        if reason:
            return {"content": "I am passing this conversation to a colleague. " + reason, "tool_call": None}
        return {"content": "%s\n[article: %s]" % (payload["answer"], payload["citations"][0]), "tool_call": None}

    # ----- routes -----------------------------------------------------------

    def router(self):
        router = fakehttp.Router("openai")
        router.add("POST", r"/v1/embeddings", self._api("embeddings", self.embeddings))
        router.add("POST", r"/v1/chat/completions", self._api("chat", self.chat_completions))
        router.add("GET", r"/v1/models", self._api("models", self.models))

        control = fakehttp.control_handler

        def script(body):
            replies = [_scripted_reply(raw) for raw in body["replies"]]
            with self.lock:
                self.script = replies
            return {"replies": len(replies)}

        def faults(body):
            with self.lock:
                self.faults.update(body)
                return self.faults.as_dict()

        def flavour(body):
            with self.lock:
                if body.get("flavour", self.flavour) not in FLAVOURS:
                    raise ValueError("flavour must be one of %s" % ", ".join(FLAVOURS))
                self.flavour = body.get("flavour", self.flavour)
                self.num_ctx = int(body.get("num_ctx", self.num_ctx))
                return {"flavour": self.flavour, "num_ctx": self.num_ctx}

        def requests(request):
            with self.lock:
                return {"requests": list(self.requests)}

        def reset(body):
            self.reset()
            return {"reset": True}

        router.add("POST", r"/_control/openai/script", control(script))
        router.add("POST", r"/_control/openai/faults", control(faults))
        router.add("POST", r"/_control/openai/flavour", control(flavour))
        router.add("GET", r"/_control/openai/requests", control(requests, with_body=False))
        router.add("POST", r"/_control/openai/reset", control(reset))
        return router


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--api-key", help="require Authorization: Bearer API_KEY")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the model /v1/models lists")
    parser.add_argument("--delay-ms", type=int, default=0, help="answer every API request this late")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    log = fakehttp.Log(args.quiet)
    fake = OpenAIFake(args.model, args.api_key, args.delay_ms, log)
    server = fakehttp.Server(fake.router(), args.host, args.port, log)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    server.start()
    print("fte openai simulator ready: %s/v1 (model %s%s)" % (server.url, args.model,
                                                               ", api key required" if args.api_key else ""),
          flush=True)
    while not stopping.wait(1.0):
        pass
    server.stop()
    print("fte openai simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
