// paxos-client: propose a decree, read a priest's ledger, or ask every priest its status.
//
//   paxos-client --config config/local.json propose "text" [--json] [--timeout 5]
//   paxos-client --cluster 127.0.0.1:7101,127.0.0.1:7102 ledger --priest 1 [--json] [--from 1]
//   paxos-client --config config/local.json status [--json]
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
#include "net/rpc.hpp"
#include "net/config_file.hpp"
#include "proto/config.hpp"

using namespace parliament;
using nlohmann::json;

namespace {


std::string address_of(const PriestAddress& p) { return p.host + ":" + std::to_string(p.port); }

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

std::string text_of(const json& j, const char* field, const std::string& absent = "-") {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return absent;
  return it->is_string() ? it->get<std::string>() : it->dump();
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

// ---- propose ----

int propose(const Config& config, const std::string& text, double timeout_s, bool as_json) {
  // The configuration may be an old one: follow the membership the priests say is in force.
  Proposer proposer(parliament_priests(config.priests, Millis(500)), random_client_id());
  auto outcome =
      proposer.propose(text, Millis(static_cast<int64_t>(std::llround(timeout_s * 1000))));
  if (as_json) {
    json j = outcome.passed
                 ? json{{"decree_no", outcome.decree_no}, {"decree", text}, {"passed", true}}
                 : json{{"passed", false}, {"error", outcome.error}, {"decree", text}};
    std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  } else if (outcome.passed) {
    std::cout << "passed as decree " << outcome.decree_no << "\n";
  } else {
    std::cerr << "paxos-client: " << outcome.error << "\n";
  }
  return outcome.passed ? 0 : 1;
}

// ---- ledger ----

// One ledger entry as a row: number, ballot, text (or "(olive-day)", "(membership: ...)").
std::vector<std::string> decree_row(const json& d) {
  // The decree is its text, or (as in the priests' own messages) {"text"} / {"olive_day"}.
  json decree = d.value("decree", json());
  bool olive = text_of(d, "kind", "").find("olive") != std::string::npos;
  if (decree.is_object()) {
    olive = olive || decree.value("olive_day", false);
    decree = decree.value("text", json());
  }
  if (text_of(d, "kind", "") == "membership" && decree.is_string()) {
    json m = json::parse(decree.get<std::string>(), nullptr, false);
    decree =
        "(membership: " + (m.is_object() ? m.value("change", std::string("?")) : std::string("?")) +
        ")";
  }
  return {std::to_string(d["decree_no"].get<uint64_t>()), text_of(d, "ballot"),
          olive ? "(olive-day)"
                : visible(decree.is_string() ? decree.get<std::string>()
                          : decree.is_null() ? ""
                                             : decree.dump())};
}

int ledger(const Config& config, PriestId id, uint64_t from, bool as_json) {
  const PriestAddress* p = config.find(id);
  std::optional<Membership> held;
  if (!p) {  // a priest added after the configuration was written
    held = discover_membership(config.priests, Millis(500));
    if (held) p = held->find(id);
  }
  if (!p) {
    std::cerr << "paxos-client: there is no priest " << id << " in the configuration or the "
              << "membership in force (priests: ";
    auto ids = held ? held->ids() : config.ids();
    for (size_t i = 0; i < ids.size(); ++i) std::cerr << (i ? ", " : "") << ids[i];
    std::cerr << ")\n";
    return 2;
  }
  auto conn = Connection::connect(p->host, p->port, Millis(2000), p->id);
  if (!conn) {
    std::cerr << "paxos-client: priest " << id << " is unreachable: " << conn.error() << "\n";
    return 1;
  }
  json decrees = json::array();
  uint64_t length = 0;
  for (;;) {
    json request = {{"type", "ledger"}, {"from", from}, {"max", 1000}};
    auto reply = (*conn)->call(request, Millis(5000));
    if (!reply) {
      std::cerr << "paxos-client: priest " << id << ": " << reply.error() << "\n";
      return 1;
    }
    const json& r = *reply;
    if (r.value("type", "") == "error") {
      std::cerr << "paxos-client: priest " << id << " refused: " << text_of(r, "error") << "\n";
      return 1;
    }
    auto page = r.find("decrees");
    auto len = r.find("length");
    if (r.value("type", "") != "ledger" || page == r.end() || !page->is_array() ||
        len == r.end() || !len->is_number_unsigned()) {
      std::cerr << "paxos-client: priest " << id << " sent a malformed ledger reply: " << r.dump()
                << "\n";
      return 1;
    }
    length = len->get<uint64_t>();
    uint64_t last = 0;
    for (const auto& d : *page) {
      auto no = d.find("decree_no");
      if (!d.is_object() || no == d.end() || !no->is_number_unsigned() ||
          no->get<uint64_t>() < from) {
        std::cerr << "paxos-client: priest " << id << " sent a malformed decree: " << d.dump()
                  << "\n";
        return 1;
      }
      last = no->get<uint64_t>();
      decrees.push_back(d);
    }
    if (page->empty() || last >= length) break;
    from = last + 1;
  }
  if (as_json) {
    std::cout << decrees.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << "ledger of priest " << id << " (" << address_of(*p) << "): " << length
            << " decrees passed\n";
  std::vector<std::vector<std::string>> rows = {{"DECREE", "BALLOT", "TEXT"}};
  for (const auto& d : decrees) rows.push_back(decree_row(d));
  print_table(rows);
  return 0;
}

// ---- read ----

// A linearizable read: the ledger from `from` up to a decree number n that a majority
// confirmed after the request arrived, so it holds every decree any client was told passed
// before the read began. Asked of one priest after another until one answers.
int read(const Config& config, uint64_t from, bool as_json, double timeout_s) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::llround(timeout_s * 1000));
  std::vector<PriestAddress> priests = parliament_priests(config.priests, Millis(500));
  std::string last_error = "no priest answered";
  json decrees = json::array();
  std::optional<uint64_t> upto;
  PriestId answered = 0;
  for (size_t at = 0; std::chrono::steady_clock::now() < deadline; at = (at + 1) % priests.size()) {
    // The first page fixes n; the next pages (a long ledger) read up to that n only.
    auto r = call_priest(priests[at], json{{"type", "read"}, {"from", from}, {"max", 1000}},
                         Millis(3000));
    if (!r) {
      last_error = "priest " + std::to_string(priests[at].id) + ": " + r.error();
    } else if (r->value("type", "") != "read" || !r->value("ok", false)) {
      last_error = "priest " + std::to_string(priests[at].id) + ": " + text_of(*r, "error");
    } else {
      auto page = r->find("decrees");
      if (!r->contains("upto") || !(*r)["upto"].is_number_unsigned() || page == r->end() ||
          !page->is_array()) {
        std::cerr << "paxos-client: priest " << priests[at].id
                  << " sent a malformed read reply: " << r->dump() << "\n";
        return 1;
      }
      if (!upto) upto = (*r)["upto"].get<uint64_t>();
      answered = priests[at].id;
      for (const auto& d : *page) {
        uint64_t n = d.value("decree_no", uint64_t(0));
        if (n != from || n > *upto) break;
        decrees.push_back(d);
        ++from;
      }
      if (from > *upto) break;
      continue;  // the next page (from the next priest: any answers, n is fixed)
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!upto || from <= *upto) {
    std::cerr << "paxos-client: no linearizable read within " << timeout_s << " s: " << last_error
              << "\n";
    return 1;
  }
  if (as_json) {
    std::cout << decrees.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << "the ledger up to decree " << *upto
            << ", confirmed by a majority after the read began (priest " << answered
            << " answered)\n";
  std::vector<std::vector<std::string>> rows = {{"DECREE", "BALLOT", "TEXT"}};
  for (const auto& d : decrees) rows.push_back(decree_row(d));
  print_table(rows);
  return 0;
}

// ---- watch ----

// Prints every decree from number `from` on (0: from the next one to pass), in order, each
// once, until `count` have been printed (0: for ever). A ledger holds only decrees that passed,
// so decree n read from any priest is the decree at n: the watch reads the ledger from
// whichever priest answers and moves to another when that one fails or stops growing for a
// second (cut off, or behind), across president changes, restarts and reconnects.
int watch(const Config& config, uint64_t from, uint64_t count, bool as_json) {
  std::vector<PriestAddress> priests = parliament_priests(config.priests, Millis(500));
  if (from == 0) {
    uint64_t longest = 0;
    for (const auto& p : priests)
      if (auto r = call_priest(p, json{{"type", "status"}}, Millis(500));
          r && r->value("type", "") == "status")
        longest = std::max(longest, r->value("passed_len", uint64_t(0)));
    from = longest + 1;
  }
  uint64_t next = from, printed = 0;
  size_t at = 0;
  std::unique_ptr<Connection> conn;
  auto last_growth = std::chrono::steady_clock::now();
  auto move_on = [&] {
    conn.reset();
    priests = parliament_priests(config.priests, Millis(500));  // the membership may have changed
    at = (at + 1) % priests.size();
    last_growth = std::chrono::steady_clock::now();
  };
  while (count == 0 || printed < count) {
    if (!conn) {
      auto c =
          Connection::connect(priests[at].host, priests[at].port, Millis(1000), priests[at].id);
      if (!c) {
        move_on();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      conn = std::move(*c);
    }
    auto reply = conn->call(json{{"type", "ledger"}, {"from", next}, {"max", 1000}}, Millis(2000));
    const json* page = nullptr;
    if (reply && reply->value("type", "") == "ledger")
      if (auto it = reply->find("decrees"); it != reply->end() && it->is_array()) page = &*it;
    if (!page) {
      move_on();
      continue;
    }
    for (const auto& d : *page) {
      if (!d.is_object() || !d.contains("decree_no") || !d["decree_no"].is_number_unsigned() ||
          d["decree_no"].get<uint64_t>() != next)
        break;  // only the next number, so none is skipped or printed twice
      if (as_json) {
        std::cout << d.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      } else {
        auto row = decree_row(d);
        std::cout << row[0] << "  " << row[1] << "  " << row[2] << "\n";
      }
      ++next;
      last_growth = std::chrono::steady_clock::now();
      if (count && ++printed >= count) break;
    }
    std::cout.flush();
    if (!page->empty()) continue;
    if (std::chrono::steady_clock::now() - last_growth > std::chrono::seconds(1)) move_on();
    else std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

// ---- status ----

// Every priest of the membership in force and of the configuration (which may be old).
int status(const Config& config, bool as_json) {
  auto held = discover_membership(config.priests, Millis(500));
  std::vector<PriestAddress> priests = parliament_priests_of(config.priests, held);
  for (const auto& p : config.priests)
    if (held && !held->find(p.id)) priests.push_back(p);
  if (held)
    std::stable_sort(priests.begin(), priests.end(), [](auto& a, auto& b) { return a.id < b.id; });
  std::vector<Result<json>> replies(priests.size(), Result<json>::failure("not asked"));
  std::vector<std::thread> askers;
  for (size_t i = 0; i < priests.size(); ++i)
    askers.emplace_back([&, i] {
      replies[i] = call_priest(priests[i], json{{"type", "status"}}, Millis(500));
    });
  for (auto& t : askers) t.join();

  json all = json::array();
  std::vector<std::vector<std::string>> rows = {{"ID", "ADDRESS", "MEMBER", "ROLE", "PRESIDENT",
                                                 "BALLOT", "NEXT_BAL", "LEDGER", "SEES", "STATE"}};
  for (size_t i = 0; i < priests.size(); ++i) {
    const auto& p = priests[i];
    std::string member = !held ? "?" : held->find(p.id) ? "yes" : "no";
    const auto& r = replies[i];
    std::string id = std::to_string(p.id), addr = address_of(p);
    std::string error;
    if (!r) error = r.error();
    else if (r->value("type", "") == "error") error = "refused: " + text_of(*r, "error");
    else if (r->value("type", "") != "status") error = "malformed reply: " + r->dump();
    if (!error.empty()) {
      all.push_back({{"id", p.id}, {"address", addr}, {"answered", false}, {"error", error}});
      rows.push_back(
          {id, addr, member, "-", "-", "-", "-", "-", "-", "unreachable (" + error + ")"});
      continue;
    }
    json s = *r;
    s.erase("type");
    all.push_back({{"id", p.id}, {"address", addr}, {"answered", true}, {"status", s}});
    std::string sees;
    if (auto it = s.find("reachable"); it != s.end() && it->is_array())
      for (const auto& x : *it) sees += (sees.empty() ? "" : ",") + x.dump();
    std::string state = "reachable";
    if (!s.value("bootstrapped", true)) state = "reachable, not bootstrapped";
    else if (!s.value("voter", true)) state = "reachable, not a voter (learning, or removed)";
    if (held && s.contains("incarnation") && held->find(p.id) &&
        s.value("incarnation", "") != incarnation_text(held->find(p.id)->incarnation))
      state = "reachable, a new incarnation " + text_of(s, "incarnation") +
              " (data directory lost?): replace it";
    if (auto h = s.find("halted"); h != s.end() && h->is_string())
      state = "HALTED (" + h->get<std::string>() + ")";
    rows.push_back({id, addr, member, text_of(s, "role"), text_of(s, "president", "none"),
                    text_of(s, "ballot"), text_of(s, "next_bal"), text_of(s, "passed_len"),
                    sees.empty() ? "-" : sees, state});
  }
  if (as_json) {
    std::cout << all.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  if (held) {
    std::cout << "membership in force: priests " << id_list(held->ids()) << " (quorum "
              << held->quorum() << "), set by "
              << (held->decree_no ? "decree " + std::to_string(held->decree_no) : "the bootstrap")
              << "\n";
  }
  print_table(rows);
  return 0;
}

// What the command line asked for.
struct ClientArgs {
  std::string config_file, cluster, certs, client_name;
  bool plaintext = false;
  PriestId priest_cert = 0;
  CLI::Option *config_opt = nullptr, *cluster_opt = nullptr;
  std::string text;  // propose
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
  std::string console_listen = "127.0.0.1:8100";  // console
  std::vector<std::string> timeline_dirs;  // timeline
  std::string timeline_out;
  CLI::App *propose = nullptr, *ledger = nullptr, *read = nullptr, *watch = nullptr,
           *status = nullptr, *console = nullptr, *timeline = nullptr;
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
}

void add_commands(CLI::App& app, ClientArgs& a) {
  add_parliament_options(app, a);
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  a.propose = app.add_subcommand("propose", "propose a decree and wait until it passes");
  a.propose->add_option("TEXT", a.text, "the decree")->required();
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

// The parliament from --config or --cluster, with this client's TLS identity in use; an
// error says what is wrong.
Result<Config> parliament_of(ClientArgs& a) {
  Result<Config> config = Result<Config>::failure("");
  if (a.config_opt->count()) {
    config = load_config(a.config_file);
  } else if (a.cluster_opt->count()) {
    config = parse_cluster(a.cluster);
  } else {
    return Result<Config>::failure("say where the parliament is: --config FILE or --cluster "
                                   "host:port,host:port,...");
  }
  if (!config) return config;
  if (a.plaintext) config->tls = false;
  if (a.cluster_opt->count() && a.certs.empty()) a.certs = "data/certs";
  // --cluster numbers the addresses 1..n: they name no priest, so any priest may answer.
  if (a.cluster_opt->count()) check_priest_ids(false);
  const tls::Identity me = a.priest_cert ? tls::Identity{tls::Role::Priest, a.priest_cert}
                                         : tls::Identity{tls::Role::Client, 0, a.client_name};
  if (auto s = use_tls(*config, a.config_file, me, a.certs); !s)
    return Result<Config>::failure(s.error());
  return config;
}

int run(const Config& config, const ClientArgs& a) {
  if (*a.propose) {
    if (a.text.size() > config.max_decree_bytes) {
      std::cerr << "paxos-client: the decree is " << a.text.size()
                << " bytes; the parliament takes at most " << config.max_decree_bytes
                << " (max_decree_bytes)\n";
      return 2;
    }
    return propose(config, a.text, a.timeout_s, a.propose_json);
  }
  if (*a.ledger) return ledger(config, a.ledger_priest, a.ledger_from, a.ledger_json);
  if (*a.status) return status(config, a.status_json);
  if (*a.watch) return watch(config, a.watch_from, a.watch_count, a.watch_json);
  if (*a.read) return read(config, a.read_from, a.read_json, a.read_timeout_s);
  if (*a.console) {
    auto at = parse_address(a.console_listen, 0, "--listen");
    if (!at) {
      std::cerr << "paxos-client: " << at.error() << "\n";
      return 2;
    }
    return run_console(config, tls::certs_dir(config, a.config_file, a.certs), at->host, at->port);
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paxos-client: propose decrees to the parliament and read its ledger"};
  ClientArgs a;
  add_commands(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*a.timeline) return write_timeline(a.timeline_dirs, a.timeline_out);
  auto config = parliament_of(a);
  if (!config) {
    std::cerr << "paxos-client: " << config.error() << "\n";
    return 2;
  }
  return run(*config, a);
}
