#pragma once

// The escalation desk's decisions as plain functions (ADR 0021): who may do
// what to a conversation in which state, what a customer's message does to
// it, whether a reply's author saw the latest, whether WhatsApp's window is
// open, which template text goes out, who round-robin picks, and what a
// request body asks. desk_store.cpp reads the rows, asks these, and writes
// what they say; tests/desk_rules_test.cpp covers them without a database.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/access/api_token.hpp"

namespace fte::escalation::desk {

enum class Status { open, assigned, waiting, resolved };
[[nodiscard]] std::string_view to_string(Status status) noexcept;
[[nodiscard]] std::optional<Status> parse_status(std::string_view text) noexcept;

/// The part of a conversation the rules read and change.
struct State {
  Status status = Status::open;
  std::string owner; ///< empty when nobody owns it
  friend bool operator==(const State&, const State&) = default;
};

/// Why a request is refused: the HTTP status, the error code the API
/// answers with, a sentence for people, and the owner when it matters
/// (a claim lost to a colleague says to whom).
struct Refusal {
  int status = 409;
  std::string code;
  std::string message;
  std::string owner;
  nlohmann::json details = nullptr; ///< more for the answer body (a stale reply: what changed)
};

/// The state after an action, or why it may not happen.
using Outcome = std::variant<State, Refusal>;

/// What a customer's new message does: it joins the conversation and puts
/// it back in front of people: a resolved or waiting conversation goes to
/// its owner again (assigned), or to the queue (open) when it has none.
[[nodiscard]] State after_customer_message(const State& state);

/// An agent takes an unowned conversation. Exactly one of two concurrent
/// claims wins (the store applies this under the row's lock); the other is
/// told who owns it. Claiming one's own is a no-op, not an error.
[[nodiscard]] Outcome claim(const State& state, const access::Principal& who);
/// The owner (or a supervisor) gives it back to the queue.
[[nodiscard]] Outcome release(const State& state, const access::Principal& who);
/// A supervisor gives it to `to` (who then owns it).
[[nodiscard]] Outcome assign(const State& state, const access::Principal& who, std::string_view to);
/// Whether `who` may reply, and the state after the reply: only the owner
/// replies; a resolved conversation only with `reopen` (the person says
/// so), and then they own it.
[[nodiscard]] Outcome reply(const State& state, const access::Principal& who, bool reopen);
/// The owner or a supervisor resolves.
[[nodiscard]] Outcome resolve(const State& state, const access::Principal& who);
/// A person reopens a resolved conversation and owns it.
[[nodiscard]] Outcome reopen(const State& state, const access::Principal& who);

/// One change since a version, from the audit.
struct Change {
  std::int64_t version = 0;
  std::string action;
  std::string actor;
  std::string at; ///< RFC 3339
};
/// What makes a reply stale (Help Scout's rule): since the version its
/// author saw, the customer wrote or someone else replied. Other changes
/// (a note, a claim) do not change what the reply answers.
[[nodiscard]] std::vector<Change> stale_reply_changes(const std::vector<Change>& since, std::string_view author);

/// WhatsApp's customer-service window: free-form messages only within 24
/// hours of the customer's last message; after it only approved templates.
inline constexpr std::chrono::hours kWhatsAppWindow{24};
struct Window {
  bool open = false;
  /// When it closes (or closed); unset when the customer never wrote on
  /// WhatsApp.
  std::optional<std::chrono::system_clock::time_point> closes_at;
};
[[nodiscard]] Window whatsapp_window(std::optional<std::chrono::system_clock::time_point> last_customer_message,
                                     std::chrono::system_clock::time_point now);

/// An approved WhatsApp template (Twilio Content API): its ContentSid, and
/// its text with {{1}}, {{2}}, ... where the variables go, so people see
/// what the customer receives.
struct WhatsAppTemplate {
  std::string name;
  std::string content_sid;
  std::string text;
};
/// FTE_DESK_WHATSAPP_TEMPLATES: a JSON array of {"name", "content_sid",
/// "text"}. @throws std::invalid_argument naming what is wrong
[[nodiscard]] std::vector<WhatsAppTemplate> parse_templates(std::string_view json);
/// The numbers of the placeholders in a template's text, ascending.
[[nodiscard]] std::vector<int> template_placeholders(std::string_view text);
/// The text with every placeholder replaced, and the ContentVariables
/// object Twilio takes, or a refusal naming the missing or bad variable.
struct RenderedTemplate {
  std::string text;
  nlohmann::json content_variables; ///< {"1": "...", ...}
};
[[nodiscard]] std::variant<RenderedTemplate, Refusal> render(const WhatsAppTemplate& tmpl,
                                                             const nlohmann::json& variables);

/// Round-robin among the agents signed in lately: the one with the fewest
/// open conversations, then the one assigned longest ago, then by name.
struct Candidate {
  std::string name;
  int active = 0;
  std::chrono::system_clock::time_point last_assigned{};
};
/// Picks one and counts the new conversation on them; nullopt when nobody
/// is there (the conversation waits in the queue).
[[nodiscard]] std::optional<std::string> next_assignee(std::vector<Candidate>& candidates,
                                                       std::chrono::system_clock::time_point now);

/// Limits of what people send (Twilio refuses a WhatsApp body over 1,600
/// characters; Gmail takes more, but a desk reply is not a document).
inline constexpr std::size_t kWhatsAppBodyLimit = 1600;
inline constexpr std::size_t kEmailBodyLimit = 20000;
inline constexpr std::size_t kNoteLimit = 10000;
inline constexpr std::size_t kIdempotencyKeyLimit = 255;

/// POST /api/conversations/{id}/replies.
struct ReplyRequest {
  std::int64_t version = 0;           ///< the version its author saw (required)
  std::string body;                   ///< free-form text, or empty with a template
  std::string channel;                ///< empty: where the customer last wrote
  std::string template_name;          ///< a WhatsApp template instead of a body
  nlohmann::json variables = nullptr; ///< the template's variables, {"1": "..."}
  std::string article;                ///< the article the reply cites (a slug), optional
  bool reopen = false;                ///< the conversation is resolved and the person reopens it
};
/// Parses and checks a reply request's JSON body; refusals are 400s
/// naming the field.
[[nodiscard]] std::variant<ReplyRequest, Refusal> parse_reply_request(std::string_view body);

/// The body of POST .../notes, .../assign, .../resolve and PUT /api/sla:
/// a JSON object, or a 400 naming what is wrong. An empty body is {}.
[[nodiscard]] std::variant<nlohmann::json, Refusal> parse_object(std::string_view body);
/// A required string member, 1..`limit` UTF-8 bytes, valid UTF-8.
[[nodiscard]] std::variant<std::string, Refusal> required_text(const nlohmann::json& object, std::string_view field,
                                                               std::size_t limit);
/// An optional string member (absent or null: empty).
[[nodiscard]] std::variant<std::string, Refusal> optional_text(const nlohmann::json& object, std::string_view field,
                                                               std::size_t limit);

/// Per priority, minutes to the first response and to resolution.
struct SlaTarget {
  std::string priority;
  int first_response_minutes = 0;
  int resolution_minutes = 0;
};
/// PUT /api/sla: {"targets": [{"priority", "first_response_minutes",
/// "resolution_minutes"}, ...]}, each priority at most once, 1 minute to a
/// year, resolution not before the first response.
[[nodiscard]] std::variant<std::vector<SlaTarget>, Refusal> parse_sla_targets(std::string_view body);

} // namespace fte::escalation::desk
