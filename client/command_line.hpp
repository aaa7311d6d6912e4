// paxos-client's command line: what each command was asked, read by CLI11 (client_main.cpp
// carries the commands out). Called from main() only.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "parliament/client.hpp"
#include "proto/result.hpp"
#include "proto/ballot.hpp"

namespace parliament::client_cli {

// What the command line asked for.
struct ClientArgs {
  std::string config_file, cluster, certs, client_name;
  bool plaintext = false;
  std::string write_out = "table";  // -w json|table
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
  uint64_t health_priest = 0;  // health --priest N (0: the whole parliament)
  std::string snapshot_file;  // snapshot save
  double snapshot_timeout_s = 60;
  bool snapshot_json = false, audit_json = false;
  std::string console_listen = "127.0.0.1:8100";  // console
  std::vector<std::string> timeline_dirs;  // timeline
  std::string timeline_out;
  CLI::App *propose = nullptr, *ledger = nullptr, *read = nullptr, *watch = nullptr,
           *status = nullptr, *console = nullptr, *timeline = nullptr, *members = nullptr,
           *health = nullptr, *snapshot = nullptr, *snapshot_save = nullptr, *audit = nullptr;
};

// Every command and option of paxos-client, read into `a`.
void add_commands(CLI::App& app, ClientArgs& a);

// The decree's text: the argument, standard input (TEXT "-") or a file (--file); never empty.
Result<std::string> decree_text(const ClientArgs& a);

// Where the parliament is and who this client is, from the command line (and, when neither
// --config nor --cluster is given, $PARLIAMENT_CONFIG).
client::Options options_of(const ClientArgs& a);

// Whether to print JSON: the command's --json flag, or -w json.
bool as_json(const ClientArgs& a, bool json_flag);

}  // namespace parliament::client_cli
