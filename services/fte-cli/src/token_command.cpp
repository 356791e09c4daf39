// fte token create|list|revoke: API tokens for the escalation API (ADR 0020).
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "fte/access/token_store.hpp"

namespace fte::cli {
namespace {

struct CreateFlags {
  std::string name;
  std::string role = "agent";
  std::string by;
  int expires_days = 0;
  bool json = false;
};

struct ListFlags {
  bool all = false;
  bool json = false;
};

struct RevokeFlags {
  std::string name;
  std::string by;
};

int create(const Context& context, const CreateFlags& flags) {
  const auto role = access::parse_role(flags.role);
  if (!role) throw UsageError("--role must be agent or supervisor");
  if (flags.expires_days < 0) throw UsageError("--expires-days must be 0 (never) or more");
  access::NewApiToken request{flags.name, *role, flags.by, std::nullopt};
  if (flags.expires_days > 0) request.lifetime = std::chrono::hours(24) * flags.expires_days;
  pqxx::connection connection(database_url(context));
  std::string token;
  try {
    token = access::create_api_token(connection, request);
  } catch (const access::TokenRefused& e) {
    std::cerr << "fte: refused: " << e.what() << "\n";
    return kExitRefused;
  }
  if (flags.json) {
    std::cout << nlohmann::json{{"name", flags.name}, {"role", flags.role}, {"token", token}}.dump(2) << "\n";
  } else {
    // The token alone on stdout, so `T=$(fte token create ...)` works; the
    // advice goes to stderr.
    std::cout << token << "\n";
    std::cerr << "fte: token '" << flags.name << "' (" << flags.role
              << ") created; it is shown this once: keep it in a secret store\n";
  }
  return kExitOk;
}

int list(const Context& context, const ListFlags& flags) {
  pqxx::connection connection(database_url(context));
  const auto tokens = access::list_api_tokens(connection, flags.all);
  if (flags.json) {
    auto out = nlohmann::json::array();
    for (const auto& t : tokens) {
      nlohmann::json item = {{"name", t.name},
                             {"role", access::to_string(t.role)},
                             {"created_at", t.created_at},
                             {"created_by", t.created_by}};
      if (t.expires_at) item["expires_at"] = *t.expires_at;
      if (t.revoked_at) item["revoked_at"] = *t.revoked_at;
      if (t.revoked_by) item["revoked_by"] = *t.revoked_by;
      out.push_back(std::move(item));
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(24) << "NAME" << std::setw(12) << "ROLE" << std::setw(26) << "CREATED"
            << std::setw(16) << "BY"
            << "STATE\n";
  for (const auto& t : tokens) {
    const auto state = t.revoked_at   ? "revoked " + *t.revoked_at + " by " + t.revoked_by.value_or("")
                       : t.expires_at ? "expires " + *t.expires_at
                                      : std::string("in force");
    std::cout << std::left << std::setw(24) << t.name << std::setw(12) << access::to_string(t.role) << std::setw(26)
              << t.created_at << std::setw(16) << t.created_by << state << "\n";
  }
  return kExitOk;
}

int revoke(const Context& context, const RevokeFlags& flags) {
  pqxx::connection connection(database_url(context));
  if (!access::revoke_api_token(connection, flags.name, flags.by)) {
    std::cerr << "fte: no token in force is named '" << flags.name << "'\n";
    return kExitFailure;
  }
  std::cout << "revoked token '" << flags.name << "': it is refused from the next request on\n";
  return kExitOk;
}

} // namespace

void add_token_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* token = app.add_subcommand("token", "API tokens for the escalation API (only their SHA-256 is stored)");
  token->require_subcommand(1);

  auto create_flags = std::make_shared<CreateFlags>();
  auto* create_cmd = token->add_subcommand("create", "Issue a token and print it (shown this once)");
  create_cmd->add_option("name", create_flags->name, "The token's name: who or what uses it (a-z, 0-9, . _ -)")
      ->required();
  create_cmd->add_option("--role", create_flags->role, "agent or supervisor (default agent)");
  create_cmd->add_option("--by", create_flags->by, "Who issues it (recorded)")->required();
  create_cmd->add_option("--expires-days", create_flags->expires_days, "Days until it expires (default 0: never)");
  create_cmd->add_flag("--json", create_flags->json, "Print JSON with the token");
  create_cmd->callback(
      [&run, create_flags] { run = [create_flags](const Context& c) { return create(c, *create_flags); }; });

  auto list_flags = std::make_shared<ListFlags>();
  auto* list_cmd = token->add_subcommand("list", "Tokens in force (never the tokens themselves)");
  list_cmd->add_flag("--all", list_flags->all, "Revoked tokens too");
  list_cmd->add_flag("--json", list_flags->json, "Print JSON");
  list_cmd->callback([&run, list_flags] { run = [list_flags](const Context& c) { return list(c, *list_flags); }; });

  auto revoke_flags = std::make_shared<RevokeFlags>();
  auto* revoke_cmd = token->add_subcommand("revoke", "Revoke the token in force with this name");
  revoke_cmd->add_option("name", revoke_flags->name, "The token's name")->required();
  revoke_cmd->add_option("--by", revoke_flags->by, "Who revokes it (recorded)")->required();
  revoke_cmd->callback(
      [&run, revoke_flags] { run = [revoke_flags](const Context& c) { return revoke(c, *revoke_flags); }; });
}

} // namespace fte::cli
