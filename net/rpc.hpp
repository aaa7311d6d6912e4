// rpc: the client side of the parliament's client protocol, blocking, with deadlines.
// Used by paxos-client, paxos-god and the tests. One Connection or Proposer per thread.
//
// Client protocol (frames as in proto/framing.hpp; every request gets one reply frame, but a
// watch, whose frames keep coming):
//   {"type":"propose","client":C,"request":R,"decree":"text"}
//       -> {"type":"reply","ok":true,"decree_no":N}
//       -> {"type":"reply","ok":false,"error_code":"no_president","error":"...",
//           "outcome_unknown":true|false}          (error_code: include/parliament/code.hpp)
//   {"type":"status"}
//       -> {"type":"status","id":I,"bootstrapped":B,"role":"president|candidate|follower",
//           "president":I|null,"ballot":"r.p","next_bal":"r.p","passed_len":N,
//           "reachable":[ids],"members":M,"halted":"why" (only when it stopped voting)}
//   {"type":"ledger","from":N,"max":M}
//       -> {"type":"ledger","id":I,"length":L,"decrees":[{"decree_no","ballot","kind",
//           "client","request","decree"}, ...]}            (this priest's ledger, at once)
//   {"type":"watch","from":N}        (every decree from N on, pushed as it enters the ledger)
//       -> {"type":"watch","id":I,"length":L,"president":P|null,"in_touch":B,
//           "decrees":[... as ledger, continuing from N]}, one after another: with the next
//           decrees as they pass, and with none at least every 500 ms while none pass
//   {"type":"read","from":N,"max":M}                        (linearizable: Priest::read)
//       -> {"type":"read","ok":true,"upto":U,"decrees":[... as ledger, none beyond U]}
//       -> {"type":"read","ok":false,"error_code":C,"error":"..."}  (retry where C says so)
// Over mutual TLS (net/tls.hpp) a client's certificate may send propose, status, ledger,
// watch and read; bootstrap, join and change need the god's.
//   {"type":"bootstrap","priests":[{"id","host","port","listen","incarnation"}, ...]}
//       -> {"type":"bootstrapped","id":I,"already":true|false}
//   {"type":"join","membership":{"decree_no":N,"priests":[...]}}   (paxos-god, to a blank
//       priest about to be added or to replace another: it learns the ledger, votes nowhere)
//       -> {"type":"joined","id":I,"already":true|false}
//   {"type":"change","change":{"op":"add|remove|replace","id":I,"priest":{...},"force":B}}
//       -> {"type":"reply","ok":true,"decree_no":N}  (the membership decree passed at N)
//       -> {"type":"reply","ok":false,"error_code":C,"error":"...","outcome_unknown":B}
// status also carries "incarnation", "begun" (a promise or decrees), "membership"
// ({"decree_no","priests"}: the membership in force as this priest's ledger has it), "voter"
// and, at a president changing the membership, "change".
//   any request the priest refuses -> {"type":"error","error_code":C,"error":"..."}
//   (forbidden, revoked, invalid, overloaded: the connection is closed after it)
// A client (C, R) must keep one request outstanding at a time and number them 1, 2, 3...;
// a retry of (C, R) never passes twice.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/tls.hpp"
#include "parliament/code.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "proto/result.hpp"

namespace asio::ssl {
class context;
}

namespace parliament {

// This process's credentials for every connection it opens from now on (net/tls.hpp:
// tls::load), or nullptr for plaintext. Call once, at start, before any other thread runs.
void set_tls(std::shared_ptr<asio::ssl::context> context);
// The credentials set_tls set (nullptr: plaintext), for a program's own connections.
std::shared_ptr<asio::ssl::context> current_tls();
// set_tls with `who`'s credentials from the configuration's certificate directory (or
// `certs_dir` if not empty); plaintext when the configuration says "tls": false. The error
// names the file at fault and the command that makes the files.
Status use_tls(const Config& config, const std::string& config_file, const tls::Identity& who,
               const std::string& certs_dir = "");

using Millis = std::chrono::milliseconds;

// What is left until `deadline` (0 once it passed).
Millis remaining(std::chrono::steady_clock::time_point deadline);

// The code of a reply frame: Ok for a reply that is not a refusal, else its error_code
// (Unknown for a refusal without one, or a code this version does not know).
Code reply_code(const nlohmann::json& reply);

// Clients check whom they reached: over TLS, a connection is made only to a priest of this
// parliament, and when `expect` is not 0 only to the priest with that id (the one the
// configuration or the membership names at that address). check_priest_ids(false) turns the
// id check off for addresses that name no priest (paxos-client and paxos-bench --cluster).
void check_priest_ids(bool on);

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> connect(const std::string& host, uint16_t port,
                                                     Millis timeout, PriestId expect = 0);
  ~Connection();
  Result<nlohmann::json> call(const nlohmann::json& request, Millis timeout);
  // The next frame the priest sends without being asked (after a watch), within `timeout`.
  Result<nlohmann::json> receive(Millis timeout);
  // The public key of the priest's certificate (tls::peer_key); empty without TLS.
  const std::string& peer_key() const;

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One request to one priest on a fresh connection. With `peer_key`, the public key of the
// certificate that answered (Connection::peer_key) is put there: the god records it.
Result<nlohmann::json> call_priest(const PriestAddress& p, const nlohmann::json& request,
                                   Millis timeout, std::string* peer_key = nullptr);

// The membership in force as the priests know it: asks `seeds` (a configuration's priests,
// perhaps an old one) for their status, all at once, then the members they name, and keeps
// the membership set by the highest decree. nullopt if no priest answered with one.
std::optional<Membership> discover_membership(const std::vector<PriestAddress>& seeds,
                                              Millis timeout);
// The priests a client should talk to: the members in force if they were found (at the
// seeds' address for a member the seeds name), else `seeds`.
std::vector<PriestAddress> parliament_priests(const std::vector<PriestAddress>& seeds,
                                              Millis timeout);
std::vector<PriestAddress> parliament_priests_of(const std::vector<PriestAddress>& seeds,
                                                 const std::optional<Membership>& membership);

uint64_t random_client_id();

}  // namespace parliament
