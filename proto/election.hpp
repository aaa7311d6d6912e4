// Election: a priest's clock for elections and its pre-ballot. When it next asks whether a
// majority would promise it a ballot (the election deadline, randomised so that candidates
// rarely duel), until when and for whom it holds a lease (a priest that heard its president,
// or promised a candidate's ballot, within the election timeout answers no to any other
// priest's pre-ballot), the highest ballot round it has seen (its next ballot goes above it),
// and the pre-ballot it is asking about, since when, with the priests that said yes. None of
// it is durable: a pre-ballot promises nothing.
//
// Owned by the Priest (proto/priest_elections.cpp says when it stands); pure.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>

#include "proto/ballot.hpp"

namespace parliament {

class Election {
 public:
  // The next election is due between `timeout` and 2 x `timeout` ticks from `now` (`random`
  // picks where).
  void reset_timer(uint64_t now, uint64_t timeout, uint64_t random) {
    deadline_ = now + timeout + random % (timeout + 1);
  }
  // Due no later than `at` (the president handed over: stand soon).
  void hurry(uint64_t at) { deadline_ = std::min(deadline_, at); }
  bool due(uint64_t now) const { return now >= deadline_; }
  uint64_t deadline() const { return deadline_; }

  void saw_round(uint64_t round) { max_round_ = std::max(max_round_, round); }
  uint64_t max_round() const { return max_round_; }

  // Heard its president `holder`, or promised candidate `holder`'s ballot (itself, when it
  // stands): until `until` it helps no other priest's pre-ballot.
  void renew_lease(uint64_t until, PriestId holder) {
    lease_until_ = until;
    lease_holder_ = holder;
  }
  void end_lease() { lease_until_ = 0; }
  bool leased(uint64_t now) const { return now < lease_until_; }
  uint64_t lease_until() const { return lease_until_; }
  PriestId lease_holder() const { return lease_holder_; }

  // Asks about `b` at `now` (its own vote counted); true if it was not asking already. With
  // `keep_yeses`, the yeses to the same ballot asked a moment ago still count.
  bool ask(const Ballot& b, uint64_t now, bool keep_yeses = false) {
    bool first = !asking_;
    if (first) asking_since_ = now;
    if (!keep_yeses || asking_ != b) grants_ = {b.priest};
    asking_ = b;
    return first;
  }
  const std::optional<Ballot>& asking() const { return asking_; }
  // When it began asking, in this outage (meaningful while asking()).
  uint64_t asking_since() const { return asking_since_; }
  // `from` would promise the ballot asked about: how many would, now.
  size_t granted(PriestId from) {
    grants_.insert(from);
    return grants_.size();
  }
  size_t grants() const { return grants_.size(); }
  const std::set<PriestId>& grantors() const { return grants_; }
  // It stands, or follows a president: no longer asking.
  void stop_asking() {
    asking_.reset();
    grants_.clear();
  }

 private:
  uint64_t deadline_ = 0;
  uint64_t max_round_ = 0;
  uint64_t lease_until_ = 0;
  PriestId lease_holder_ = 0;
  uint64_t asking_since_ = 0;
  std::optional<Ballot> asking_;
  std::set<PriestId> grants_;
};

}  // namespace parliament
