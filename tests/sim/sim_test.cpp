// The simulation under CTest: PARLIAMENT_SIM_SEEDS seeds (default 500), from seed 1.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/sim/simulation.hpp"

TEST_CASE("five priests keep B1-B3 and converge under loss, duplication, partitions, crashes and membership changes") {
  uint64_t seeds = 500;
  if (const char* e = std::getenv("PARLIAMENT_SIM_SEEDS")) seeds = std::strtoull(e, nullptr, 10);
  uint64_t total_decrees = 0, crashes = 0, changes = 0, losses = 0, reads = 0;
  for (uint64_t s = 1; s <= seeds; ++s) {
    auto r = parliament::sim::run_seed(s);
    total_decrees += r.decrees;
    crashes += r.crashes;
    changes += r.changes;
    losses += r.disk_losses;
    reads += r.reads;
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
  // Linearizable reads were answered, each covering every decree acknowledged before it began.
  REQUIRE(reads > seeds * 10);
}

TEST_CASE("a seed replays exactly") {
  auto a = parliament::sim::run_seed(7);
  auto b = parliament::sim::run_seed(7);
  REQUIRE(a.ok);
  REQUIRE(a.messages == b.messages);
  REQUIRE(a.decrees == b.decrees);
}

// Pre-ballots and the lease (docs/SAFETY.md): a priest cut off does not raise its promise (it asks
// first, in a pre-ballot, whether a majority would promise), and priests that hear a live
// president promise no one else (the president's lease). Before both, an isolated follower
// came back with the highest ballot and deposed a healthy president, and in a bridge the
// presidency flipped between the sides about every second. When the president is gone, or
// hears no one, a new one presides within two election timeouts, and rival candidates are
// rare (a priest that promised a candidate's ballot helps no other pre-ballot meanwhile).
TEST_CASE("elections under one partition: none for nothing") {
  using parliament::sim::Scenario;
  struct Shape {
    Scenario s;
    const char* name;
  };
  const uint64_t seeds = 50;
  for (Shape shape :
       {Shape{Scenario::IsolatedFollower, "isolated follower"},
        Shape{Scenario::IsolatedPresident, "isolated president"}, Shape{Scenario::Bridge, "bridge"},
        Shape{Scenario::PresidentHearsNoOne, "president hears no one"}}) {
    uint64_t during = 0, after = 0, rounds_after = 0, moved = 0, decrees = 0, slowest = 0;
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      auto r = parliament::sim::run_scenario(shape.s, seed);
      INFO(shape.name << ", seed " << seed);
      REQUIRE(r.ok);
      INFO(r.failure);
      during += r.elections_during;
      after += r.elections_after;
      rounds_after += r.rounds_after;
      decrees += r.decrees_during;
      moved += r.president_after != r.president_before;
      CHECK(r.elections_after == 0);  // healing costs no election
      CHECK(r.rounds_after == 0);     // nor any promise
      CHECK(r.decrees_during > 0);    // the majority's side went on passing decrees
      if (shape.s == Scenario::IsolatedPresident || shape.s == Scenario::PresidentHearsNoOne) {
        CHECK(r.elections_during >= 1);  // the majority elected a president
        CHECK(r.president_after == r.president_during);
        // Within two election timeouts (each 30-60 ticks), as tests/docker asks of a real cut.
        CHECK(r.recovery_ticks > 0);
        CHECK(r.recovery_ticks <= 2 * 60);
        slowest = std::max(slowest, r.recovery_ticks);
      } else {
        CHECK(r.elections_during == 0);  // nothing to elect: the president stays
        CHECK(r.president_after == r.president_before);
      }
    }
    // Rival candidates are rare: a priest that promised a candidate's ballot helps no other
    // pre-ballot for a while (before that rule, 76 elections in 50 seeds for one vacancy each).
    if (shape.s == Scenario::IsolatedPresident || shape.s == Scenario::PresidentHearsNoOne)
      CHECK(during <= seeds + seeds / 10);
    std::printf("scenario %-18s over %llu seeds: elections while partitioned %llu, after healing %llu; "
                "promise rounds climbed after healing %llu; president moved %llu times; %llu decrees "
                "passed while partitioned; slowest new president %llu ticks after the cut\n",
                shape.name, (unsigned long long)seeds, (unsigned long long)during, (unsigned long long)after,
                (unsigned long long)rounds_after, (unsigned long long)moved, (unsigned long long)decrees,
                (unsigned long long)slowest);
  }
}
