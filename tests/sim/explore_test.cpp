// The explorer under CTest: a bounded run from each start (tests/sim/explore.hpp). Deeper
// runs: build/bin/paxos-explore --help.
#include <catch2/catch.hpp>

#include <cstdio>

#include "tests/sim/explore.hpp"

using parliament::sim::ExploreOptions;
using parliament::sim::explore;

namespace {
void report(const char* what, const parliament::sim::ExploreResult& r) {
  std::printf("explore %s: %llu distinct states, %llu steps, depth %d%s\n", what, (unsigned long long)r.states,
              (unsigned long long)r.transitions, r.max_depth, r.exhausted ? ", every state within the bounds" : "");
  if (!r.ok) FAIL(r.failure << "\nafter:\n" << r.schedule);
}
}  // namespace

TEST_CASE("three priests, two decrees: every schedule of 24 steps keeps the invariants", "[explore]") {
  ExploreOptions o;
  o.max_states = 150000;
  auto r = explore(o);
  report("3 priests from election", r);
  CHECK(r.states >= 100000);  // it really searched
}

// The previous core broke agreement here within 2,409 states, at depth 8.
TEST_CASE("five priests after a split: schedules of 8 steps keep the invariants", "[explore]") {
  ExploreOptions o;
  o.priests = 5;
  o.start = "split";
  o.depth = 8;
  o.max_in_flight = 10;
  o.max_states = 150000;
  auto r = explore(o);
  report("5 priests after the split", r);
  CHECK(r.states >= 100000);
}

TEST_CASE("a start the explorer cannot reach is an error, not a pass", "[explore]") {
  ExploreOptions o;
  o.start = "split";  // needs five priests
  auto r = explore(o);
  CHECK_FALSE(r.ok);
}
