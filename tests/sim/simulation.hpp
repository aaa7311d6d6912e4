// A deterministic simulation of a parliament in one thread: N priests (the real
// proto::Priest), a seeded network that loses, duplicates, delays and reorders messages and
// partitions priests (both ways and one way), crashes that keep only what the host made
// durable, and clients that retry. The safety invariants are checked after every step; then
// the faults stop and every proposal must pass and every ledger become identical.
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
  std::string faults;   // the fault rates drawn for this seed
};

SimResult run_seed(uint64_t seed, const SimOptions& options = {});

}  // namespace parliament::sim
