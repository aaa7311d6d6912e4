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
// Per seed a fault *profile* is drawn (swarm testing: which faults are on, which links,
// whose messages), not only rates. The safety invariants are checked after every step
// (see check_* in simulation.cpp and docs/SAFETY.md); then the faults stop and every
// proposal must pass and every ledger become identical.
//
// Used by tests/sim/sim_test.cpp (many seeds under CTest) and paxos-sim (any seeds, replay).
#pragma once

#include <cstdint>
#include <string>

namespace parliament::sim {

struct SimOptions {
  int priests = 5;
  int clients = 4;
  int requests_per_client = 25;
  uint64_t fault_ticks = 2000;     // faults are on for this long
  uint64_t liveness_ticks = 6000;  // then everything must converge within this
  bool verbose = false;            // print every fault and role change
};

struct SimResult {
  bool ok = true;
  std::string failure;  // what broke, at which tick
  uint64_t decrees = 0; // length of the final ledgers
  uint64_t messages = 0;
  uint64_t crashes = 0;
  uint64_t elections = 0;  // priests that became president
  std::string faults;   // the fault profile drawn for this seed
};

SimResult run_seed(uint64_t seed, const SimOptions& options = {});

}  // namespace parliament::sim
