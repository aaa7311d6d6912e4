// Tallies: the president's decrees in flight in its ballot. For each number begun and not
// yet passed, the decree, when its begin ballot last went out, and the voters that said yes;
// the begin ballots not yet passed (the next waits while max_open_ballots are open); and
// their decree text in all (bounded by max_in_flight_bytes, which bounds a last vote).
//
// The ballot's quorum (the paper's: the priests a president asks to vote) is kept here too:
// the president and the first followers whose yes passed a decree, kept while they answer in
// time; everyone until then. The president asks them, tells the rest the decrees only (but
// not a priest unheard for an election timeout: Priest::begin), and asks the rest too once
// a begin ballot has waited two ticks or more (patience(): Priest::resend_unvoted), which
// also forgets the quorum until a decree passes again. If what it waited for was the
// president's own vote, the next quorum is every voter of the first majority, so a slow
// president is not waited for again; otherwise it is the president and the first followers
// again. A quorum that answers in time spares the others a write, an fdatasync and a vote
// per ballot; one that does not costs one wait.
//
// B2 is counted here: a number passes when `quorum` voters of the membership in force said
// yes in this ballot. The Priest hands in only votes of that ballot from its voters
// (on_voted), begins nothing across a membership decree, and clears the tallies when its
// ballot ends. Owned by the Priest; pure.
#pragma once

#include <algorithm>
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
    bool all_asked = false;  // every priest was asked to vote for it
  };

  // A begin ballot of `entries` (consecutive numbers) went out at `now`, asking the quorum.
  void begin(const std::vector<Entry>& entries, uint64_t now);
  // Whether the next begin ballot asks `p` to vote: `p` is in the ballot's quorum, or no
  // decree has passed since the ballot began or its quorum last failed to answer.
  bool asks(PriestId p) const { return quorum_.empty() || quorum_.count(p) > 0; }
  const std::set<PriestId>& quorum() const { return quorum_; }
  bool thrifty() const { return thrifty_; }
  // How long a begin ballot waits for its quorum before everyone is asked: two ticks, or
  // twice what the last decree took to pass and a tick more, if longer (a slow disk's
  // quorum is not asked to hurry at every ballot).
  uint64_t patience() const { return std::max<uint64_t>(2, 2 * pass_ticks_ + 1); }
  size_t size() const { return tallies_.size(); }
  bool empty() const { return tallies_.empty(); }
  size_t bytes() const { return bytes_; }
  // The begin ballots still waiting for a majority, with a ledger of `passed_len` decrees.
  size_t open_ballots(uint64_t passed_len);
  const Tally* find(uint64_t n) const;

  // `from` voted yes at lo..hi in `ballot`: the decrees that now have a majority of
  // `members` (B2), no longer in flight, as passed in `ballot`.
  // At `now`; `president` is the one voter the ballot's quorum always holds.
  std::vector<Entry> vote(PriestId from, uint64_t lo, uint64_t hi, const Membership& members,
                          const Ballot& ballot, PriestId president = 0, uint64_t now = 0);
  // Decree n is in the ledger (however it got there): no longer in flight.
  void passed(uint64_t n);
  // The ballot ends: nothing is in flight.
  void clear();

  // Begin ballots to send `to` again: the decrees whose begin ballot went out
  // `stale_after` ticks ago or more and that `to` has not voted for, in runs of consecutive
  // numbers of at most `max` decrees each; with `unasked_only`, only those not yet asked of
  // everyone.
  std::vector<std::vector<Entry>> unvoted(PriestId to, uint64_t now, uint64_t stale_after,
                                          size_t max, const Ballot& ballot,
                                          bool unasked_only = false) const;
  // Those stale ones (with `unasked_only`, those not yet asked of all) were sent again at
  // `now`, asking every priest. If one had not been, the quorum did not answer in time: the
  // next begin ballots ask everyone until a decree passes, and the quorum that then forms is
  // thrifty unless that decree was waiting for `president`'s own vote.
  void resent(uint64_t now, uint64_t stale_after, bool unasked_only = false,
              PriestId president = 0);

  // For the explorer's state hash (Priest::fingerprint).
  const std::map<uint64_t, Tally>& all() const { return tallies_; }
  const std::deque<uint64_t>& open() const { return open_; }

 private:
  std::map<uint64_t, Tally> tallies_;
  size_t bytes_ = 0;
  std::deque<uint64_t> open_;  // the last decree number of each begin ballot not yet passed
  std::set<PriestId> quorum_;  // the ballot's quorum (empty: everyone is asked)
  bool thrifty_ = true;        // false: the last quorum that failed waited for the president
  uint64_t pass_ticks_ = 0;    // ticks from the last passed decree's begin ballot to its majority
};

}  // namespace parliament
