// paxos-client: propose a decree, read a priest's ledger, or ask every priest its status.
//
//   paxos-client --config config/local.json propose "text" | - | --file F [--json] [--timeout 5]
//   paxos-client --cluster 127.0.0.1:7101,127.0.0.1:7102 ledger --priest 1 [--json] [--from 1]
//   paxos-client --config config/local.json status [--json]
//   paxos-client --config config/local.json members [--json]
//   paxos-client --config config/local.json health [--priest N] [--json]  (exit 1: unhealthy)
//   paxos-client --config config/local.json audit [--json]      (exit 1: ledgers differ)
//   paxos-client --config config/local.json snapshot save FILE [--json]
//   paxos-client --config config/local.json watch [--from N] [--json] [--count K]
//   paxos-client --config config/local.json read [--from N] [--json]
//   paxos-client --config config/local.json console [--listen 127.0.0.1:8100]
//   paxos-client timeline --data DIR [--data DIR ...] --out run.html
//
// Every command prints a table, or JSON with --json or -w json. $PARLIAMENT_CONFIG stands for
// --config and $PARLIAMENT_CERTS for --certs when they are not given.
//
// Exit status: 0 success, 1 the parliament did not do it (or a priest could not be reached),
// 2 bad input (command line, configuration), 130 propose interrupted (outcome unknown).
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/command_line.hpp"
#include "client/console.hpp"
#include "client/snapshot.hpp"
#include "client/lib/open.hpp"
#include "net/program.hpp"
#include "parliament/client.hpp"
#include "proto/membership.hpp"

using namespace parliament;
using nlohmann::json;
using namespace parliament::client_cli;

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

// Exit 0 only when the parliament (or priest `only`) is healthy (client::Health); 1 naming
// each fault.
int health(Parliament& p, uint64_t only, bool as_json) {
  client::Health h;
  if (auto s = only ? p.health_of(only, &h) : p.health(&h); !s.ok()) return exit_status(s);
  if (as_json) {
    json j{{"healthy", h.healthy}, {"members", h.members}, {"problems", h.problems}};
    j["president"] = h.president ? json(*h.president) : json(nullptr);
    std::cout << dump(j) << "\n";
  } else if (h.healthy && only) {
    std::cout << "healthy: priest " << only << " follows president " << *h.president
              << ", which hears a majority\n";
  } else if (h.healthy) {
    std::cout << "healthy: president " << *h.president << ", every member answers ("
              << id_list({h.members.begin(), h.members.end()}) << ")\n";
  } else {
    std::cout << "unhealthy:\n";
    for (const auto& problem : h.problems) std::cout << "  " << problem << "\n";
  }
  return h.healthy ? 0 : 1;
}

// Ctrl-C (or SIGTERM) while a decree is being proposed: the decree may already have been
// begun, so its outcome is unknown; say so and exit 130 (128 + SIGINT) at once.
void say_outcome_unknown_on_interrupt() {
  auto on_signal = [](int) {
    static const char what[] =
        "paxos-client: interrupted: the decree may or may not pass (outcome unknown); read the "
        "ledger to learn which\n";
    ssize_t ignored = write(STDERR_FILENO, what, sizeof what - 1);
    (void)ignored;
    _exit(130);
  };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

int run(Parliament& p, const ClientArgs& a, const client::Options& o, const std::string& decree) {
  if (*a.propose) return propose(p, decree, as_json(a, a.propose_json));
  if (*a.ledger) return ledger(p, a.ledger_priest, a.ledger_from, as_json(a, a.ledger_json));
  if (*a.status) return status(p, as_json(a, a.status_json));
  if (*a.members) return members(p, as_json(a, a.members_json));
  if (*a.health) return health(p, a.health_priest, as_json(a, a.health_json));
  if (*a.watch) return watch(p, a.watch_from, a.watch_count, as_json(a, a.watch_json));
  if (*a.read) return read(p, a.read_from, as_json(a, a.read_json));
  if (*a.audit) return audit(p, as_json(a, a.audit_json));
  if (*a.snapshot_save)
    return save_snapshot(p, o, a.snapshot_file, as_json(a, a.snapshot_json));
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
  if (auto exit = parse_command_line(app, argc, argv)) return *exit;
  if (*a.timeline) return write_timeline(a.timeline_dirs, a.timeline_out);
  auto options = options_of(a);
  if (options.config_file.empty() && options.addresses.empty()) {
    std::cerr << "paxos-client: say where the parliament is: --config FILE, --cluster "
                 "host:port,host:port,... or $PARLIAMENT_CONFIG\n";
    return 2;
  }
  if (*a.console) return console(options, a.console_listen);
  std::string decree;
  if (*a.propose) {
    auto text = decree_text(a);
    if (!text) {
      std::cerr << "paxos-client: " << text.error() << "\n";
      return 2;
    }
    decree = std::move(*text);
    say_outcome_unknown_on_interrupt();  // before the first connection is made
  }
  std::unique_ptr<Parliament> parliament;
  if (auto s = Parliament::open(options, &parliament); !s.ok()) return exit_status(s);
  return run(*parliament, a, options, decree);
}
