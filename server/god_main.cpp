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
//   paxos-god --config FILE certs [--out DIR] [--priest ID]... [--client NAME]...
//   [--force|--new-key]
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

#include "net/rpc.hpp"
#include "net/config_file.hpp"
#include "net/program.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "server/certs.hpp"
#include "server/god.hpp"

using namespace parliament;
using namespace parliament::god;
using nlohmann::json;

namespace {

// What the command line asked for.
struct GodArgs {
  std::string config_file, certs_override;
  double timeout_s = 30;                                   // bootstrap
  std::string data_dir = "data", priest_bin;               // up
  double up_timeout_s = 30;
  PriestId change_id = 0;                                  // add, remove, replace, revoke
  std::string change_address, revoke_name;
  bool change_json = false, force = false, keep_key = false;
  double change_timeout_s = 60;
  std::string restore_from;                                 // restore, recover
  PriestId recover_from = 0;
  bool recover_force = false;
  std::string certs_dir, rotate_step;                      // certs
  bool certs_force = false, certs_new_key = false;
  std::vector<PriestId> certs_more;
  std::vector<std::string> certs_clients;
  CLI::App *boot = nullptr, *up = nullptr, *add = nullptr, *remove = nullptr, *replace = nullptr,
           *revoke = nullptr, *certs = nullptr, *restore = nullptr, *recover = nullptr;
};

// add, remove, replace and revoke: membership changes by decree.
void add_change_commands(CLI::App& app, GodArgs& a) {
  a.add = app.add_subcommand("add", "add a priest (blank, running at HOST:PORT) by decree");
  a.remove = app.add_subcommand("remove", "remove a priest by decree");
  a.replace = app.add_subcommand(
      "replace", "replace a priest by its new incarnation (a blank data directory) by decree");
  for (auto* cmd : {a.add, a.remove, a.replace}) {
    cmd->add_option("ID", a.change_id, "the priest's id")
        ->required()
        ->check(CLI::Range(1, 1000000));
    cmd->add_flag("--json", a.change_json, "print the membership in force as JSON");
    cmd->add_option("--timeout", a.change_timeout_s, "seconds to keep trying (default 60)")
        ->check(CLI::Range(0.001, 86400.0));
  }
  a.add->add_option("ADDRESS", a.change_address, "HOST:PORT the new priest listens at")->required();
  a.replace->add_option("ADDRESS", a.change_address,
                        "HOST:PORT of the new incarnation (default: the priest's address)");
  a.remove->add_flag("--force", a.force, "allow fewer than three priests");
  a.replace->add_flag(
      "--keep-key", a.keep_key,
      "the new incarnation may keep the old one's key (it is safe: only the disk was "
      "lost)");
  a.revoke = app.add_subcommand(
      "revoke",
      "revoke a named client's certificate by decree: from that decree on no priest serves it");
  a.revoke->add_option("NAME", a.revoke_name, "the client's name (paxos-god certs --client NAME)")
      ->required()
      ->check([](const std::string& n) { return client_name_error(n); });
  a.revoke->add_flag("--json", a.change_json, "print the membership in force as JSON");
  a.revoke->add_option("--timeout", a.change_timeout_s, "seconds to keep trying (default 60)")
      ->check(CLI::Range(0.001, 86400.0));
}

void add_certs_command(CLI::App& app, GodArgs& a) {
  a.certs = app.add_subcommand(
      "certs", "make the parliament's CA and a TLS key and certificate for every party");
  a.certs->add_option("--out", a.certs_dir,
                      "directory for the files, made 0700 (default: the config's \"certs\")");
  a.certs->add_flag("--force", a.certs_force, "make everything anew, the CA included");
  a.certs
      ->add_option(
          "--rotate-ca", a.rotate_step,
          "rotate the CA without stopping the parliament, one step at a time (begin, sign, "
          "finish); after each, every party takes the files and each priest is restarted in "
          "turn")
      ->check(CLI::IsMember({"begin", "sign", "finish"}));
  a.certs->add_flag(
      "--new-key", a.certs_new_key,
      "a new key and certificate for each --priest and --client named, even if it has "
      "them (the CA and everyone else's are kept)");
  a.certs
      ->add_option("--priest", a.certs_more,
                   "also for this priest id, not in the config (to be added)")
      ->check(CLI::Range(1, 1000000));
  a.certs
      ->add_option("--client", a.certs_clients,
                   "also a named client identity, client-NAME.crt and .key (NAME: a-z 0-9 . _ -); "
                   "exactly-once and revocation are kept per identity")
      ->check([](const std::string& n) { return client_name_error(n); });
}

// restore and recover: a new parliament from a snapshot or a surviving ledger.
void add_recovery_commands(CLI::App& app, GodArgs& a) {
  a.restore = app.add_subcommand(
      "restore", "make the data directories of a new parliament (the config's priests) whose "
                 "ledgers begin as a snapshot's (paxos-client snapshot save)");
  a.restore->add_option("--from", a.restore_from, "the snapshot file")->required();
  a.recover = app.add_subcommand(
      "recover", "when a majority of disks is lost: a new parliament of the config's priests "
                 "from one surviving priest's ledger (every priest stopped)");
  a.recover->add_option("--from-priest", a.recover_from, "the priest whose ledger survived")
      ->required()
      ->check(CLI::Range(1, 1000000));
  a.recover->add_flag("--force", a.recover_force,
                      "do it: decrees acknowledged after that ledger's last are lost");
  for (auto* cmd : {a.restore, a.recover})
    cmd->add_option("--data-dir", a.data_dir, "directory of the priests' files (default data)");
}

void add_commands(CLI::App& app, GodArgs& a) {
  app.add_option("--config", a.config_file, "the parliament's configuration file")
      ->envname("PARLIAMENT_CONFIG")
      ->required();
  app.add_option("--certs", a.certs_override,
                 "directory of the TLS files (default: the config's \"certs\")")
      ->envname("PARLIAMENT_CERTS");
  app.require_subcommand(1);
  app.fallthrough();
  a.boot = app.add_subcommand("bootstrap", "tell every priest the parliament's membership");
  a.boot->add_option("--timeout", a.timeout_s, "seconds to keep trying (default 30)")
      ->check(CLI::Range(0.001, 86400.0));
  a.up = app.add_subcommand("up", "start every priest here, bootstrap, stay in the foreground");
  a.up->add_option("--data-dir", a.data_dir, "directory for the priests' files (default data)");
  a.up->add_option("--priest-bin", a.priest_bin,
                   "the paxos-priest program (default: next to paxos-god)");
  a.up->add_option("--timeout", a.up_timeout_s, "seconds to wait for bootstrap (default 30)")
      ->check(CLI::Range(0.001, 86400.0));
  add_change_commands(app, a);
  add_certs_command(app, a);
  add_recovery_commands(app, a);
}

// paxos-god certs: the CA, a rotation step, or the parties' keys and certificates.
int run_certs(const Config& config, const GodArgs& a) {
  certs::Options o;
  o.force = a.certs_force;
  for (auto& p : config.priests) o.hosts[p.id] = p.host;
  const std::string dir =
      a.certs_dir.empty() ? tls::certs_dir(config, a.config_file, a.certs_override) : a.certs_dir;
  if (!a.rotate_step.empty()) {
    auto step = a.rotate_step == "begin"  ? certs::Rotation::Begin
                : a.rotate_step == "sign" ? certs::Rotation::Sign
                                          : certs::Rotation::Finish;
    auto s = certs::rotate_ca(dir, step, o);
    if (!s) spdlog::error("god: {}", s.error());
    return s ? 0 : 2;
  }
  if (a.certs_new_key) {
    if (a.certs_more.empty() && a.certs_clients.empty()) {
      spdlog::error(
          "god: certs --new-key: name the parties to make anew (--priest ID, --client NAME)");
      return 2;
    }
    for (PriestId id : a.certs_more) o.new_key.push_back({tls::Role::Priest, id});
    for (auto& n : a.certs_clients) o.new_key.push_back({tls::Role::Client, 0, n});
  }
  o.on_file = [](const std::string& path, bool made) {
    std::printf("%s %s\n", made ? "made" : "kept", path.c_str());
  };
  auto ids = config.ids();
  ids.insert(ids.end(), a.certs_more.begin(), a.certs_more.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  auto who = certs::parties(ids);
  for (auto& n : a.certs_clients) who.push_back({tls::Role::Client, 0, n});
  auto s = certs::make_credentials(dir, who, o);
  if (!s) spdlog::error("god: {}", s.error());
  return s ? 0 : 2;
}

// The god's own TLS files (made first, for `up`, where a new user has none yet).
bool god_tls(const Config& config, const GodArgs& a) {
  std::string certs = tls::certs_dir(config, a.config_file, a.certs_override);
  if (*a.up && config.tls) {
    certs::Options o;
    for (auto& p : config.priests) o.hosts[p.id] = p.host;
    o.on_file = [](const std::string& path, bool made) {
      if (made) spdlog::info("god: made {}", path);
    };
    if (auto s = certs::make_credentials(certs, certs::parties(config.ids()), o); !s) {
      spdlog::error("god: {}", s.error());
      return false;
    }
  }
  if (!config.tls)
    spdlog::warn("god: {} says \"tls\": false: every connection is plaintext, and any process that "
                 "reaches a priest's port can speak as the god", a.config_file);
  if (auto s = use_tls(config, a.config_file, {tls::Role::God}, a.certs_override); !s) {
    spdlog::error("god: {}", s.error());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  use_dated_log_lines();
  CLI::App app{"paxos-god: creates the priests of the parliament and bootstraps its membership"};
  app.set_version_flag("--version", std::string("paxos-god ") + PARLIAMENT_VERSION);
  GodArgs a;
  add_commands(app, a);
  if (auto exit = parse_command_line(app, argc, argv)) return *exit;
  auto config = load_config(a.config_file);
  if (!config) {
    spdlog::error("god: {}", config.error());
    return 2;
  }
  auto millis = [](double s) { return Millis(static_cast<int64_t>(s * 1000 + 0.5)); };
  if (*a.certs) return run_certs(*config, a);
  if (!god_tls(*config, a)) return 2;
  const std::string certs = tls::certs_dir(*config, a.config_file, a.certs_override);
  const god::NewParliament fresh{a.config_file, certs, a.data_dir};
  if (*a.restore) return restore(*config, fresh, a.restore_from);
  if (*a.recover) return recover(*config, fresh, a.recover_from, a.recover_force);
  if (*a.boot)
    return bootstrap(*config, a.config_file, millis(a.timeout_s)) == Outcome::Done ? 0 : 1;
  if (*a.add || *a.remove || *a.replace) {
    Change c;
    c.op = *a.add ? Change::Op::Add : *a.remove ? Change::Op::Remove : Change::Op::Replace;
    c.priest.id = a.change_id;
    c.force = a.force;
    return change_membership(*config, c, a.change_address, a.change_json,
                             millis(a.change_timeout_s), a.keep_key, {a.config_file, certs});
  }
  if (*a.revoke) {
    Change c;
    c.op = Change::Op::Revoke;
    c.client = a.revoke_name;
    return change_membership(*config, c, "", a.change_json, millis(a.change_timeout_s));
  }
  return up(*config, a.config_file, a.data_dir, a.priest_bin, millis(a.up_timeout_s),
            a.certs_override);
}
