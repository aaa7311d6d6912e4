// paxos-priest --config FILE --id N [--data-dir DIR] [--address HOST:PORT]: runs one priest
// of the parliament. Its address is the config's entry for N, or --address (a priest the
// config does not name: one to be added by `paxos-god add`).
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "net/config_file.hpp"
#include "net/program.hpp"
#include "net/tls.hpp"
#include "server/storage.hpp"
#include "server/transport.hpp"

namespace {

// Why `dir` cannot be this priest's data directory (a file, or a directory it may not write,
// or under one where it cannot be made), or "" if it can. Checked before anything is written:
// a mistake in the command line exits 2, which the systemd unit does not restart.
std::string unusable_data_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec);
  if (ec) return ec.message();
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec)) return "exists but is not a directory";
    if (::access(p.c_str(), W_OK | X_OK) != 0)
      return std::string("this user cannot write there: ") + std::strerror(errno);
    return "";
  }
  // To be made: by this user, under the nearest directory that exists.
  for (fs::path up = p.parent_path(); !up.empty(); up = up.parent_path()) {
    if (!fs::exists(up, ec)) {
      if (up == up.parent_path()) break;
      continue;
    }
    if (!fs::is_directory(up, ec)) return up.string() + " is not a directory";
    if (::access(up.c_str(), W_OK | X_OK) != 0)
      return "cannot be made: this user cannot write " + up.string();
    return "";
  }
  return "";
}

// The parliament id of this priest's CA, checked against the one its data directory holds
// (one parliament, one data directory: refused before anything is written). An error says
// what to do.
parliament::Result<std::string> parliament_of(const parliament::Config& config,
                                              const std::string& config_path,
                                              const std::string& certs, uint32_t id,
                                              const std::string& data_dir) {
  using R = parliament::Result<std::string>;
  namespace tls = parliament::tls;
  const std::string dir = tls::certs_dir(config, config_path, certs);
  auto pid = tls::parliament_id(tls::files_for(dir, {tls::Role::Priest, id}).ca);
  if (!pid) return pid;
  auto held = parliament::read_parliament_id(data_dir);
  if (!held) return R::failure(held.error());
  if (!held->empty() && *held != *pid)
    return R::failure("--data-dir " + data_dir + " belongs to parliament " + *held +
                      ", but this priest's certificates (" + dir + "/ca.crt) are parliament " +
                      *pid +
                      ": point --data-dir at this parliament's directory, or --certs at that "
                      "parliament's certificates");
  return pid;
}

// What the command line asked for.
struct PriestArgs {
  std::string config_path, data_dir, address, listen, certs;
  uint32_t id = 0;
  uint16_t http_port = 0;
  std::string http_listen = "127.0.0.1";
};

void add_options(CLI::App& app, PriestArgs& a) {
  app.add_option("--config", a.config_path, "parliament config (JSON)")->required();
  app.add_option("--id", a.id, "this priest's id in the config")->required();
  app.add_option("--data-dir", a.data_dir, "directory for ledger.csv, votes.csv, membership.json "
                                           "(default data/priest-N)");
  app.add_option("--address", a.address, "HOST:PORT others reach this priest at, if the config "
                                         "does not name it (a priest to be added)");
  app.add_option("--listen", a.listen, "with --address: the address to bind (default HOST)");
  app.add_option("--http-port", a.http_port,
                 "serve metrics, status and the page on this port (a priest the config does not "
                 "name has none otherwise; for one it names, instead of its \"http_port\")")
      ->check(CLI::Range(1, 65535));
  app.add_option("--http-listen", a.http_listen,
                 "with --http-port: the address to bind it to (default 127.0.0.1)");
  app.add_option("--certs", a.certs,
                 "directory of the TLS files (default: the config's \"certs\")");
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes while TLS (OpenSSL writes the HTTP port's socket itself) is writing
  // must cost that connection an EPIPE, not the priest its life.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"paxos-priest: one priest of the Paxos parliament"};
  app.set_version_flag("--version", std::string("paxos-priest ") + PARLIAMENT_VERSION);
  PriestArgs a;
  add_options(app, a);
  if (auto exit = parliament::parse_command_line(app, argc, argv)) return *exit;
  auto& [config_path, data_dir, address, listen, certs, id, http_port, http_listen] = a;

  auto config = parliament::load_config(config_path);
  if (!config) {
    std::cerr << "paxos-priest: " << config.error() << "\n";
    return 2;
  }
  parliament::PriestAddress me;
  if (!address.empty()) {
    auto a = parliament::parse_address(address, id, "--address");
    if (!a) {
      std::cerr << "paxos-priest: " << a.error() << "\n";
      return 2;
    }
    me = *a;
    if (!listen.empty()) me.listen = listen;
  } else if (auto* p = config->find(id)) {
    me = *p;
  } else {
    std::cerr << "paxos-priest: " << config_path << ": priests: no priest with id " << id
              << " (a priest to be added needs --address HOST:PORT)\n";
    return 2;
  }
  if (http_port) config->http[id] = parliament::HttpAddress{me.host, http_port, http_listen};
  if (data_dir.empty()) data_dir = "data/priest-" + std::to_string(id);
  if (auto why = unusable_data_dir(data_dir); !why.empty()) {
    std::cerr << "paxos-priest: --data-dir " << data_dir << ": " << why << "\n";
    return 2;
  }
  auto tls =
      parliament::tls::load(*config, config_path, {parliament::tls::Role::Priest, id}, certs);
  if (!tls) {
    // A priest the configuration does not name (one to be added) needs its own key: say the
    // one command that makes it, where the CA is.
    std::cerr << "paxos-priest: " << tls.error() << " (make them with: paxos-god --config "
              << config_path << " certs --out "
              << parliament::tls::certs_dir(*config, config_path, certs)
              << (config->find(id) ? "" : " --priest " + std::to_string(id)) << ")\n";
    return 2;
  }
  if (!*tls)
    std::cerr << "paxos-priest: WARNING: " << config_path
              << " says \"tls\": false: connections are "
              << "plaintext and any process that reaches port " << me.port
              << " can speak as any priest\n";
  std::string parliament_id;
  if (*tls) {
    auto pid = parliament_of(*config, config_path, certs, id, data_dir);
    if (!pid) {
      std::cerr << "paxos-priest: " << pid.error() << "\n";
      return 2;
    }
    parliament_id = *pid;
  }
  // One priest per data directory, for as long as it runs (the descriptor stays open).
  if (auto lock = parliament::lock_data_dir(data_dir); !lock) {
    std::cerr << "paxos-priest: --data-dir " << data_dir << ": " << lock.error() << "\n";
    return 2;
  }
  if (auto format = parliament::check_data_format(data_dir); !format) {
    std::cerr << "paxos-priest: " << format.error() << "\n";
    return 2;
  }
  return parliament::run_priest({*config, config_path, id, me, data_dir, *tls, parliament_id});
}
