// A snapshot of the parliament: a consistent copy of its ledger from decree 1 up to a decree
// number n that a majority confirmed (a linearizable read point), the membership in force
// when it was taken, and a SHA-256 of both. `paxos-client snapshot save FILE` writes one;
// `paxos-god restore --from FILE` begins a new parliament's ledgers with it; `paxos-god
// recover` makes one from a surviving priest's ledger.csv.
//
// The file is one JSON object:
//   {"format": "parliament-snapshot", "version": 1, "upto": n, "parliament": ID,
//    "taken_at": "2026-12-05T21:17:07Z", "membership": {...}, "decrees": [...],
//    "sha256": HEX}
// each decree as a ledger page writes it (docs/PROTOCOL.md, "ledger"): decree_no, ballot,
// kind, client and request (client decrees), decree (not olive-day). sha256 is of the
// object's compact dump without the sha256 field (keys sorted, as nlohmann writes them).
//
// Pure apart from the SHA-256 (OpenSSL); any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "proto/membership.hpp"
#include "proto/message.hpp"
#include "proto/result.hpp"

namespace parliament {

struct Snapshot {
  uint64_t upto = 0;                 // decrees 1..upto, every one
  std::string parliament;            // the parliament's id ("" without TLS)
  std::string taken_at;              // UTC, ISO 8601
  nlohmann::json membership;         // the membership in force when taken (as `members --json`)
  std::vector<Entry> decrees;        // decrees[i].decree_no == i + 1
};

// A decree as a ledger page writes it, and back (an error names what is wrong).
nlohmann::json entry_to_json(const Entry& e);
Result<Entry> entry_from_json(const nlohmann::json& j);

// The file's text, with its checksum (also put in `sha256` if given).
std::string snapshot_text(const Snapshot& s, std::string* sha256 = nullptr);
// Reads a snapshot file's text: refused, naming `file` and the fault, if it is not one, its
// checksum does not match, or its decrees are not exactly 1..upto in order.
Result<Snapshot> parse_snapshot(std::string_view text, const std::string& file);

// Whether the snapshot's decrees could have passed: each client's requests rise from one
// decree to the next (a priest learning them one by one would make a repeated or lower one
// an olive-day decree, and its ledger would differ from one restored as written), and no
// client decree is longer than `max_decree_bytes`. A checksum proves no more than that the
// file was not damaged: one edited and summed again is refused here, naming the decree.
Status follows_exactly_once(const Snapshot& s, size_t max_decree_bytes);

// The membership decree in force at the snapshot's end: the last membership decree among its
// decrees (its revoked clients and retired lives carry over to a restored parliament), or
// nothing if none passed (the bootstrap's membership was in force).
Result<std::optional<Membership>> last_membership_decree(const Snapshot& s);

}  // namespace parliament
