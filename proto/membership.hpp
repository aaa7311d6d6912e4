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
#include <string_view>
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
  // The lives (id, incarnation and key; no address) that `remove` and `replace` cut off, in
  // the order of their decrees. Neither that incarnation nor that key speaks again where this
  // membership is in force (key_refusal, Priest::step).
  std::vector<PriestAddress> retired{};

  bool is_revoked(const std::string& client) const;
  bool retired_life(PriestId id, uint64_t incarnation) const;
  const PriestAddress* retired_key(const std::string& key) const;  // the life it was retired with
  // Whether a certificate whose public key is `key` (tls::peer_key; empty without TLS) may
  // speak for priest `id` as `incarnation`: "" if so, else why not (docs/SAFETY.md, "Who
  // may speak"). A retired key never; the life this membership names only with the key
  // recorded for it; another life of a member id with a key not recorded here may be one
  // a decree not learned here made (Priest::step decides what it may say). Keys are compared
  // only where recorded.
  std::string key_refusal(PriestId id, uint64_t incarnation, const std::string& key) const;

  const PriestAddress* find(PriestId id) const;
  bool voter(PriestId id, uint64_t incarnation) const;
  std::vector<PriestId> ids() const;
  size_t quorum() const { return quorum_size(priests.size()); }  // B2
  bool operator==(const Membership&) const = default;
};

// A named client's name: 1 to 64 of a-z 0-9 . _ -, not beginning with . or - (the NAME of
// its certificate's urn:parliament:client:NAME, of `revoke NAME` and of "revoked").
bool valid_client_name(std::string_view name);
// "" for a valid name, else the rule as a sentence (command lines, errors).
std::string client_name_error(std::string_view name);

// {"decree_no": N, "priests": [...], "revoked": [...], "retired": [...]} (membership.json,
// status; the last two only when not empty).
nlohmann::json membership_to_json(const Membership& m);
Result<Membership> parse_membership(const nlohmann::json& j, const std::string& where);

// One change, as the god asks for it.
struct Change {
  enum class Op { Add, Remove, Replace, Revoke };
  Op op = Op::Add;
  PriestAddress priest;  // Add, Replace: id, incarnation and address; Remove: id
  bool force = false;    // Remove: allow fewer than three priests
  std::string client{};  // Revoke: the named client (valid_client_name)
  bool operator==(const Change&) const = default;
  // Add and Replace bring a new priest, which the president teaches the ledger first.
  bool teaches() const { return op == Op::Add || op == Op::Replace; }
};
const char* name_of(Change::Op op);
nlohmann::json change_to_json(const Change& c);
Result<Change> parse_change(const nlohmann::json& j);
std::string describe(const Change& c);  // "add priest 6 (incarnation ...) at host:port"

// The longest membership decree text a priest accepts (its priests, revoked clients and
// retired lives): a change whose decree would be longer is refused by apply_change.
inline constexpr size_t kMaxMembershipBytes = 1 << 20;

// The membership after `c`, or why it cannot be applied to `current`.
Result<Membership> apply_change(const Membership& current, const Change& c);
// The change is already in force in `current` (a retry of one that passed).
bool already_applied(const Membership& current, const Change& c);

// A membership decree's text: {"change": "...", "priests": [...]}, and back.
std::string membership_decree_text(const Membership& next, const Change& c);

// Priest ids as people read them: "1, 2, 5".
std::string id_list(const std::vector<PriestId>& ids);
// The one sentence for a majority not reached: "no quorum: reached 2 of 5 priests (1, 2); is
// the network partitioned?". Clients and the god read it as retryable.
std::string no_quorum_text(const std::vector<PriestId>& reached, size_t priests);
Result<Membership> parse_membership_decree(const std::string& text, uint64_t decree_no);

}  // namespace parliament
