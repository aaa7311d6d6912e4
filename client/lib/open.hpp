// How the client library reaches a parliament: Options (include/parliament/client.hpp) made
// into a configuration, with this process's TLS credentials loaded. Internal to the library
// and the programs built with it (paxos-client's console uses the same configuration).
#pragma once

#include "parliament/client.hpp"
#include "proto/config.hpp"
#include "proto/result.hpp"

namespace parliament::client {

// The configuration from options.config_file, or the addresses (numbered 1..n; with them
// any priest may answer at an address), with the TLS identity the options name set for
// every connection from now on. The error names the file or field at fault.
Result<Config> parliament_config(const Options& options);

// The certificates' directory the options mean for `config`.
std::string certs_dir_of(const Options& options, const Config& config);

}  // namespace parliament::client
