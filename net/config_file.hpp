// Where the parliament is, as every program reads it: its configuration file (--config) or a
// list of addresses (--cluster). One loader for paxos-priest, the god, the client and the
// bench; an error names the file (or the flag) and what is wrong.
#pragma once

#include <string>

#include "proto/config.hpp"
#include "proto/result.hpp"

namespace parliament {

// Reads and checks the configuration file at `path` (proto/config.hpp, parse_config).
Result<Config> load_config(const std::string& path);

// "--cluster host:port,host:port,...": priests numbered 1..n in the order given, every address
// checked; the rest of the configuration is the defaults.
Result<Config> parse_cluster(const std::string& list);

}  // namespace parliament
