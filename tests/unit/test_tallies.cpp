// Tallies (proto/tallies.hpp) on its own: B2's count, the open ballots and what is sent again.
#include <catch2/catch.hpp>

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
  CHECK(t.unvoted(2, 10, 10, 3, b).size() == 2);  // at most 3 decrees: 1, 2 and 4
  CHECK(t.unvoted(2, 10, 10, 3, b)[1].size() == 1);
  t.resent(10, 10);
  CHECK(t.unvoted(2, 15, 10, 100, b).empty());  // sent again at 10
}
