// Exhaustive exploration at small scope: every interleaving of the steps a parliament can
// take (deliver, drop or duplicate any message in flight; tick any priest; complete any
// priest's fdatasync; crash and restart a priest, keeping only what was synced; propose
// a client decree at any priest; the god asking again for a membership change), up to a
// bounded depth, from a parliament of a few priests with a few client decrees. Each priest
// is the real proto::Priest driven by the real proto::Clerk, as in paxos-priest and the
// simulator. States are hashed (times as ages, the network as a sorted multiset) so that
// one reached again is not explored again; the safety invariants are checked in every
// state reached.
//
// Used by tests/sim/explore_test.cpp (a bounded run under CTest) and paxos-explore.
#pragma once

#include <cstdint>
#include <string>

namespace parliament::sim {

struct ExploreOptions {
  int priests = 3;
  int decrees = 2;             // client decrees, each proposed once, at any priest
  int reads = 0;               // linearizable reads, each begun once, at any priest: an answer
                               // must cover every decree acknowledged before the read began
  int depth = 24;              // steps from the initial state
  uint64_t max_states = 2000000;
  int max_round = 3;           // prune states with a ballot round above this
  int max_in_flight = 6;       // prune states with more messages on the wire
  int crashes = 1;             // crash-restarts allowed in one schedule
  int duplicates = 1;          // duplications allowed in one schedule
  int drops = 3;               // losses allowed in one schedule
  uint64_t seed = 1;           // the priests' election-timeout randomness
  // Where the search begins, reached by a scripted prefix with every message delivered in
  // order (but those a partition cuts):
  //   "scratch"  before any election;
  //   "elected"  priest 1 has just been elected;
  //   "split"    five priests: priest 1, president in ballot 1.1, began decree 1 = "decree 1"
  //              and only priest 2 voted for it; cut off from them, priests 3, 4 and 5
  //              elected one of them (the first to stand), which passed "decree 2" at decree 1; then every link
  //              works again (the divergence replayed in tests/unit/test_priest.cpp);
  //   "change"   three priests, priest 1 president, decree 1 passed; the god asked priest 1
  //              for one membership change (`change`), and priest 1 has just begun the
  //              membership decree (its begin ballots are on the wire), and a client has
  //              proposed "decree 2" to it (with --decrees 2 or more; more decrees are
  //              proposed during the search). The god may ask once more, at any priest,
  //              after an error. The changes:
  //                add      priest 4, run blank as a learner since the start, is added;
  //                replace  priest 3 lost its disk and runs blank, a new incarnation, as a
  //                         learner; it replaces the old incarnation;
  //                remove   the president itself is removed (forced: two priests remain).
  std::string start = "elected";
  std::string change = "add";
  bool verbose = false;        // print the failing schedule step by step
};

struct ExploreResult {
  bool ok = true;
  std::string failure;   // the broken invariant
  std::string schedule;  // the steps that led there, one per line
  uint64_t states = 0;   // distinct states explored
  uint64_t transitions = 0;
  int max_depth = 0;
  bool exhausted = false;  // every state within the bounds was explored
  // start "change": distinct states in which some ledger holds the membership decree, and
  // in which the god was told it passed
  uint64_t change_passed = 0;
  uint64_t change_acknowledged = 0;
  uint64_t reads_answered = 0;  // distinct states in which some read was answered
};

ExploreResult explore(const ExploreOptions& options);

}  // namespace parliament::sim
