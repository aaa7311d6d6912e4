// Tallies (proto/tallies.hpp) on its own: B2's count, the open ballots and what is sent again.
#include <catch2/catch.hpp>

#include <set>

#include "proto/tallies.hpp"

using namespace parliament;

namespace {
std::vector<Entry> entries(uint64_t from, uint64_t to, const Ballot& b) {
  std::vector<Entry> out;
  for (uint64_t n = from; n <= to; ++n) out.push_back(Entry{n, b, Decree{false, 1, n, "d", b}});
  return out;
}
Membership five() {
  Membership m;
  for (PriestId id = 1; id <= 5; ++id) {
    PriestAddress p;
    p.id = id;
    m.priests.push_back(p);
  }
  return m;
}
}  // namespace

TEST_CASE("tallies: a decree passes with a majority's yes, once", "[tallies]") {
  const Ballot b{3, 1};
  const Membership m = five();
  Tallies t;
  t.begin(entries(1, 3, b), 0);
  CHECK(t.size() == 3);
  CHECK(t.bytes() == 3);
  CHECK(t.vote(1, 1, 3, m, b).empty());
  CHECK(t.vote(2, 1, 2, m, b).empty());
  CHECK(t.vote(2, 1, 2, m, b).empty());  // a vote counts once
  auto passed = t.vote(3, 1, 3, m, b);   // 1 and 2 have three of five; 3 has two
  REQUIRE(passed.size() == 2);
  CHECK((passed[0].decree_no == 1 && passed[1].decree_no == 2 && passed[0].ballot == b));
  CHECK(t.size() == 1);
  CHECK(t.open_ballots(0) == 1);
  CHECK(t.open_ballots(3) == 0);  // the ledger holds the ballot's last number
  t.passed(3);                    // learned by catch-up
  CHECK((t.empty() && t.bytes() == 0));
}

TEST_CASE("tallies: stale decrees go again to the priests that did not vote for them",
          "[tallies]") {
  const Ballot b{3, 1};
  const Membership m = five();
  Tallies t;
  t.begin(entries(1, 5, b), 0);
  t.vote(2, 3, 3, m, b);  // priest 2 voted for 3 only
  CHECK(t.unvoted(2, 5, 10, 100, b).empty());  // not stale yet
  auto runs = t.unvoted(2, 10, 10, 100, b);
  REQUIRE(runs.size() == 2);  // 1..2 and 4..5: a vote's range is consecutive
  CHECK((runs[0].front().decree_no == 1 && runs[0].back().decree_no == 2));
  CHECK((runs[1].front().decree_no == 4 && runs[1].back().decree_no == 5));
  CHECK(t.unvoted(2, 10, 10, 1, b).size() == 4);  // runs of at most one decree: every one
  CHECK(t.unvoted(2, 10, 10, 1, b)[2].front().decree_no == 4);
  t.resent(10, 10);
  CHECK(t.unvoted(2, 15, 10, 100, b).empty());  // sent again at 10
}

// The ballot's quorum: the president and the first followers to answer, kept while they
// answer in time; forgotten (everyone asked) once a begin ballot waits for it too long.
TEST_CASE("tallies: the ballot's quorum is the first to answer, until it is too slow",
          "[tallies][quorum]") {
  const Ballot b{3, 1};
  const Membership m = five();
  Tallies t;
  for (PriestId p = 1; p <= 5; ++p) CHECK(t.asks(p));  // nothing passed yet: everyone
  t.begin(entries(1, 1, b), 0);
  t.vote(4, 1, 1, m, b, 1);
  t.vote(2, 1, 1, m, b, 1);
  REQUIRE(t.vote(5, 1, 1, m, b, 1).size() == 1);  // the president's own vote came later
  CHECK(t.quorum() == std::set<PriestId>{2, 4});  // the first two followers; 1 votes always
  CHECK_FALSE(t.asks(3));
  CHECK_FALSE(t.asks(5));
  t.begin(entries(2, 2, b), 1);
  t.vote(1, 2, 2, m, b, 1);
  t.vote(3, 2, 2, m, b, 1);  // asked after all, say; the quorum stays
  REQUIRE(t.vote(2, 2, 2, m, b, 1).size() == 1);
  CHECK(t.quorum() == std::set<PriestId>{2, 4});
  // Decree 3 waits on priest 4: two ticks on, the rest are asked and the quorum forgotten.
  t.begin(entries(3, 3, b), 5);
  t.vote(1, 3, 3, m, b, 1);
  t.vote(2, 3, 3, m, b, 1);
  CHECK(t.unvoted(3, 6, 2, 100, b, true).empty());  // one tick: not yet
  REQUIRE(t.unvoted(3, 7, 2, 100, b, true).size() == 1);
  t.resent(7, 2, true, 1);
  CHECK(t.quorum().empty());
  CHECK(t.thrifty());  // it waited for a follower, not for the president
  CHECK(t.unvoted(3, 9, 2, 100, b, true).empty());  // asked of everyone once only
  CHECK(t.unvoted(3, 17, 10, 100, b).size() == 1);  // the slow resend still comes
  REQUIRE(t.vote(3, 3, 3, m, b, 1).size() == 1);
  CHECK(t.quorum() == std::set<PriestId>{1, 2, 3});
  // Once a quorum failed waiting for the president, a majority without it stays whole: the
  // president is still asked, but not waited for.
  t.begin(entries(4, 4, b), 20);
  t.vote(2, 4, 4, m, b, 1);
  t.vote(3, 4, 4, m, b, 1);
  REQUIRE(t.unvoted(4, 22, 2, 100, b, true).size() == 1);
  t.resent(22, 2, true, 1);
  CHECK_FALSE(t.thrifty());       // it waited for the president
  t.begin(entries(5, 5, b), 22);  // everyone asked
  t.vote(2, 5, 5, m, b, 1);
  t.vote(3, 5, 5, m, b, 1);
  REQUIRE(t.vote(4, 5, 5, m, b, 1).size() == 1);  // a majority without the president
  CHECK(t.quorum() == std::set<PriestId>{2, 3, 4});
  t.clear();  // the ballot ends: the next one begins thrifty
  CHECK(t.thrifty());
}

// On a slow disk a quorum takes ticks to answer: the rest are asked only once a begin ballot
// has waited twice as long as the last decree took, not at every ballot.
TEST_CASE("tallies: the quorum's patience follows how long decrees take to pass",
          "[tallies][quorum]") {
  const Ballot b{3, 1};
  const Membership m = five();
  Tallies t;
  CHECK(t.patience() == 2);
  t.begin(entries(1, 1, b), 0);
  t.vote(1, 1, 1, m, b, 1, 2);
  t.vote(2, 1, 1, m, b, 1, 3);
  REQUIRE(t.vote(3, 1, 1, m, b, 1, 3).size() == 1);  // three ticks from its begin ballot
  CHECK(t.patience() == 7);
  t.begin(entries(2, 2, b), 10);
  t.vote(1, 2, 2, m, b, 1, 10);
  CHECK(t.unvoted(4, 13, t.patience(), 100, b, true).empty());  // three ticks: as usual
  CHECK(t.unvoted(4, 17, t.patience(), 100, b, true).size() == 1);
  t.vote(2, 2, 2, m, b, 1, 10);
  REQUIRE(t.vote(3, 2, 2, m, b, 1, 10).size() == 1);  // within the tick it was begun
  CHECK(t.patience() == 2);
}
