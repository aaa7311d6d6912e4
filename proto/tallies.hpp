// Tallies: the president's decrees in flight in its ballot. For each number begun and not
// yet passed, the decree, when its begin ballot last went out, and the voters that said yes;
// the begin ballots not yet passed (the next waits while max_open_ballots are open); and
// their decree text in all (bounded by max_in_flight_bytes, which bounds a last vote).
//
// B2 is counted here: a number passes when `quorum` voters of the membership in force said
// yes in this ballot. The Priest hands in only votes of that ballot from its voters
// (on_voted), begins nothing across a membership decree, and clears the tallies when its
// ballot ends. Owned by the Priest; pure.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include "proto/membership.hpp"
#include "proto/message.hpp"

namespace parliament {

class Tallies {
 public:
  struct Tally {
    Decree decree;
    uint64_t sent_tick = 0;
    std::set<PriestId> yes;
  };

  // A begin ballot of `entries` (consecutive numbers) went out at `now`.
  void begin(const std::vector<Entry>& entries, uint64_t now);
  size_t size() const { return tallies_.size(); }
  bool empty() const { return tallies_.empty(); }
  size_t bytes() const { return bytes_; }
  // The begin ballots still waiting for a majority, with a ledger of `passed_len` decrees.
  size_t open_ballots(uint64_t passed_len);
  const Tally* find(uint64_t n) const;

  // `from` voted yes at lo..hi in `ballot`: the decrees that now have a majority of
  // `members` (B2), no longer in flight, as passed in `ballot`.
  std::vector<Entry> vote(PriestId from, uint64_t lo, uint64_t hi, const Membership& members,
                          const Ballot& ballot);
  // Decree n is in the ledger (however it got there): no longer in flight.
  void passed(uint64_t n);
  // The ballot ends: nothing is in flight.
  void clear();

  // Begin ballots to send `to` again: the decrees whose begin ballot went out
  // `stale_after` ticks ago or more and that `to` has not voted for, in runs of consecutive
  // numbers, at most `max` decrees.
  std::vector<std::vector<Entry>> unvoted(PriestId to, uint64_t now, uint64_t stale_after,
                                          size_t max, const Ballot& ballot) const;
  // Those stale ones were sent again at `now`.
  void resent(uint64_t now, uint64_t stale_after);

  // For the explorer's state hash (Priest::fingerprint).
  const std::map<uint64_t, Tally>& all() const { return tallies_; }
  const std::deque<uint64_t>& open() const { return open_; }

 private:
  std::map<uint64_t, Tally> tallies_;
  size_t bytes_ = 0;
  std::deque<uint64_t> open_;  // the last decree number of each begin ballot not yet passed
};

}  // namespace parliament
