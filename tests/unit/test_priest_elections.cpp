// A priest's pre-ballots and leases, driven by hand (proto/priest_elections.cpp; the
// simulator's "elections under one partition" counts what they are worth under faults).
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

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

// A priest its membership does not name as a voter (a new life the god joined, or one whose
// replace decree it missed while the presidents since are priests it does not know) tells
// the members it knows how far its ledger has got, once per election timeout, so that a
// member holding it as a voter sends it the decree that names it. Before, it waited in
// silence for a president it admits, which after such a decree never came.
TEST_CASE("a priest its membership does not name reminds the members of its ledger",
          "[priest][election]") {
  Chamber c(3, {}, true);
  c.start_blank(3, 999, c.membership);  // a new life of priest 3: not the incarnation named
  Priest& p = *c.priests[3];
  std::set<PriestId> reminded;
  for (int i = 0; i < 70; ++i) {
    p.tick();
    for (const Message& m : p.take_ready().messages) {
      CHECK(m.kind == Kind::CatchUp);
      CHECK(m.entries.empty());
      CHECK(m.passed_len == 0);
      reminded.insert(m.to);
    }
  }
  CHECK(reminded == std::set<PriestId>{1, 2});
}

// A follower may learn its president's ballot from a successful ballot alone (which promises
// nothing). A failed ballot of that president's earlier ballot, arriving late, says nothing
// about the one it follows now: before, it was measured against the promise only, and it
// dropped the president (and the forwards made to it) and hurried an election.
TEST_CASE("a late failed ballot of an earlier ballot leaves the president followed",
          "[priest][election]") {
  Chamber c(3);
  Priest& p = *c.priests[3];
  p.step(to3(Kind::BeginBallot, 1, {1, 1}));
  REQUIRE(p.status().president == PriestId{1});
  p.step(to3(Kind::Success, 1, {2, 1}));  // ballot 2.1, heard without its next ballot
  REQUIRE(p.status().president == PriestId{1});
  REQUIRE(p.next_bal() < Ballot{2, 1});
  (void)p.take_ready();
  p.step(to3(Kind::Failed, 1, {1, 1}));  // late: ballot 1.1 is over
  CHECK(p.status().president == PriestId{1});
  p.step(to3(Kind::Failed, 1, {2, 1}));  // the ballot it follows
  CHECK_FALSE(p.status().president);
}
