// The live page from a person's own machine, and a past run drawn as a timeline.
//
// run_console (`paxos-client console`): a local web server, plaintext on 127.0.0.1 by default,
// that serves the live page (page/page.hpp) and forwards its GET requests for
// /priest/ID/{status,metrics,events,ledger} to priest ID's HTTP port (config "http_port"),
// over the parliament's mutual TLS as the client. It is how a browser without the client's
// certificate watches the parliament, like `kubectl proxy`; it forwards nothing that writes.
//
// write_timeline (`paxos-client timeline`): the page with the events of the given data
// directories (events.jsonl.1 and events.jsonl, server/chronicle.hpp) built in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/config.hpp"

namespace parliament {

// Serves until SIGINT/SIGTERM; returns the exit code. `certs` is the certificate directory
// (client.crt, client.key, ca.crt), unused when the config says "tls": false.
int run_console(const Config& config, const std::string& certs, const std::string& listen,
                uint16_t port);

int write_timeline(const std::vector<std::string>& data_dirs, const std::string& out);

}  // namespace parliament
