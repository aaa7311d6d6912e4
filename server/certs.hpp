// certs: the parliament's own CA and every party's key and certificate, made by
// `paxos-god --config FILE certs --out DIR [--force]` (and by the tests).
//
// DIR holds ca.crt + ca.key (the parliament's CA, made if DIR has none) and, per party,
// NAME.key + NAME.crt as net/tls.hpp's files_for() names them (priest-3, god, client).
// Keys are ECDSA P-256, written 0600 from the moment they exist (never chmod-ed later);
// certificates 0644; DIR is created 0700. Certificates are X509v3 with a random 128-bit
// serial: the CA with CA:TRUE for 10 years; each leaf with CA:FALSE, serverAuth+clientAuth,
// its party's urn:parliament: URI in subjectAltName (a priest's also its host, localhost and
// 127.0.0.1, for HTTPS clients that check the host) and CN "parliament priest 3", for 5 years.
// Validity starts an hour before now, so a machine whose clock is a little behind the one
// that made the files does not find them "not yet valid".
//
// Files that exist are kept, so adding priest 6 to the configuration and running again
// makes only priest-6.*; a key whose certificate is missing gets one (a run cut short
// between the two finishes the pair). A kept pair is checked as make_context() checks it.
// With `force` everything is made anew, the CA included (every party must then take its new
// files: the old ones are of another parliament).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "net/tls.hpp"
#include "proto/result.hpp"

namespace parliament::certs {

using Seconds = std::chrono::seconds;

struct Options {
  bool force = false;  // make everything anew, the CA included
  // These parties get a new key and certificate even where they have a pair (the CA and
  // everyone else's are kept): a priest whose key must no longer speak for it (then
  // `paxos-god replace`), a client whose key leaked (then `revoke` the old name instead).
  std::vector<tls::Identity> new_key{};
  // Validity of the certificates made: from now + valid_from, for valid_for. Defaults as
  // above; the tests choose others to make expired or not-yet-valid credentials.
  Seconds ca_valid_from{-3600}, ca_valid_for{Seconds(10 * 365 * 86400)};
  Seconds leaf_valid_from{-3600}, leaf_valid_for{Seconds(5 * 365 * 86400)};
  // The host names or addresses a priest's certificate is also valid for (subjectAltName
  // DNS/IP entries, beside its URI), so that a browser or HTTPS client that checks the host
  // accepts the priest's HTTP port (docs/OPERATIONS.md "Watching the parliament"). Every priest's
  // certificate also names localhost and 127.0.0.1. Only the URI says who a party is.
  std::map<PriestId, std::string> hosts;
  // Told of every file, in order, as it is made (made = true) or kept (made = false).
  std::function<void(const std::string& path, bool made)> on_file = [](const std::string&, bool) {};
};

// The parties of a parliament: each priest of `priests`, the god, and the client.
std::vector<tls::Identity> parties(const std::vector<PriestId>& priests);

// Makes (or keeps) the CA and the credentials of every party in `who` under `dir`. Stops at
// the first failure, a sentence naming the path at fault.
Status make_credentials(const std::string& dir, const std::vector<tls::Identity>& who,
                        const Options& options = {});

// Rotating the CA without stopping the parliament, in three steps; after each, every party
// takes the files and each priest is restarted in turn (the others keep a majority):
//   Begin   a new CA (ca-next.key; its certificate names the parliament's id, so the id
//           does not change) is added to ca.crt: every party trusts both CAs.
//   Sign    every certificate of DIR (priest-N, god, client, client-NAME) is signed anew by
//           the new CA, with the same key (no private key is read but the CA's); ca.crt
//           still holds both.
//   Finish  ca.crt holds the new CA alone and ca-next.key becomes ca.key. Refused while a
//           certificate of DIR is not signed by the new CA.
// Each step refuses when the one before has not been taken, naming the command.
enum class Rotation { Begin, Sign, Finish };
Status rotate_ca(const std::string& dir, Rotation step, const Options& options = {});

}  // namespace parliament::certs
