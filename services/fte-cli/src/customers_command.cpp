#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "customer_identity.hpp"
#include "fte/common/ids.hpp"

namespace fte::cli {
namespace {

struct ChangeFlags {
  std::string customer_id;
  std::string kind;
  std::string value;
  std::string by;
  std::string reason;
  bool move = false;
  bool json = false;
};

struct ShowFlags {
  std::string customer_id;
  std::string email;
  std::string phone;
  int audit_limit = 20;
  bool json = false;
};

identity::Identifier identifier_from(const std::string& kind_text, const std::string& value) {
  const auto kind = identity::parse_kind(kind_text);
  if (!kind) throw UsageError("--kind must be email or phone (a WhatsApp number is a phone)");
  auto identifier = identity::make_identifier(*kind, value);
  if (!identifier) {
    throw UsageError(*kind == identity::IdentifierKind::phone
                         ? "'" + value + "' is not a phone number in international form (+ and the country code)"
                         : "'" + value + "' is not an email address");
  }
  return std::move(*identifier);
}

IdentityChange change_from(const ChangeFlags& flags) {
  if (!is_uuid(flags.customer_id)) throw UsageError("--customer must be a customer id (a UUID)");
  if (flags.by.empty()) throw UsageError("--by must name who makes the change");
  return IdentityChange{flags.customer_id, identifier_from(flags.kind, flags.value), flags.by,
                        flags.reason.empty() ? std::nullopt : std::optional<std::string>(flags.reason), flags.move};
}

// Refusals and usage errors are what the operator must act on: one line on
// stderr, a distinct exit code, nothing changed.
template <class Action> int guarded(Action&& action) {
  try {
    return action();
  } catch (const UsageError& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return kExitUsage;
  } catch (const IdentityRefused& e) {
    std::cerr << "fte: refused: " << e.what() << "\n";
    return kExitRefused;
  }
}

int link(const Context& context, const ChangeFlags& flags) {
  return guarded([&] {
    const auto change = change_from(flags);
    pqxx::connection connection(database_url(context));
    const auto result = link_identifier(connection, change);
    const char* outcome = result.outcome == LinkResult::Outcome::moved    ? "moved"
                          : result.outcome == LinkResult::Outcome::linked ? "linked"
                                                                          : "already_linked";
    if (flags.json) {
      nlohmann::json out = {{"outcome", outcome},
                            {"customer_id", change.customer_id},
                            {"kind", identity::to_string(change.identifier.kind)},
                            {"value", change.identifier.value},
                            {"accepted_merge_candidates", result.accepted_candidates}};
      if (result.previous_customer_id) out["previous_customer_id"] = *result.previous_customer_id;
      std::cout << out.dump(2) << "\n";
      return kExitOk;
    }
    const auto what = std::string(identity::to_string(change.identifier.kind)) + " " + change.identifier.value;
    switch (result.outcome) {
    case LinkResult::Outcome::already_linked:
      std::cout << what << " is already linked to customer " << change.customer_id << "; nothing changed\n";
      break;
    case LinkResult::Outcome::linked:
      std::cout << "linked " << what << " to customer " << change.customer_id << "\n";
      break;
    case LinkResult::Outcome::moved:
      std::cout << "moved " << what << " from customer " << *result.previous_customer_id << " to customer "
                << change.customer_id << "\n";
      break;
    }
    if (result.accepted_candidates > 0) {
      std::cout << "accepted " << result.accepted_candidates << " open merge candidate(s) for it\n";
    }
    return kExitOk;
  });
}

int unlink(const Context& context, const ChangeFlags& flags) {
  return guarded([&] {
    const auto change = change_from(flags);
    pqxx::connection connection(database_url(context));
    const auto result = unlink_identifier(connection, change);
    if (flags.json) {
      std::cout << nlohmann::json{{"outcome", "unlinked"},
                                  {"customer_id", change.customer_id},
                                  {"kind", identity::to_string(change.identifier.kind)},
                                  {"value", change.identifier.value},
                                  {"remaining_identifiers", result.remaining_identifiers}}
                       .dump(2)
                << "\n";
      return kExitOk;
    }
    std::cout << "unlinked " << identity::to_string(change.identifier.kind) << " " << change.identifier.value
              << " from customer " << change.customer_id << "; its next message starts a new customer\n";
    if (result.remaining_identifiers == 0) {
      std::cout << "note: customer " << change.customer_id << " has no identifiers left: no message will reach it\n";
    }
    return kExitOk;
  });
}

void print_customer(const nlohmann::json& view) {
  const auto& customer = view["customer"];
  std::cout << "customer " << customer["id"].get<std::string>();
  if (customer["display_name"].is_string()) std::cout << "  " << customer["display_name"].get<std::string>();
  std::cout << "  (since " << customer["created_at"].get<std::string>() << ")\n\nIDENTIFIERS\n";
  if (view["identifiers"].empty()) std::cout << "  (none: no message reaches this customer)\n";
  for (const auto& i : view["identifiers"]) {
    std::cout << "  " << std::left << std::setw(7) << i["kind"].get<std::string>() << std::setw(34)
              << i["value"].get<std::string>() << "linked " << i["linked_at"].get<std::string>() << "\n";
  }
  std::cout << "\nRECENT CHANGES\n";
  if (view["audit"].empty()) std::cout << "  (none)\n";
  for (const auto& a : view["audit"]) {
    std::cout << "  " << a["at"].get<std::string>() << "  " << std::left << std::setw(7)
              << a["action"].get<std::string>() << std::setw(7) << a["kind"].get<std::string>() << std::setw(34)
              << a["value"].get<std::string>() << "by " << a["actor"].get<std::string>();
    if (a.contains("previous_customer_id")) {
      std::cout << "  from " << a["previous_customer_id"].get<std::string>() << " to "
                << a["customer_id"].get<std::string>();
    } else if (a["customer_id"] != customer["id"]) {
      std::cout << "  customer " << a["customer_id"].get<std::string>();
    }
    if (a.contains("reason")) std::cout << "  (" << a["reason"].get<std::string>() << ")";
    if (a.contains("source_event_id")) std::cout << "  event " << a["source_event_id"].get<std::string>();
    std::cout << "\n";
  }
  std::cout << "\nOPEN MERGE CANDIDATES\n";
  if (view["merge_candidates"].empty()) std::cout << "  (none)\n";
  for (const auto& c : view["merge_candidates"]) {
    std::cout << "  #" << c["id"].get<long long>() << "  " << c["kind"].get<std::string>() << " "
              << c["value"].get<std::string>() << " of customer " << c["owner_customer_id"].get<std::string>()
              << " claimed by customer " << c["claimant_customer_id"].get<std::string>() << "  ("
              << c["claims"].get<long>() << " claim(s), first " << c["created_at"].get<std::string>() << ", event "
              << c["source_event_id"].get<std::string>() << ")\n";
  }
}

int show(const Context& context, const ShowFlags& flags) {
  return guarded([&] {
    const int given = !flags.customer_id.empty() + !flags.email.empty() + !flags.phone.empty();
    if (given != 1) throw UsageError("give one of: a customer id, --email, --phone");
    if (flags.audit_limit < 0) throw UsageError("--audit-limit must not be negative");
    pqxx::connection connection(database_url(context));
    std::string customer_id = flags.customer_id;
    if (customer_id.empty()) {
      const auto identifier =
          flags.email.empty() ? identifier_from("phone", flags.phone) : identifier_from("email", flags.email);
      auto owner = find_customer(connection, identifier);
      if (!owner) {
        throw IdentityRefused("no customer has " + std::string(identity::to_string(identifier.kind)) + " " +
                              identifier.value);
      }
      customer_id = std::move(*owner);
    } else if (!is_uuid(customer_id)) {
      throw UsageError("a customer id is a UUID; use --email or --phone to look a customer up");
    }
    const auto view = describe_customer(connection, customer_id, flags.audit_limit);
    if (!view) throw IdentityRefused("no customer " + customer_id);
    if (flags.json) {
      std::cout << view->dump(2) << "\n";
    } else {
      print_customer(*view);
    }
    return kExitOk;
  });
}

void add_change_options(CLI::App* cmd, ChangeFlags& flags) {
  cmd->add_option("--customer", flags.customer_id, "The customer's id")->required();
  cmd->add_option("--kind", flags.kind, "email or phone (a WhatsApp number is a phone)")->required();
  cmd->add_option("--value", flags.value, "The address, or the number in international form (+1 555 ...)")->required();
  cmd->add_option("--by", flags.by, "Who makes the change (recorded in the audit)")->required();
  cmd->add_option("--reason", flags.reason, "Why (recorded in the audit)");
  cmd->add_flag("--json", flags.json, "Print JSON");
}

} // namespace

void add_customers_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* customers = app.add_subcommand(
      "customers", "Show customers and link or unlink their identifiers (audited; ADR 0011). Exit codes: 0 done, "
                   "1 failure, 2 usage, 4 refused (nothing changed)");
  customers->require_subcommand(1);

