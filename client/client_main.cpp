// paxos-client: propose a decree, read a priest's ledger, or ask every priest its status.
//
//   paxos-client --config config/local.json propose "text" | - | --file F [--json] [--timeout 5]
//   paxos-client --cluster 127.0.0.1:7101,127.0.0.1:7102 ledger --priest 1 [--json] [--from 1]
//   paxos-client --config config/local.json status [--json]
//   paxos-client --config config/local.json members [--json]
//   paxos-client --config config/local.json health [--json]     (exit 1: unhealthy)
//   paxos-client --config config/local.json watch [--from N] [--json] [--count K]
//   paxos-client --config config/local.json read [--from N] [--json]
//   paxos-client --config config/local.json console [--listen 127.0.0.1:8100]
//   paxos-client timeline --data DIR [--data DIR ...] --out run.html
//
// Exit status: 0 success, 1 the parliament did not do it (or a priest could not be reached),
// 2 bad input (command line, configuration).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/console.hpp"
#include "client/lib/open.hpp"
#include "parliament/client.hpp"
#include "proto/membership.hpp"

using namespace parliament;
using nlohmann::json;

namespace {


// Decree text on one line: newlines and other control characters shown as escapes.
std::string visible(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

using client::Decree;
using client::Parliament;

// The exit status for a call that did not succeed: 2 for what the user asked wrong, else 1.
int exit_status(const client::Status& s) {
  std::cerr << "paxos-client: " << s.message() << "\n";
  return s.code() == Code::Invalid ? 2 : 1;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---- propose ----

int propose(Parliament& p, const std::string& text, bool as_json) {
  uint64_t n = 0;
  auto s = p.propose(text, &n);
  if (as_json) {
    json j = s.ok() ? json{{"decree_no", n}, {"decree", text}, {"passed", true}}
                    : json{{"passed", false},
                           {"error_code", code_name(s.code())},
                           {"error", s.message()},
                           {"decree", text}};
    std::cout << dump(j) << "\n";
    return s.ok() ? 0 : s.code() == Code::Invalid ? 2 : 1;
  }
  if (!s.ok()) return exit_status(s);
  std::cout << "passed as decree " << n << "\n";
  return 0;
}

// ---- ledger ----

// A decree as the priests write it in a ledger page (docs/PROTOCOL.md, "ledger").
json decree_json(const Decree& d) {
  json j{{"decree_no", d.number},
         {"ballot", d.ballot},
         {"kind", d.kind == Decree::Kind::OliveDay     ? "olive-day"
                  : d.kind == Decree::Kind::Membership ? "membership"
                                                       : "decree"}};
  if (d.kind == Decree::Kind::Client) {
    j["client"] = d.client;
    j["request"] = d.request;
  }
  if (d.kind != Decree::Kind::OliveDay) j["decree"] = d.text;
  return j;
}

// One ledger entry as a row: number, ballot, text (or "(olive-day)", "(membership: ...)").
std::vector<std::string> decree_row(const Decree& d) {
  std::string text = visible(d.text);
  if (d.kind == Decree::Kind::OliveDay) text = "(olive-day)";
  if (d.kind == Decree::Kind::Membership) {
    json m = json::parse(d.text, nullptr, false);
    text = "(membership: " +
           (m.is_object() ? m.value("change", std::string("?")) : std::string("?")) + ")";
  }
  return {std::to_string(d.number), d.ballot.empty() ? "-" : d.ballot, text};
}

int print_decrees(const std::vector<Decree>& decrees, bool as_json, const std::string& title) {
  if (as_json) {
    json all = json::array();
    for (const auto& d : decrees) all.push_back(decree_json(d));
    std::cout << dump(all) << "\n";
    return 0;
  }
  std::cout << title << "\n";
  std::vector<std::vector<std::string>> rows = {{"DECREE", "BALLOT", "TEXT"}};
  for (const auto& d : decrees) rows.push_back(decree_row(d));
  print_table(rows);
  return 0;
}

int ledger(Parliament& p, PriestId id, uint64_t from, bool as_json) {
  client::Ledger l;
  if (auto s = p.ledger(id, from, &l); !s.ok()) return exit_status(s);
  return print_decrees(l.decrees, as_json,
                       "ledger of priest " + std::to_string(id) + " (" + l.address +
                           "): " + std::to_string(l.length) + " decrees passed");
}

// ---- read ----

// A linearizable read: the ledger from `from` up to a decree number n that a majority
// confirmed after the request arrived, so it holds every decree any client was told passed
// before the read began.
int read(Parliament& p, uint64_t from, bool as_json) {
  client::Reading r;
  if (auto s = p.read(from, &r); !s.ok()) return exit_status(s);
  return print_decrees(r.decrees, as_json,
                       "the ledger up to decree " + std::to_string(r.upto) +
                           ", confirmed by a majority after the read began (priest " +
                           std::to_string(r.answered_by) + " answered)");
}

// ---- watch ----

// Prints every decree from number `from` on (0: from the next one to pass), in order, each
// once, until `count` have been printed (0: for ever).
int watch(Parliament& p, uint64_t from, uint64_t count, bool as_json) {
  uint64_t printed = 0;
  auto s = p.watch(from, [&](const Decree& d) {
    if (as_json) {
      std::cout << dump(decree_json(d)) << "\n";
    } else {
      auto row = decree_row(d);
      std::cout << row[0] << "  " << row[1] << "  " << row[2] << "\n";
    }
    std::cout.flush();
    return count == 0 || ++printed < count;
  });
  return s.ok() ? 0 : exit_status(s);
}

// ---- status ----

std::string membership_line(const client::Members& m) {
  std::vector<PriestId> ids;
  for (const auto& x : m.priests) ids.push_back(static_cast<PriestId>(x.id));
  return "membership in force: priests " + id_list(ids) + " (quorum " + std::to_string(m.quorum) +
         "), set by " +
         (m.decree_no ? "decree " + std::to_string(m.decree_no) : std::string("the bootstrap"));
}

std::string state_text(const client::PriestState& s, const client::Report& report) {
  if (!s.halted.empty()) return "HALTED (" + s.halted + ")";
  if (report.membership && s.member.value_or(false)) {
    for (const auto& m : report.membership->priests)
      if (m.id == s.id && !s.incarnation.empty() && s.incarnation != m.incarnation)
        return "reachable, a new incarnation " + s.incarnation +
               " (data directory lost?): replace it";
  }
  if (!s.bootstrapped) return "reachable, not bootstrapped";
  if (!s.voter) return "reachable, not a voter (learning, or removed)";
  return "reachable";
}

// Every priest of the membership in force and of the configuration (which may be old).
int status(Parliament& p, bool as_json) {
  client::Report report;
  if (auto s = p.status(&report); !s.ok()) return exit_status(s);
  json all = json::array();
  std::vector<std::vector<std::string>> rows = {{"ID", "ADDRESS", "MEMBER", "ROLE", "PRESIDENT",
                                                 "BALLOT", "NEXT_BAL", "LEDGER", "SEES", "STATE"}};
  for (const auto& s : report.priests) {
    std::string member = !s.member ? "?" : *s.member ? "yes" : "no";
    std::string id = std::to_string(s.id);
    if (!s.error.ok()) {
      all.push_back({{"id", s.id},
                     {"address", s.address},
                     {"answered", false},
                     {"error_code", code_name(s.error.code())},
                     {"error", s.error.message()}});
      rows.push_back({id, s.address, member, "-", "-", "-", "-", "-", "-",
                      "unreachable (" + s.error.message() + ")"});
      continue;
    }
    all.push_back({{"id", s.id},
                   {"address", s.address},
                   {"answered", true},
                   {"status", json::parse(s.status_json)}});
    std::string sees;
    for (auto x : s.reachable) sees += (sees.empty() ? "" : ",") + std::to_string(x);
    rows.push_back({id, s.address, member, s.role.empty() ? "-" : s.role,
                    s.president ? std::to_string(*s.president) : "none",
                    s.ballot.empty() ? "-" : s.ballot, s.next_bal.empty() ? "-" : s.next_bal,
                    std::to_string(s.ledger_length), sees.empty() ? "-" : sees,
                    state_text(s, report)});
  }
  if (as_json) {
    std::cout << dump(all) << "\n";
    return 0;
  }
  if (report.membership) std::cout << membership_line(*report.membership) << "\n";
  print_table(rows);
  return 0;
}

// ---- members and health ----

int members(Parliament& p, bool as_json) {
  client::Members m;
  if (auto s = p.members(&m); !s.ok()) return exit_status(s);
  if (as_json) {
    json all = json::array();
    for (const auto& x : m.priests)
      all.push_back({{"id", x.id}, {"address", x.address}, {"incarnation", x.incarnation}});
    std::cout << dump(json{{"decree_no", m.decree_no}, {"quorum", m.quorum}, {"priests", all}})
              << "\n";
    return 0;
  }
  std::cout << membership_line(m) << "\n";
  std::vector<std::vector<std::string>> rows = {{"ID", "ADDRESS", "INCARNATION"}};
  for (const auto& x : m.priests) rows.push_back({std::to_string(x.id), x.address, x.incarnation});
  print_table(rows);
  return 0;
}

// Exit 0 only when the parliament is healthy (client::Health); 1 naming each fault.
int health(Parliament& p, bool as_json) {
  client::Health h;
  if (auto s = p.health(&h); !s.ok()) return exit_status(s);
  if (as_json) {
    json j{{"healthy", h.healthy}, {"members", h.members}, {"problems", h.problems}};
    j["president"] = h.president ? json(*h.president) : json(nullptr);
    std::cout << dump(j) << "\n";
  } else if (h.healthy) {
    std::cout << "healthy: president " << *h.president << ", every member answers ("
              << id_list({h.members.begin(), h.members.end()}) << ")\n";
  } else {
    std::cout << "unhealthy:\n";
    for (const auto& problem : h.problems) std::cout << "  " << problem << "\n";
  }
  return h.healthy ? 0 : 1;
}

// What the command line asked for.
struct ClientArgs {
  std::string config_file, cluster, certs, client_name;
  bool plaintext = false;
  PriestId priest_cert = 0;
  CLI::Option *config_opt = nullptr, *cluster_opt = nullptr;
  std::string text, text_file;  // propose
  CLI::Option* file_opt = nullptr;
  bool propose_json = false;
  double timeout_s = 5;
  PriestId ledger_priest = 0;  // ledger
  uint64_t ledger_from = 1;
  bool ledger_json = false;
  uint64_t read_from = 1;  // read
  bool read_json = false;
  double read_timeout_s = 5;
  uint64_t watch_from = 0, watch_count = 0;  // watch
  bool watch_json = false;
  bool status_json = false;  // status
  bool members_json = false, health_json = false;
  std::string console_listen = "127.0.0.1:8100";  // console
  std::vector<std::string> timeline_dirs;  // timeline
  std::string timeline_out;
  CLI::App *propose = nullptr, *ledger = nullptr, *read = nullptr, *watch = nullptr,
           *status = nullptr, *console = nullptr, *timeline = nullptr, *members = nullptr,
           *health = nullptr;
};

// Where the parliament is, and who this client is to it.
void add_parliament_options(CLI::App& app, ClientArgs& a) {
  a.config_opt = app.add_option("--config", a.config_file, "the parliament's configuration file");
  a.cluster_opt = app.add_option("--cluster", a.cluster,
                                 "priests as host:port,host:port,... (ids 1..n in order)");
  a.config_opt->excludes(a.cluster_opt);
  app.add_option("--certs", a.certs, "directory of the TLS files (default: the config's \"certs\"; "
                                     "with --cluster: data/certs)");
  app.add_option("--client-name", a.client_name,
                 "speak as the named client identity (client-NAME.crt and .key, made by paxos-god "
                 "certs --client NAME); default: the shared client.crt")
      ->check([](const std::string& n) { return client_name_error(n); });
  app.add_option("--priest-cert", a.priest_cert,
                 "speak with priest N's certificate (priest-N.crt and .key): status only; for a "
                 "priest's own container, which holds no client key")
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--plaintext", a.plaintext,
               "no TLS (only for a parliament whose config says \"tls\": false)");
}

void add_reading_commands(CLI::App& app, ClientArgs& a) {
  a.ledger = app.add_subcommand("ledger", "print the decrees a priest knows passed");
  a.ledger->add_option("--priest", a.ledger_priest, "the priest to ask")->required();
  a.ledger->add_option("--from", a.ledger_from, "first decree number (default 1)")
      ->check(CLI::PositiveNumber);
  a.ledger->add_flag("--json", a.ledger_json, "print a JSON array");
  a.read = app.add_subcommand(
      "read",
      "print the ledger as far as a majority confirms it (linearizable: it holds every decree "
      "acknowledged before the read began)");
  a.read->add_option("--from", a.read_from, "first decree number (default 1)")
      ->check(CLI::PositiveNumber);
  a.read->add_flag("--json", a.read_json, "print a JSON array");
  a.read->add_option("--timeout", a.read_timeout_s, "seconds to keep trying (default 5)")
      ->check(CLI::Range(0.001, 86400.0));
  a.watch = app.add_subcommand("watch", "print every decree as it passes, in order, each once");
  a.watch->add_option("--from", a.watch_from, "first decree number (default: the next one to pass)")
      ->check(CLI::PositiveNumber);
  a.watch->add_option("--count", a.watch_count, "stop after this many decrees (default: never)")
      ->check(CLI::PositiveNumber);
  a.watch->add_flag("--json", a.watch_json, "one JSON object per decree, one per line");
  a.status = app.add_subcommand("status", "ask every priest its role and ballots");
  a.status->add_flag("--json", a.status_json, "print a JSON array");
  a.members = app.add_subcommand("members", "print the membership in force");
  a.members->add_flag("--json", a.members_json, "print a JSON object");
  a.health = app.add_subcommand(
      "health", "exit 0 only if every member answers, all follow one president and it hears a "
                "majority; otherwise exit 1 naming each fault");
  a.health->add_flag("--json", a.health_json, "print a JSON object");
}

void add_commands(CLI::App& app, ClientArgs& a) {
  add_parliament_options(app, a);
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  a.propose = app.add_subcommand("propose", "propose a decree and wait until it passes");
  a.propose->add_option("TEXT", a.text, "the decree (- reads it from standard input)");
  a.file_opt = a.propose->add_option("--file", a.text_file, "read the decree from this file");
  a.propose->add_flag("--json", a.propose_json, "print the outcome as JSON");
  a.propose->add_option("--timeout", a.timeout_s, "seconds to keep trying (default 5)")
      ->check(CLI::Range(0.001, 86400.0));
  add_reading_commands(app, a);
  a.console = app.add_subcommand("console",
                                 "serve the live page on this machine, reaching the priests' "
                                 "HTTP ports as the client (docs/OPERATIONS.md \"Watching "
                                 "the parliament\")");
  a.console->add_option("--listen", a.console_listen,
                        "HOST:PORT to serve the page at (default 127.0.0.1:8100)");
  a.timeline = app.add_subcommand("timeline", "draw a past run's ballot timeline from the priests' "
                                              "events.jsonl files (no --config needed)");
  a.timeline->add_option("--data", a.timeline_dirs, "a priest's data directory (repeat for each)")
      ->required();
  a.timeline->add_option("--out", a.timeline_out, "the HTML file to write")->required();
}

// The decree's text: the argument, standard input (TEXT "-") or a file (--file); never empty.
Result<std::string> decree_text(const ClientArgs& a) {
  using R = Result<std::string>;
  const bool file = a.file_opt->count() > 0;
  if (file && !a.text.empty())
    return R::failure("give the decree as TEXT or --file FILE, not both");
  if (!file && a.text != "-") {
    if (a.text.empty())
      return R::failure("an empty decree: give its text, - for standard input, or --file FILE");
    return a.text;
  }
  std::ifstream in;
  if (file) {
    in.open(a.text_file, std::ios::binary);
    if (!in) return R::failure(a.text_file + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << (file ? in : std::cin).rdbuf();
  if (text.str().empty())
    return R::failure(std::string("an empty decree read from ") +
                      (file ? a.text_file : "standard input"));
  return text.str();
}

// Where the parliament is and who this client is, from the command line.
client::Options options_of(const ClientArgs& a) {
  client::Options o;
  if (a.config_opt->count()) o.config_file = a.config_file;
  if (a.cluster_opt->count()) {
    std::stringstream ss(a.cluster);
    for (std::string item; std::getline(ss, item, ',');) o.addresses.push_back(item);
    if (o.addresses.empty()) o.addresses.push_back("");  // parse_cluster names the fault
  }
  o.certs_dir = a.certs;
  o.client_name = a.client_name;
  o.priest_certificate = a.priest_cert;
  o.plaintext = a.plaintext;
  double timeout_s = *a.propose ? a.timeout_s : *a.read ? a.read_timeout_s : 5;
  o.timeout = std::chrono::milliseconds(std::llround(timeout_s * 1000));
  return o;
}

int run(Parliament& p, const ClientArgs& a) {
  if (*a.propose) {
    auto text = decree_text(a);
    if (!text) {
      std::cerr << "paxos-client: " << text.error() << "\n";
      return 2;
    }
    return propose(p, *text, a.propose_json);
  }
  if (*a.ledger) return ledger(p, a.ledger_priest, a.ledger_from, a.ledger_json);
  if (*a.status) return status(p, a.status_json);
  if (*a.members) return members(p, a.members_json);
  if (*a.health) return health(p, a.health_json);
  if (*a.watch) return watch(p, a.watch_from, a.watch_count, a.watch_json);
  if (*a.read) return read(p, a.read_from, a.read_json);
  return 2;
}

// The console reaches the priests' HTTP ports: it needs the configuration, not a Parliament.
int console(const client::Options& o, const std::string& listen) {
  auto at = parse_address(listen, 0, "--listen");
  if (!at) {
    std::cerr << "paxos-client: " << at.error() << "\n";
    return 2;
  }
  auto config = client::parliament_config(o);
  if (!config) {
    std::cerr << "paxos-client: " << config.error() << "\n";
    return 2;
  }
  return run_console(*config, client::certs_dir_of(o, *config), at->host, at->port);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paxos-client: propose decrees to the parliament and read its ledger"};
  app.set_version_flag("--version", std::string("paxos-client ") + PARLIAMENT_VERSION);
  ClientArgs a;
  add_commands(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*a.timeline) return write_timeline(a.timeline_dirs, a.timeline_out);
  if (!a.config_opt->count() && !a.cluster_opt->count()) {
    std::cerr << "paxos-client: say where the parliament is: --config FILE or --cluster "
                 "host:port,host:port,...\n";
    return 2;
  }
  auto options = options_of(a);
  if (*a.console) return console(options, a.console_listen);
  std::unique_ptr<Parliament> parliament;
  if (auto s = Parliament::open(options, &parliament); !s.ok()) return exit_status(s);
  return run(*parliament, a);
}
