// paxos-client's command line (see command_line.hpp).
#include "client/command_line.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "proto/membership.hpp"

namespace parliament::client_cli {

namespace {

// Where the parliament is, and who this client is to it.
void add_parliament_options(CLI::App& app, ClientArgs& a) {
  a.config_opt = app.add_option(
      "--config", a.config_file,
      "the parliament's configuration file (when neither --config nor --cluster is given: "
      "$PARLIAMENT_CONFIG)");
  a.cluster_opt = app.add_option("--cluster", a.cluster,
                                 "priests as host:port,host:port,... (ids 1..n in order)");
  a.config_opt->excludes(a.cluster_opt);
  app.add_option("--certs", a.certs, "directory of the TLS files (default: the config's \"certs\"; "
                                     "with --cluster: data/certs)")
      ->envname("PARLIAMENT_CERTS");
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
  app.add_option("-w,--write-out", a.write_out,
                 "how to print what comes back: table (default) or json (as --json)")
      ->check(CLI::IsMember({"table", "json"}));
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
  a.health
      ->add_option("--priest", a.health_priest,
                   "judge only this priest: it answers, is a voter and follows a president that "
                   "hears a majority (a container's healthcheck)")
      ->check(CLI::Range(1, 1000000));
  a.audit = app.add_subcommand(
      "audit", "compare every member's ledger decree by decree; exit 1 naming the first number "
               "where two differ");
  a.audit->add_flag("--json", a.audit_json, "print a JSON object");
  a.snapshot = app.add_subcommand("snapshot", "backups of the ledger");
  a.snapshot->require_subcommand(1);
  a.snapshot_save = a.snapshot->add_subcommand(
      "save", "write every decree up to a linearizable read point, the membership in force and "
              "a checksum to FILE (paxos-god restore --from FILE begins a parliament with it)");
  a.snapshot_save->add_option("FILE", a.snapshot_file, "the file to write")->required();
  a.snapshot_save->add_flag("--json", a.snapshot_json, "print what was written as JSON");
  a.snapshot_save
      ->add_option("--timeout", a.snapshot_timeout_s,
                   "seconds to read the whole ledger in (default 60)")
      ->check(CLI::Range(0.001, 86400.0));
}

}  // namespace

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
  const char* env = std::getenv("PARLIAMENT_CONFIG");
  if (!a.config_opt->count() && !a.cluster_opt->count() && env && *env) o.config_file = env;
  if (a.cluster_opt->count()) {
    std::stringstream ss(a.cluster);
    for (std::string item; std::getline(ss, item, ',');) o.addresses.push_back(item);
    if (o.addresses.empty()) o.addresses.push_back("");  // parse_cluster names the fault
  }
  o.certs_dir = a.certs;
  o.client_name = a.client_name;
  o.priest_certificate = a.priest_cert;
  o.plaintext = a.plaintext;
  double timeout_s = *a.propose        ? a.timeout_s
                     : *a.read         ? a.read_timeout_s
                     : *a.snapshot_save ? a.snapshot_timeout_s
                                        : 5;
  o.timeout = std::chrono::milliseconds(std::llround(timeout_s * 1000));
  return o;
}

bool as_json(const ClientArgs& a, bool json_flag) { return json_flag || a.write_out == "json"; }

}  // namespace parliament::client_cli