  auto link_flags = std::make_shared<ChangeFlags>();
  auto* link_cmd = customers->add_subcommand(
      "link", "Link an identifier to a customer; refused when another customer has it, unless --move");
  add_change_options(link_cmd, *link_flags);
  link_cmd->add_flag("--move", link_flags->move,
                     "Take the identifier from the customer who has it (audited as a move)");
  link_cmd->callback([&run, link_flags] { run = [link_flags](const Context& c) { return link(c, *link_flags); }; });

  auto unlink_flags = std::make_shared<ChangeFlags>();
  auto* unlink_cmd = customers->add_subcommand(
      "unlink", "Unlink an identifier from a customer; its next message starts a new customer");
  add_change_options(unlink_cmd, *unlink_flags);
  unlink_cmd->callback(
      [&run, unlink_flags] { run = [unlink_flags](const Context& c) { return unlink(c, *unlink_flags); }; });

  auto show_flags = std::make_shared<ShowFlags>();
  auto* show_cmd =
      customers->add_subcommand("show", "A customer's identifiers, recent identity changes and open merge candidates");
  show_cmd->add_option("customer-id", show_flags->customer_id, "The customer's id");
  show_cmd->add_option("--email", show_flags->email, "Find the customer by email address");
  show_cmd->add_option("--phone", show_flags->phone, "Find the customer by phone number (+1 555 ...)");
  show_cmd->add_option("--audit-limit", show_flags->audit_limit, "How many recent changes to show")
      ->capture_default_str();
  show_cmd->add_flag("--json", show_flags->json, "Print JSON");
  show_cmd->callback([&run, show_flags] { run = [show_flags](const Context& c) { return show(c, *show_flags); }; });
}

} // namespace fte::cli
