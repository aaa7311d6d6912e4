// A priest's pre-ballots and leases, driven by hand (proto/priest_elections.cpp; the
// simulator's "elections under one partition" counts what they are worth under faults).
#include <catch2/catch.hpp>

#include <algorithm>

#include "proto/priest.hpp"
#include "tests/common/chamber.hpp"

using namespace parliament;
using parliament::testing::Chamber;

namespace {

Message to3(Kind kind, PriestId from, Ballot b) {
  Message m;
  m.kind = kind;
  m.from = from;
  m.to = 3;
  m.ballot = b;
  m.decree_no = 1;
  return m;
}

// How many messages of `kind` priest `p` has sent since last asked.
size_t sent(Priest& p, Kind kind) {
  Ready r = p.take_ready();
  return std::count_if(r.messages.begin(), r.messages.end(),
                       [&](const Message& m) { return m.kind == kind; });
}

}  // namespace

TEST_CASE(
    "a priest that promised a candidate's ballot helps no rival's pre-ballot, yet promises a "
    "higher ballot",
    "[priest][election]") {
  Chamber c(3);
  Priest& p = *c.priests[3];
  p.step(to3(Kind::NextBallot, 1, {1, 1}));
  REQUIRE(sent(p, Kind::LastVote) == 1);
  // Priest 1's election runs: priest 2 is told nothing, priest 1 itself still is.
  p.step(to3(Kind::PreBallot, 2, {2, 2}));
  CHECK(sent(p, Kind::PreVote) == 0);
  p.step(to3(Kind::PreBallot, 1, {2, 1}));
  CHECK(sent(p, Kind::PreVote) == 1);
  // A rival that stood anyway is promised by ballot number, as ever.
  p.step(to3(Kind::NextBallot, 2, {2, 2}));
  CHECK(sent(p, Kind::LastVote) == 1);
  // An election timeout later, with no word from either, anyone is answered again.
  for (int i = 0; i < 31; ++i) p.tick();
  (void)p.take_ready();
  p.step(to3(Kind::PreBallot, 1, {3, 1}));
  CHECK(sent(p, Kind::PreVote) == 1);
}
