// paxos-god: creates the priests and tells them who the parliament is.
//
//   paxos-god --config FILE bootstrap [--timeout 30]
//       Bootstraps a parliament that has not begun: asks every priest of the configuration
//       its incarnation, then sends each the membership (ids, incarnations, addresses) until
//       it says "bootstrapped". Harmless to repeat. Refused, naming the priest and the safe
//       command, where a priest is blank (a new incarnation) in a parliament that has begun.
//   paxos-god --config FILE add ID HOST:PORT | remove ID [--force] | replace ID [HOST:PORT]
//       [--json] [--timeout 60]
//       Changes the membership by decree, one change at a time, and exits 0 once the
//       membership decree has passed, printing the membership in force. add and replace
//       first tell the (blank, running) priest at HOST:PORT to join: the president teaches
//       it the ledger before the change makes it a voter. The membership records each
//       priest's key as the god saw it; replace refuses a new incarnation that presents the
//       key of the one it replaces unless --keep-key (see same_key).
//   paxos-god --config FILE up [--data-dir data] [--priest-bin PATH] [--timeout 30]
//       Starts one paxos-priest per priest of the configuration, bootstraps them, and stays in
//       the foreground until SIGINT/SIGTERM, then stops them (SIGTERM, then SIGKILL after 5 s).
//       A priest that dies is reported with the command that restarts it, not restarted.
//   paxos-god --config FILE certs [--out DIR] [--priest ID]... [--client NAME]... [--force|--new-key]
//       Makes the parliament's CA (DIR/ca.crt, ca.key) if DIR has none, and a key and
//       certificate for every priest of the configuration, the god and the client, keeping
//       files that exist (--force: everything anew, the CA included; --new-key: anew for the
//       --priest and --client parties named). --rotate-ca begin|sign|finish: rotate the CA
//       without stopping the parliament, one step at a time. See server/certs.hpp.
//   paxos-god --config FILE revoke NAME [--json] [--timeout 60]
//       Revokes a named client's certificate by decree.
//
// Exit status: 0 done, 1 the parliament could not be created, 2 bad input.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "client/rpc.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "server/certs.hpp"
#include "server/god.hpp"

using namespace parliament;
using nlohmann::json;

using namespace parliament;
using namespace parliament::god;

namespace {

Result<Config> load_config(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Result<Config>::failure("cannot read " + file + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), file);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_pattern("%H:%M:%S.%e %^%l%$ %v");
  CLI::App app{"paxos-god: creates the priests of the parliament and bootstraps its membership"};
  std::string config_file;
  app.add_option("--config", config_file, "the parliament's configuration file")->required();
  std::string certs_override;
  app.add_option("--certs", certs_override, "directory of the TLS files (default: the config's \"certs\")");
  app.require_subcommand(1);
  app.fallthrough();

  double timeout_s = 30;
  auto* boot = app.add_subcommand("bootstrap", "tell every priest the parliament's membership");
  boot->add_option("--timeout", timeout_s, "seconds to keep trying (default 30)")
      ->check(CLI::Range(0.001, 86400.0));

  std::string data_dir = "data", priest_bin;
  double up_timeout_s = 30;
  auto* up_cmd = app.add_subcommand("up", "start every priest here, bootstrap, stay in the foreground");
  up_cmd->add_option("--data-dir", data_dir, "directory for the priests' files (default data)");
  up_cmd->add_option("--priest-bin", priest_bin,
                     "the paxos-priest program (default: next to paxos-god)");
  up_cmd->add_option("--timeout", up_timeout_s, "seconds to wait for bootstrap (default 30)")
      ->check(CLI::Range(0.001, 86400.0));

  PriestId change_id = 0;
  std::string change_address;
  bool change_json = false, force = false;
  double change_timeout_s = 60;
  auto* add_cmd = app.add_subcommand("add", "add a priest (blank, running at HOST:PORT) by decree");
  auto* remove_cmd = app.add_subcommand("remove", "remove a priest by decree");
  auto* replace_cmd = app.add_subcommand(
      "replace", "replace a priest by its new incarnation (a blank data directory) by decree");
  for (auto* cmd : {add_cmd, remove_cmd, replace_cmd}) {
    cmd->add_option("ID", change_id, "the priest's id")->required()->check(CLI::Range(1, 1000000));
    cmd->add_flag("--json", change_json, "print the membership in force as JSON");
    cmd->add_option("--timeout", change_timeout_s, "seconds to keep trying (default 60)")
        ->check(CLI::Range(0.001, 86400.0));
  }
  add_cmd->add_option("ADDRESS", change_address, "HOST:PORT the new priest listens at")->required();
  replace_cmd->add_option("ADDRESS", change_address,
                          "HOST:PORT of the new incarnation (default: the priest's address)");
  remove_cmd->add_flag("--force", force, "allow fewer than three priests");
  bool keep_key = false;
  replace_cmd->add_flag("--keep-key", keep_key,
                        "the new incarnation may keep the old one's key (it is safe: only the disk was lost)");
  std::string revoke_name;
  auto* revoke_cmd = app.add_subcommand(
      "revoke", "revoke a named client's certificate by decree: from that decree on no priest serves it");
  revoke_cmd->add_option("NAME", revoke_name, "the client's name (paxos-god certs --client NAME)")
      ->required()
      ->check([](const std::string& n) { return client_name_error(n); });
  revoke_cmd->add_flag("--json", change_json, "print the membership in force as JSON");
  revoke_cmd->add_option("--timeout", change_timeout_s, "seconds to keep trying (default 60)")
      ->check(CLI::Range(0.001, 86400.0));

