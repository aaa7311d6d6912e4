// paxos-client snapshot save FILE and paxos-client audit: the parliament's ledger as a whole.
//
// Called from paxos-client's main thread (client_main.cpp).
#pragma once

#include <string>

#include "parliament/client.hpp"

namespace parliament::client_cli {

// Writes a snapshot (net/snapshot.hpp) of every decree up to a linearizable read point, with
// the membership in force, to `file` durably (a temporary file fdatasynced, renamed over
// `file`, its directory fsynced). Exit status: 0 written, 1 the parliament did not answer,
// 2 the file could not be written.
int save_snapshot(client::Parliament& p, const client::Options& o, const std::string& file,
                  bool as_json);

// Compares every member's ledger: a SHA-256 per range of 1000 decrees from each (the
// ledger_hash frame), and the rows only of a range where two differ. Exit 0 when they agree
// as far as each goes (one may be shorter: it has not learned the rest yet), 1 naming the
// first decree number where two differ, or a member that could not be read.
int audit(client::Parliament& p, bool as_json);

}  // namespace parliament::client_cli
