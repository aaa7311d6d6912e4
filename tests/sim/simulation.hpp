// A deterministic simulation of a parliament in one thread. Each priest is the real
// proto::Priest driven by the real proto::Clerk (the same Ready pipeline paxos-priest
// runs); only the disk, the network and the clock are simulated:
//   - the disk: votes.csv writes become durable when a sync completes, after a drawn
//     delay (so messages that wait for it really wait while others overtake them); a crash
//     keeps what was synced plus a random prefix of what was not; the ledger's sync lags;
//   - the network: loss, duplication, delay and reordering; partitions (symmetric, one way,
//     a bridge) that heal all at once or one link at a time; a flapping link; connection
//     resets that drop what a link had queued; one kind of message lost on one link;
//   - the clock: priests whose clocks run slow or fast.
// A god (the operator) changes the membership under those faults, through the priests'
// own propose_change, retrying until each change passes: it adds spare priests (started
// blank, as learners holding the membership in force), removes priests (the president
// among them; removed priests keep running with their stale view, or are stopped), and
// replaces priests whose disks it lost (a minority at once: each restarts blank, with a
// new incarnation, as a learner). Every priest has a real non-zero incarnation; a message
// to an id reaches whichever incarnation runs under it, and a disk loss resets its links.
// Per seed a fault *profile* is drawn (swarm testing: which faults are on, which links,
// whose messages), not only rates. The safety invariants are checked after every step
// (tests/sim/invariants.hpp, among them that every decree passed with the votes of a
// majority of the membership in force at its number); then the faults stop, and every
// proposal and every change must pass, every voter of the final membership hold an
// identical ledger (membership rows included), and a client's decree still pass after the
// last change.
//
// Used by tests/sim/sim_test.cpp (many seeds under CTest) and paxos-sim (any seeds, replay).
#pragma once

#include <cstdint>
#include <string>

#include "proto/ballot.hpp"

namespace parliament::sim {

struct SimOptions {
  int priests = 5;
  int spares = 2;                  // ids priests+1.. the god may add
  bool changes = true;             // the god changes the membership (on most seeds)
  // Shapes that once stalled the parliament after a membership change (simulation.cpp,
  // "Liveness gaps"): links as paxos-priest keeps them, and two ways of losing disks, which
  // are drawn per seed unless draw_shapes is off.
  bool strict_links = true;        // a host sends only to the priests its priest names
  bool eager_rejoin = false;       // lost priests all come back (join) at once
  bool hasty_god = false;          // the god loses disks while a voter lags behind the last change
  bool draw_shapes = true;         // draw eager_rejoin and hasty_god per seed
  int clients = 4;
  int requests_per_client = 25;
  uint64_t fault_ticks = 2000;     // faults are on for this long
  uint64_t liveness_ticks = 6000;  // then everything must converge within this
  bool verbose = false;            // print every fault and role change
  bool quiet = false;              // no faults drawn: delays only (run_scenario adds one partition)
};

struct SimResult {
  bool ok = true;
  std::string failure;  // what broke, at which tick
  uint64_t decrees = 0; // length of the final ledgers
  uint64_t messages = 0;
  uint64_t crashes = 0;
  uint64_t elections = 0;  // priests that became president
  uint64_t changes = 0;    // membership changes passed
  uint64_t disk_losses = 0;
  uint64_t reads = 0;      // linearizable reads answered (each checked)
  std::string faults;   // the fault profile drawn for this seed (the god's plan included)
};

SimResult run_seed(uint64_t seed, const SimOptions& options = {});

// Elections under one partition, counted (pre-ballots and the lease: docs/SAFETY.md): five
// priests, no faults but delays, clients proposing throughout. 1,000 ticks to elect a
// president, 1,000 ticks partitioned (each election timeout is 30-60 ticks), 1,000 healed.
enum class Scenario {
  IsolatedFollower,   // one follower cut from everyone
  IsolatedPresident,  // the president cut from everyone
  Bridge,             // {president, a} | b | {c, d}: b hears both sides, they not each other
  // The president hears no one, as a one-way cut does over TCP: nothing reaches it, and what
  // it sends stops arriving too, at a different moment on each link (within 30 ticks), when
  // that connection's window fills with data whose acknowledgements are lost.
  PresidentHearsNoOne,
};
struct ScenarioResult {
  bool ok = true;
  std::string failure;  // an invariant broken
  PriestId president_before = 0, president_during = 0, president_after = 0;
  uint64_t elections_before = 0;  // priests that became president, in each phase
  uint64_t elections_during = 0, elections_after = 0;
  uint64_t rounds_during = 0, rounds_after = 0;  // how far the highest promise climbed
  uint64_t decrees_during = 0, decrees_after = 0;
  uint64_t recovery_ticks = 0;  // from the cut until another priest presided (0: none did)
};
ScenarioResult run_scenario(Scenario shape, uint64_t seed);

}  // namespace parliament::sim
