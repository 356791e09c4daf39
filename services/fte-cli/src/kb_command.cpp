// `fte kb`: the agent's knowledge — articles, past resolutions and the
// calibration set (libs/knowledge, ADR 0018). Every change is audited
// (kb_audit) and reaches the running agent-workers through the change feed.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "fte/common/text.hpp"
#include "fte/knowledge/knowledge_base.hpp"
#include "fte/knowledge/labelled_csv.hpp"
#include "fte/knowledge/store.hpp"

namespace fte::cli {
namespace {

namespace kn = fte::knowledge;

struct KbFlags {
  std::string slug;
  std::string title;
  std::string body;
  std::string file;
  std::string by;
  std::string article;
  std::vector<std::int64_t> ids;
  std::size_t limit = 100;
  bool replace = false;
  bool json = false;
};

// Who the audit names: --by, else the login name.
std::string actor_of(const KbFlags& flags) {
  if (!flags.by.empty()) return flags.by;
  if (const char* user = std::getenv("USER"); user && *user) return std::string("cli:") + user;
  return "cli";
}

nlohmann::json article_json(const kn::Article& a) {
  return {{"id", a.id}, {"slug", a.slug}, {"title", a.title}, {"body", a.body}};
}

void print_errors(const std::vector<kn::RowError>& errors) {
  for (const auto& e : errors)
    std::cerr << "line " << e.line << ": " << e.reason << "\n";
}

nlohmann::json counts_json(const kn::ImportCounts& c) {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : c.errors)
    errors.push_back({{"line", e.line}, {"reason", e.reason}});
  return {{"added", c.added},
          {"updated", c.updated},
          {"unchanged", c.unchanged},
          {"removed", c.removed},
          {"errors", errors}};
}

// The import's outcome: JSON or one line, errors on stderr; exit 1 when
// any row was refused (the good ones are kept).
int report(const kn::ImportCounts& c, bool json) {
  if (json) {
    std::cout << counts_json(c).dump(2) << "\n";
  } else {
    std::cout << c.added << " added, " << c.updated << " updated, " << c.unchanged << " unchanged, " << c.removed
              << " removed, " << c.errors.size() << " refused\n";
    print_errors(c.errors);
  }
  return c.errors.empty() ? kExitOk : kExitFailure;
}

std::vector<kn::Article> articles_from_json(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_array()) throw UsageError("the file must hold a JSON array of {\"slug\",\"title\",\"body\"}");
  std::vector<kn::Article> articles;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const auto& item = json[i];
    const auto field = [&](const char* name) {
      if (!item.is_object() || !item.contains(name) || !item[name].is_string())
        throw UsageError("item " + std::to_string(i) + " has no string \"" + name + "\"");
      return item[name].get<std::string>();
    };
    articles.push_back({0, field("slug"), field("title"), field("body")});
  }
  return articles;
}

// $EDITOR on a file holding the title on its first line, a blank line,
// then the body; what is saved is the new article.
kn::Article edit_in_editor(const kn::Article& article) {
  if (!isatty(STDIN_FILENO)) throw UsageError("no terminal for $EDITOR: give --title and --body or --file");
  const char* editor = std::getenv("VISUAL");
  if (!editor || !*editor) editor = std::getenv("EDITOR");
  if (!editor || !*editor) editor = "vi";
  char path[] = "/tmp/fte-kb-XXXXXX.md";
  const int fd = mkstemps(path, 3);
  if (fd < 0) throw std::runtime_error("cannot create a temporary file");
  close(fd);
  {
    std::ofstream out(path);
    out << article.title << "\n\n" << article.body << "\n";
  }
  const std::string command = std::string(editor) + " '" + path + "'";
  const int status = std::system(command.c_str());
  const auto text = read_input(path);
  std::filesystem::remove(path);
  if (status != 0) throw UsageError("the editor exited with status " + std::to_string(status) + "; nothing changed");
  kn::Article edited = article;
  const auto newline = text.find('\n');
  edited.title = std::string(fte::trim(text.substr(0, newline)));
  edited.body = newline == std::string::npos ? "" : std::string(fte::trim(text.substr(newline + 1)));
  return edited;
}

template <class Action> int guarded(Action&& action) {
  try {
    return action();
  } catch (const std::invalid_argument& e) {
    std::cerr << "fte: " << e.what() << "\n";
    return kExitUsage;
  }
}