  std::string certs_dir;
  bool certs_force = false;
  auto* certs_cmd = app.add_subcommand(
      "certs", "make the parliament's CA and a TLS key and certificate for every party");
  certs_cmd->add_option("--out", certs_dir, "directory for the files, made 0700 (default: the config's \"certs\")");
  certs_cmd->add_flag("--force", certs_force, "make everything anew, the CA included");
  std::string rotate_step;
  certs_cmd->add_option("--rotate-ca", rotate_step,
                        "rotate the CA without stopping the parliament, one step at a time (begin, sign, "
                        "finish); after each, every party takes the files and each priest is restarted in turn")
      ->check(CLI::IsMember({"begin", "sign", "finish"}));
  bool certs_new_key = false;
  certs_cmd->add_flag("--new-key", certs_new_key,
                      "a new key and certificate for each --priest and --client named, even if it has "
                      "them (the CA and everyone else's are kept)");
  std::vector<PriestId> certs_more;
  certs_cmd->add_option("--priest", certs_more, "also for this priest id, not in the config (to be added)")
      ->check(CLI::Range(1, 1000000));
  std::vector<std::string> certs_clients;
  certs_cmd->add_option("--client", certs_clients,
                        "also a named client identity, client-NAME.crt and .key (NAME: a-z 0-9 . _ -); "
                        "exactly-once and revocation are kept per identity")
      ->check([](const std::string& n) { return client_name_error(n); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  auto config = load_config(config_file);
  if (!config) {
    spdlog::error("god: {}", config.error());
    return 2;
  }
  auto millis = [](double s) { return Millis(static_cast<int64_t>(s * 1000 + 0.5)); };
  if (*certs_cmd) {
    certs::Options o;
    o.force = certs_force;
    for (auto& p : config->priests) o.hosts[p.id] = p.host;
    const std::string dir = certs_dir.empty() ? tls::certs_dir(*config, config_file, certs_override) : certs_dir;
    if (!rotate_step.empty()) {
      auto step = rotate_step == "begin" ? certs::Rotation::Begin
                  : rotate_step == "sign" ? certs::Rotation::Sign : certs::Rotation::Finish;
      auto s = certs::rotate_ca(dir, step, o);
      if (!s) spdlog::error("god: {}", s.error());
      return s ? 0 : 2;
    }
    if (certs_new_key) {
      if (certs_more.empty() && certs_clients.empty()) {
        spdlog::error("god: certs --new-key: name the parties to make anew (--priest ID, --client NAME)");
        return 2;
      }
      for (PriestId id : certs_more) o.new_key.push_back({tls::Role::Priest, id});
      for (auto& n : certs_clients) o.new_key.push_back({tls::Role::Client, 0, n});
    }
    o.on_file = [](const std::string& path, bool made) {
      std::printf("%s %s\n", made ? "made" : "kept", path.c_str());
    };
    auto s = certs::make_credentials(dir,
                                     [&] {
                                       auto ids = config->ids();
                                       ids.insert(ids.end(), certs_more.begin(), certs_more.end());
                                       std::sort(ids.begin(), ids.end());
                                       ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
                                       auto who = certs::parties(ids);
                                       for (auto& n : certs_clients) who.push_back({tls::Role::Client, 0, n});
                                       return who;
                                     }(), o);
    if (!s) spdlog::error("god: {}", s.error());
    return s ? 0 : 2;
  }
  std::string certs = tls::certs_dir(*config, config_file, certs_override);
  if (*up_cmd && config->tls) {
    // A new user does nothing for TLS: the parliament's files are made the first time.
    certs::Options o;
    for (auto& p : config->priests) o.hosts[p.id] = p.host;
    o.on_file = [](const std::string& path, bool made) {
      if (made) spdlog::info("god: made {}", path);
    };
    if (auto s = certs::make_credentials(certs, certs::parties(config->ids()), o); !s) {
      spdlog::error("god: {}", s.error());
      return 2;
    }
  }
  if (!config->tls)
    spdlog::warn("god: {} says \"tls\": false: every connection is plaintext, and any process that "
                 "reaches a priest's port can speak as the god", config_file);
  if (auto s = use_tls(*config, config_file, {tls::Role::God}, certs_override); !s) {
    spdlog::error("god: {}", s.error());
    return 2;
  }
  if (*boot) {
    auto o = bootstrap(*config, config_file, millis(timeout_s));
    return o == Outcome::Done ? 0 : 1;
  }
  if (*add_cmd || *remove_cmd || *replace_cmd) {
    Change c;
    c.op = *add_cmd ? Change::Op::Add : *remove_cmd ? Change::Op::Remove : Change::Op::Replace;
    c.priest.id = change_id;
    c.force = force;
    return change_membership(*config, c, change_address, change_json, millis(change_timeout_s), keep_key);
  }
  if (*revoke_cmd) {
    Change c;
    c.op = Change::Op::Revoke;
    c.client = revoke_name;
    return change_membership(*config, c, "", change_json, millis(change_timeout_s));
  }
  return up(*config, config_file, data_dir, priest_bin, millis(up_timeout_s), certs_override);
}
