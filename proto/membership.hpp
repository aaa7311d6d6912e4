// Membership: which priests (id, incarnation, address) vote at which decree numbers, and the
// one-at-a-time changes to it that pass as membership decrees.
//
// The rule (argued in docs/SAFETY.md, "Membership"): the membership in force at decree
// number i is the one set by the last membership decree at a number below i (or the
// bootstrap's). A president begins decree numbers of one membership only: it begins nothing
// above a membership decree until that decree has passed, and then it asks for promises
// again from a majority of the new membership, in a new ballot, before it begins more. A new
// membership decree is begun only by a president that knows every lower number passed and
// has nothing else in flight.
//
// A priest is a voter of a membership when its id is there with its incarnation: a priest
// whose data directory was lost is a new incarnation and votes nowhere until a `replace`
// decree names it.
//
// Pure: values and their JSON; anyone may use them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "proto/config.hpp"
#include "proto/result.hpp"

namespace parliament {

struct Membership {
  uint64_t decree_no = 0;               // the membership decree that set it; 0 = the bootstrap
  std::vector<PriestAddress> priests;   // sorted by id
  // Named clients whose certificates no priest serves from this decree on (`paxos-god
  // revoke NAME`), sorted. Revocation passes as a membership decree so that every priest
  // applies it at the same ledger number.
  std::vector<std::string> revoked{};

  bool is_revoked(const std::string& client) const;

  const PriestAddress* find(PriestId id) const;
  bool voter(PriestId id, uint64_t incarnation) const;
  std::vector<PriestId> ids() const;
  size_t quorum() const { return quorum_size(priests.size()); }  // B2
  bool operator==(const Membership&) const = default;
};

// {"decree_no": N, "priests": [...]} (membership.json, status).
nlohmann::json membership_to_json(const Membership& m);
Result<Membership> parse_membership(const nlohmann::json& j, const std::string& where);

// One change, as the god asks for it.
struct Change {
  enum class Op { Add, Remove, Replace, Revoke };
  Op op = Op::Add;
  PriestAddress priest;  // Add, Replace: id, incarnation and address; Remove: id
  bool force = false;    // Remove: allow fewer than three priests
  std::string client{};  // Revoke: the named client (tls::valid_client_name)
  bool operator==(const Change&) const = default;
  // Add and Replace bring a new priest, which the president teaches the ledger first.
  bool teaches() const { return op == Op::Add || op == Op::Replace; }
};
const char* name_of(Change::Op op);
nlohmann::json change_to_json(const Change& c);
Result<Change> parse_change(const nlohmann::json& j);
std::string describe(const Change& c);  // "add priest 6 (incarnation ...) at host:port"

// The membership after `c`, or why it cannot be applied to `current`.
Result<Membership> apply_change(const Membership& current, const Change& c);
// The change is already in force in `current` (a retry of one that passed).
bool already_applied(const Membership& current, const Change& c);

// A membership decree's text: {"change": "...", "priests": [...]}, and back.
std::string membership_decree_text(const Membership& next, const Change& c);
Result<Membership> parse_membership_decree(const std::string& text, uint64_t decree_no);

}  // namespace parliament