int list(const Context& context, const KbFlags& flags) {
  pqxx::connection c(database_url(context));
  pqxx::read_transaction tx(c);
  const auto rows = tx.exec(
      "SELECT a.id, a.slug, a.title, length(a.body), (SELECT count(*) FROM kb_examples e WHERE e.article_id = a.id) "
      "FROM knowledge_base a ORDER BY a.slug");
  if (flags.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows)
      out.push_back({{"id", r[0].as<std::int64_t>()},
                     {"slug", r[1].as<std::string>()},
                     {"title", r[2].as<std::string>()},
                     {"body_length", r[3].as<std::int64_t>()},
                     {"examples", r[4].as<std::int64_t>()}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(32) << "SLUG" << std::setw(9) << "EXAMPLES"
            << "TITLE\n";
  for (const auto& r : rows)
    std::cout << std::left << std::setw(32) << r[1].as<std::string>() << std::setw(9) << r[4].as<std::int64_t>()
              << r[2].as<std::string>() << "\n";
  return kExitOk;
}

int show(const Context& context, const KbFlags& flags) {
  pqxx::connection c(database_url(context));
  pqxx::read_transaction tx(c);
  const auto article = kn::store::article_by_slug(tx, flags.slug);
  if (!article) {
    std::cerr << "fte: no article " << flags.slug << "\n";
    return kExitFailure;
  }
  if (flags.json) {
    std::cout << article_json(*article).dump(2) << "\n";
  } else {
    std::cout << article->title << "\n\n" << article->body << "\n";
  }
  return kExitOk;
}

int put(const Context& context, const KbFlags& flags, bool adding) {
  return guarded([&] {
    pqxx::connection c(database_url(context));
    pqxx::work tx(c);
    auto existing = kn::store::article_by_slug(tx, flags.slug);
    if (adding && existing) throw std::invalid_argument("article " + flags.slug + " exists: use fte kb edit");
    if (!adding && !existing) throw std::invalid_argument("no article " + flags.slug + ": use fte kb add");
    kn::Article article = existing.value_or(kn::Article{0, flags.slug, "", ""});
    const bool given = !flags.title.empty() || !flags.body.empty() || !flags.file.empty();
    if (!flags.title.empty()) article.title = flags.title;
    if (!flags.body.empty()) article.body = flags.body;
    if (!flags.file.empty()) article.body = std::string(fte::trim(read_input(flags.file)));
    if (!given) article = edit_in_editor(article);
    if (existing && existing->title == article.title && existing->body == article.body) {
      std::cout << flags.slug << " unchanged\n";
      return kExitOk;
    }
    kn::store::put_article(tx, actor_of(flags), article);
    tx.commit();
    std::cout << flags.slug << (adding ? " added\n" : " updated\n");
    return kExitOk;
  });
}

int remove(const Context& context, const KbFlags& flags) {
  pqxx::connection c(database_url(context));
  pqxx::work tx(c);
  if (!kn::store::remove_article(tx, actor_of(flags), flags.slug)) {
    std::cerr << "fte: no article " << flags.slug << "\n";
    return kExitFailure;
  }
  tx.commit();
  std::cout << flags.slug << " removed (with its past resolutions)\n";
  return kExitOk;
}

int import_articles(const Context& context, const KbFlags& flags) {
  return guarded([&] {
    const auto articles = articles_from_json(read_input(flags.file));
    pqxx::connection c(database_url(context));
    pqxx::work tx(c);
    const auto counts = kn::store::import_articles(tx, actor_of(flags), articles, flags.replace);
    tx.commit();
    return report(counts, flags.json);
  });
}

int export_articles(const Context& context) {
  pqxx::connection c(database_url(context));
  pqxx::read_transaction tx(c);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : tx.exec("SELECT slug, title, body FROM knowledge_base ORDER BY slug"))
    out.push_back(
        {{"slug", r[0].as<std::string>()}, {"title", r[1].as<std::string>()}, {"body", r[2].as<std::string>()}});
  std::cout << out.dump(2) << "\n";
  return kExitOk;
}

int import_labelled(const Context& context, const KbFlags& flags, bool calibration) {
  return guarded([&] {
    auto parsed = kn::parse_labelled_csv(read_input(flags.file), calibration ? "expected" : "article");
    pqxx::connection c(database_url(context));
    pqxx::work tx(c);
    auto counts = calibration ? kn::store::replace_calibration(tx, actor_of(flags), parsed.rows)
                              : kn::store::add_examples(tx, actor_of(flags), "import:" + flags.file, parsed.rows);
    tx.commit();
    counts.errors.insert(counts.errors.begin(), parsed.errors.begin(), parsed.errors.end());
    std::sort(counts.errors.begin(), counts.errors.end(),
              [](const kn::RowError& a, const kn::RowError& b) { return a.line < b.line; });
    return report(counts, flags.json);
  });
}

int list_examples(const Context& context, const KbFlags& flags) {
  pqxx::connection c(database_url(context));
  pqxx::read_transaction tx(c);
  const auto rows =
      tx.exec_params("SELECT e.id, e.text, coalesce(a.slug, 'escalate'), e.source, e.created_by, e.created_at::text "
                     "FROM kb_examples e LEFT JOIN knowledge_base a ON a.id = e.article_id "
                     "WHERE $1 = '' OR coalesce(a.slug, 'escalate') = $1 ORDER BY e.id DESC LIMIT $2",
                     flags.article, static_cast<std::int64_t>(flags.limit));
  if (flags.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows)
      out.push_back({{"id", r[0].as<std::int64_t>()},
                     {"text", r[1].as<std::string>()},
                     {"article", r[2].as<std::string>()},
                     {"source", r[3].is_null() ? "" : r[3].as<std::string>()},
                     {"created_by", r[4].is_null() ? "" : r[4].as<std::string>()},
                     {"created_at", r[5].as<std::string>()}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(10) << "ID" << std::setw(28) << "ARTICLE"
            << "TEXT\n";
  for (const auto& r : rows)
    std::cout << std::left << std::setw(10) << r[0].as<std::int64_t>() << std::setw(28) << r[2].as<std::string>()
              << truncate_utf8(r[1].as<std::string>(), 80) << "\n";
  return kExitOk;
}

int remove_examples(const Context& context, const KbFlags& flags) {
  pqxx::connection c(database_url(context));
  pqxx::work tx(c);
  const auto removed = kn::store::remove_examples(tx, actor_of(flags), flags.ids);
  tx.commit();
  std::cout << removed << " removed\n";
  return removed == flags.ids.size() ? kExitOk : kExitFailure;
}

nlohmann::json calibration_json(const kn::Calibration& c) {
  nlohmann::json weights = {{"bias", c.model.weights[0]}};
  for (std::size_t i = 0; i < kn::kFeatureCount; ++i)
    weights[kn::feature_names()[i]] = c.model.weights[i + 1];
  return {{"fitted", c.fitted},
          {"threshold", c.threshold},
          {"target_precision", c.target_precision},
          {"expected_precision", c.expected_precision},
          {"labelled", c.labelled},
          {"weights", weights}};
}

// What the agent-workers hold now: the same load and calibration, run here.
int show_calibration(const Context& context, const KbFlags& flags) {
  kn::KnowledgeBase knowledge(database_url(context), kn::embedder_from_env(context.env),
                              kn::KnowledgeOptions::from_env(context.env), context.logger);
  knowledge.load();
  const auto s = knowledge.status();
  const nlohmann::json out = {{"articles", s.articles},
                              {"examples", s.examples},
                              {"calibration_messages", s.calibration_messages},
                              {"semantic", s.semantic},
                              {"embedding_model", s.embedding_model},
                              {"lexical", calibration_json(s.lexical)},
                              {"semantic_calibration", calibration_json(s.semantic_calibration)}};
  if (flags.json) {
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << s.articles << " articles, " << s.examples << " past resolutions, " << s.calibration_messages
            << " calibration messages; embeddings: " << (s.semantic ? s.embedding_model : "off") << "\n";
  const auto line = [](const char* name, const kn::Calibration& c) {
    std::cout << name << ": threshold " << std::fixed << std::setprecision(3) << c.threshold << " for precision "
              << c.target_precision << " ("
              << (c.fitted ? "fitted on " + std::to_string(c.labelled) + " labelled messages, expected precision " +
                                 std::to_string(c.expected_precision).substr(0, 5)
                           : std::string("default model: too few labelled messages"))
              << ")\n";
  };
  line("lexical ", s.lexical);
  if (s.semantic) line("semantic", s.semantic_calibration);
  return kExitOk;
}

} // namespace

std::string read_input(const std::string& path) {
  std::ostringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read " + path);
  s << in.rdbuf();
  return s.str();
}

void add_kb_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto flags = std::make_shared<KbFlags>();
  auto* kb = app.add_subcommand("kb", "The agent's knowledge: articles, past resolutions, calibration");
  kb->require_subcommand(1);
  const auto by = [&](CLI::App* c) { c->add_option("--by", flags->by, "Who makes the change (the audit's actor)"); };

  auto* list_cmd = kb->add_subcommand("list", "List the articles");
  list_cmd->add_flag("--json", flags->json);
  list_cmd->callback([&run, flags] { run = [flags](const Context& c) { return list(c, *flags); }; });

  auto* show_cmd = kb->add_subcommand("show", "Print an article");
  show_cmd->add_option("slug", flags->slug)->required();
  show_cmd->add_flag("--json", flags->json);
  show_cmd->callback([&run, flags] { run = [flags](const Context& c) { return show(c, *flags); }; });

  for (const bool adding : {true, false}) {
    auto* cmd =
        kb->add_subcommand(adding ? "add" : "edit",
                           adding ? "Add an article" : "Edit an article (opens $EDITOR without --title/--body/--file)");
    cmd->add_option("slug", flags->slug, "[a-z0-9-], up to 100 characters")->required();
    cmd->add_option("--title", flags->title);
    cmd->add_option("--body", flags->body);
    cmd->add_option("--file", flags->file, "The body from a file (- for stdin)");
    by(cmd);
    cmd->callback(
        [&run, flags, adding] { run = [flags, adding](const Context& c) { return put(c, *flags, adding); }; });
  }

  auto* rm_cmd = kb->add_subcommand("rm", "Remove an article and its past resolutions");
  rm_cmd->add_option("slug", flags->slug)->required();
  by(rm_cmd);
  rm_cmd->callback([&run, flags] { run = [flags](const Context& c) { return remove(c, *flags); }; });

  auto* import_cmd = kb->add_subcommand("import", "Upsert articles from a JSON array of {slug,title,body}");
  import_cmd->add_option("file", flags->file)->required();
  import_cmd->add_flag("--replace", flags->replace, "Also remove the articles the file lacks");
  import_cmd->add_flag("--json", flags->json);
  by(import_cmd);
  import_cmd->callback([&run, flags] { run = [flags](const Context& c) { return import_articles(c, *flags); }; });

  auto* export_cmd = kb->add_subcommand("export", "Print every article as the JSON import reads");
  export_cmd->callback([&run] { run = [](const Context& c) { return export_articles(c); }; });

  auto* examples = kb->add_subcommand("examples", "Past resolutions: a customer message and the article that answered");
  examples->require_subcommand(1);
  auto* ex_import = examples->add_subcommand("import", "Add past resolutions from CSV (header text,article)");
  ex_import->add_option("file", flags->file)->required();
  ex_import->add_flag("--json", flags->json);
  by(ex_import);
  ex_import->callback([&run, flags] { run = [flags](const Context& c) { return import_labelled(c, *flags, false); }; });
  auto* ex_list = examples->add_subcommand("list", "List past resolutions, newest first");
  ex_list->add_option("--article", flags->article, "Only this article's (or escalate)");
  ex_list->add_option("--limit", flags->limit);
  ex_list->add_flag("--json", flags->json);
  ex_list->callback([&run, flags] { run = [flags](const Context& c) { return list_examples(c, *flags); }; });
  auto* ex_rm = examples->add_subcommand("rm", "Remove past resolutions by id");
  ex_rm->add_option("ids", flags->ids)->required();
  by(ex_rm);
  ex_rm->callback([&run, flags] { run = [flags](const Context& c) { return remove_examples(c, *flags); }; });

  auto* calibration = kb->add_subcommand("calibration", "The labelled messages the answer threshold is picked on");
  calibration->require_subcommand(1);
  auto* cal_import =
      calibration->add_subcommand("import", "Replace the calibration set from CSV (header text,expected)");
  cal_import->add_option("file", flags->file)->required();
  cal_import->add_flag("--json", flags->json);
  by(cal_import);
  cal_import->callback([&run, flags] { run = [flags](const Context& c) { return import_labelled(c, *flags, true); }; });
  auto* cal_show = calibration->add_subcommand("show", "Load and calibrate as an agent-worker does; print the result");
  cal_show->add_flag("--json", flags->json);
  cal_show->callback([&run, flags] { run = [flags](const Context& c) { return show_calibration(c, *flags); }; });
}

} // namespace fte::cli
