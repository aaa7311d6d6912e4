// The simulation under CTest: PARLIAMENT_SIM_SEEDS seeds (default 500), from seed 1.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "tests/sim/simulation.hpp"

TEST_CASE("five priests keep B1-B3 and converge under loss, duplication, partitions, crashes and membership changes") {
  uint64_t seeds = 500;
  if (const char* e = std::getenv("PARLIAMENT_SIM_SEEDS")) seeds = std::strtoull(e, nullptr, 10);
  uint64_t total_decrees = 0, crashes = 0, changes = 0, losses = 0;
  for (uint64_t s = 1; s <= seeds; ++s) {
    auto r = parliament::sim::run_seed(s);
    total_decrees += r.decrees;
    crashes += r.crashes;
    changes += r.changes;
    losses += r.disk_losses;
    if (!r.ok)
      FAIL("seed " << s << " (" << r.faults << "): " << r.failure
                   << "\nreplay: build/bin/paxos-sim --seed " << s << " --verbose");
  }
  // Every seed's clients must have passed their requests: the ledgers hold at least them.
  REQUIRE(total_decrees >= seeds * 4 * 25);
  REQUIRE(crashes > 0);
  // The god changed the membership (add, remove, replace) and lost disks on the way.
  REQUIRE(changes > seeds / 2);
  REQUIRE(losses > seeds / 4);
}

TEST_CASE("a seed replays exactly") {
  auto a = parliament::sim::run_seed(7);
  auto b = parliament::sim::run_seed(7);
  REQUIRE(a.ok);
  REQUIRE(a.messages == b.messages);
  REQUIRE(a.decrees == b.decrees);
}
