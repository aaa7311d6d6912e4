// ChangeUnderWay: the membership change a president is carrying out (docs/SAFETY.md,
// "Membership"). First it teaches a new priest the ledger (add, replace), then it begins the
// membership decree alone, then the new membership holds. It keeps the change, the clients
// (the god) waiting for it, when it began, whether its decree was begun, and when the priest
// being taught last answered; and says when the decree may begin and when to give up.
//
// Owned by the Priest (proto/priest_membership.cpp); pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/membership.hpp"
#include "proto/waiter.hpp"

namespace parliament {

struct ChangeUnderWay {
  Change change;
  std::vector<Waiter> waiters;
  uint64_t since = 0;  // the tick it began
  bool begun = false;  // its decree was begun: it may pass whatever happens to this president
  uint64_t heard = 0;  // when the priest being taught last answered (0: never)

  // The life this change teaches.
  bool learning(PriestId id, uint64_t incarnation) const {
    return change.teaches() && change.priest.id == id && change.priest.incarnation == incarnation;
  }
  // Teaching a priest that has not answered (never, or not within two election timeouts)
  // for four election timeouts: give up and tell the god.
  bool learner_lost(uint64_t now, uint64_t election_timeout) const {
    if (begun || !change.teaches()) return false;
    bool silent = heard == 0 || heard < since || now - heard > 2 * election_timeout;
    return silent && now - since >= 4 * election_timeout;
  }
  // New proposals wait for the change: a removal at once, a priest being taught once it is
  // within one catch-up chunk of the ledger of `passed_len` decrees.
  bool closing(uint64_t learner_len, uint64_t passed_len, size_t chunk) const {
    return !change.teaches() || (heard != 0 && learner_len + chunk >= passed_len);
  }
  // Its decree may begin (with nothing in flight): the new priest holds the whole ledger.
  bool learner_ready(uint64_t learner_len, uint64_t passed_len) const {
    return !change.teaches() || learner_len >= passed_len;
  }
  // For status: the change and where it stands.
  std::string stage() const {
    return describe(change) + (begun                ? " (decree begun)"
                               : !change.teaches() ? " (waiting for what is in flight)"
                                                   : " (teaching the ledger)");
  }
};

}  // namespace parliament
