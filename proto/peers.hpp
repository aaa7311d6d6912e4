// Peers: what a priest knows of the others. When it last heard each (reachability, which
// counts only the life the membership names: Priest::step decides what is heard), how long
// each says its ledger is (every message carries passed_len), and the catch-up it sent each.
//
// Catch-up is paced: whoever holds more of the ledger than a peer sends it the difference one
// chunk at a time, once the peer is stuck (behind, and its ledger not growing for two ticks:
// a peer that is merely a commit message behind learns by itself). The next chunk goes once
// the peer's ledger has stopped growing again for two ticks (it says its length in every
// message, and acknowledges each chunk), or after a silence of two heartbeats.
//
// Owned by the Priest; pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "proto/config.hpp"

namespace parliament {

class Peers {
 public:
  struct CatchUpSent {
    uint64_t from = 0;       // first decree number of the last chunk sent
    uint64_t tick = 0;       // when
    uint64_t seen_len = 0;   // the peer's passed_len when it last changed
    uint64_t seen_tick = 0;  // and when
  };
  // The decrees to send a peer: from_no..upto_no of this priest's ledger.
  struct Chunk {
    uint64_t from_no = 0, upto_no = 0;
  };

  void heard(PriestId p, uint64_t now) { heard_[p] = now; }
  void says_len(PriestId p, uint64_t len) { len_[p] = len; }
  // The ledger length `p` last said (0 if it never spoke).
  uint64_t len(PriestId p) const;
  // Whether `p` was heard within `timeout` ticks.
  bool heard_within(PriestId p, uint64_t now, uint64_t timeout) const {
    auto it = heard_.find(p);
    return it != heard_.end() && now - it->second <= timeout;
  }
  // Of `ids`, those heard within `timeout` ticks, and `self`.
  std::vector<PriestId> reachable(const std::vector<PriestId>& ids, PriestId self, uint64_t now,
                                  uint64_t timeout) const;
  // The chunk `peer` is due now from a ledger of `passed_len` decrees, if any (then it counts
  // as sent).
  std::optional<Chunk> catch_up(PriestId peer, uint64_t passed_len, uint64_t now,
                                uint64_t heartbeat_ticks, uint64_t chunk);
  // What it knew of `p`'s ledger and sent it: forgotten (a new life of that id).
  void forget(PriestId p) {
    len_.erase(p);
    sent_.erase(p);
  }

  // For the explorer's state hash (Priest::fingerprint).
  const std::map<PriestId, uint64_t>& heard_ticks() const { return heard_; }
  const std::map<PriestId, uint64_t>& lens() const { return len_; }
  const std::map<PriestId, CatchUpSent>& sent() const { return sent_; }

 private:
  std::map<PriestId, uint64_t> heard_;
  std::map<PriestId, uint64_t> len_;
  std::map<PriestId, CatchUpSent> sent_;
};

}  // namespace parliament
