// The Asio host of one priest (paxos-priest): listener, peer links, client sessions, the
// tick timer, and the durable files. Runs one io_context on the calling thread.
//
// It drives proto::Priest by the contract in proto/priest.hpp; in particular it makes the
// promise and votes of a ready() batch durable (one fdatasync) before any of its messages
// leave, and stops voting and acknowledging for good if a write or fdatasync fails.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "proto/config.hpp"

namespace asio::ssl {
class context;
}

namespace parliament {

struct PriestRun {
  Config config;
  std::string config_path;
  PriestId id = 0;
  PriestAddress me;  // this priest's address: from the config, or --address
  std::string data_dir;
  // This priest's TLS credentials (net/tls.hpp), or nullptr when the config says
  // "tls": false: then every connection is plaintext and anyone may claim any id.
  std::shared_ptr<asio::ssl::context> tls;
  // tls::parliament_id of its CA; "" without TLS (nothing then tells parliaments apart).
  std::string parliament_id;
};

// The exit status of a priest that a membership decree removed or replaced: it stops for
// good (its systemd unit does not restart it: RestartPreventExitStatus). 1 is a halt (a
// disk that failed: restarting may help), 2 a mistake in the command line or the config
// (or a data directory of another parliament).
inline constexpr int kExitRemoved = 3;

// Runs until SIGINT/SIGTERM; returns the process exit code.
int run_priest(const PriestRun& run);

}  // namespace parliament
