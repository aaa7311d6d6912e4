// ReadIndex: what a priest keeps for linearizable reads (docs/PROTOCOL.md, "Linearizable
// reads"), and the rules that say when one may be answered.
//
// At a president, a read asks for n = the ledger length (or what its election re-proposed, if
// more) when it arrived. Reads that arrive between two of the host's turns share one round:
// the next, sent once at the end of the turn (Priest::take_ready), so a thousand waiting reads
// cost one round of acknowledgements, not a thousand. A read is answered once a majority of
// the membership in force has acknowledged a round sent after it arrived (successful ballots
// carry the round, votes yes acknowledge it: the president was still president then) and the
// ledger holds n. At a
// follower: the reads it forwarded to its president (their tokens), and those the president
// answered with n that wait for this ledger to reach n (the Priest gives those up after
// kForwardPatience election timeouts: overdue).
//
// Owned by the Priest (proto/priest.hpp), which sends the rounds and answers the waiters
// handed back here. Pure, like the Priest.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "proto/config.hpp"
#include "proto/waiter.hpp"

namespace parliament {

class ReadIndex {
 public:
  struct Pending {
    Waiter waiter;
    uint64_t round = 0;  // at a president: the round it waits to see acknowledged
    uint64_t upto = 0;   // n: answered once the ledger holds it
    uint64_t era = 0;    // at a president: the membership decree in force when it arrived
    uint64_t since = 0;  // at a follower: the tick its president's n arrived
  };

  // ---- at the president
  size_t waiting() const { return reads_.size(); }
  // A read arrives in the era of membership decree `era`: it waits for the next round.
  void begin(Waiter w, uint64_t upto, uint64_t era);
  // The round the president must send now (0: none): the next one, if reads wait for it.
  uint64_t to_send();
  // The round a heartbeat asks about while reads wait (0: none wait).
  uint64_t asking() const { return reads_.empty() ? 0 : round_; }
  // `from` voted yes acknowledging rounds up to `round` in the president's ballot.
  void acked(PriestId from, uint64_t round);
  // The reads, oldest first, whose round a quorum of `voters` acknowledged (the president,
  // `self`, always has) and whose n the ledger holds: removed, to be answered. Only reads of
  // `era`, the membership whose voters these are: a read that arrived under another is never
  // confirmed (the president fails it when the membership changes, Priest::era_changed).
  std::vector<Pending> confirmed(const std::vector<PriestId>& voters, size_t quorum,
                                 PriestId self, uint64_t passed_len, uint64_t era);
  // Every read waiting at this president, removed (its ballot ends); acknowledgements of
  // that ballot forgotten.
  std::vector<Pending> abandon();
  // A new ballot: acknowledgements of the old one count for nothing.
  void new_ballot() { acked_.clear(); }

  // ---- at a follower
  void forwarded(uint64_t token) { tokens_.insert(token); }
  bool is_forwarded(uint64_t token) const { return tokens_.count(token) > 0; }
  // The president answered (or is gone): true if `token` was a forwarded read.
  bool answered(uint64_t token) { return tokens_.erase(token) > 0; }
  // The president said n at tick `now`: the read waits for this ledger to hold it.
  void wait(Waiter w, uint64_t upto, uint64_t now) {
    waits_.push_back(Pending{w, 0, upto, 0, now});
  }
  size_t waits() const { return waits_.size(); }
  // The waiting reads whose n the ledger now holds: removed, to be answered.
  std::vector<Pending> ready(uint64_t passed_len);
  // The waiting reads that have waited `patience` ticks by `now` (a priest cut off from
  // everyone that could teach it n): removed, to be answered with an error.
  std::vector<Pending> overdue(uint64_t now, uint64_t patience);

  // Everything above, for the explorer's state hash (Priest::fingerprint); a wait's age at
  // `now`, capped at `patience` (waits older than that behave alike).
  void fingerprint(const std::function<void(uint64_t)>& put, uint64_t now, uint64_t patience) const;

 private:
  std::deque<Pending> reads_;
  uint64_t round_ = 0;    // the last round sent
  bool unsent_ = false;  // reads wait for round_ + 1, not sent yet
  std::map<PriestId, uint64_t> acked_;  // the highest round each priest acknowledged
  std::set<uint64_t> tokens_;
  std::vector<Pending> waits_;
};

}  // namespace parliament
