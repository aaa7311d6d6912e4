// The joints of the safety argument that a reading from outside found weakest (docs/SAFETY.md
// "The joints"), each with a test that fails if the rule it relies on is broken.
#include <catch2/catch.hpp>

#include "proto/priest.hpp"
#include "tests/common/chamber.hpp"

using namespace parliament;
using parliament::testing::Chamber;

TEST_CASE("joint: a late failed ballot of an earlier ballot leaves the president in office",
          "[priest][joints]") {
  // Priest 1 once promised round 5 (its own), so it now presides in a later round.
  std::map<PriestId, Restored> restored;
  restored[1].next_bal = Ballot{5, 1};
  Chamber c(3, restored);
  c.elect(1);
  const Ballot now = c.priests[2]->status().ballot;
  REQUIRE(now > (Ballot{5, 1}));
  REQUIRE(c.priests[2]->status().president == std::optional<PriestId>(1));
  Message late;  // the failed ballot 5.1, delayed until ballot `now`
  late.kind = Kind::Failed;
  late.from = 1;
  late.to = 2;
  late.ballot = Ballot{5, 1};
  late.passed_len = c.priests[1]->passed_len();
  c.priests[2]->step(late);
  c.drain();
  CHECK(c.priests[2]->status().president == std::optional<PriestId>(1));
  // The failed ballot it follows does end it.
  late.ballot = now;
  c.priests[2]->step(late);
  c.drain();
  CHECK_FALSE(c.priests[2]->status().president.has_value());
}

TEST_CASE("joint: another life of a member id counts as no reachable priest", "[priest][joints]") {
  // The membership records priest 3's key, so another life of 3 with a longer ledger is heard
  // (a replace this priest has not learned may have made it a voter): its ledger, not its
  // reachability.
  Chamber c(3, {}, true, [](PriestOptions& o) { o.membership.priests[2].key = std::string(64, 'c'); });
  c.elect(1);
  c.propose(1, 1, 9, 1, "first");
  c.lose = [](const Message& m) { return m.from == 3 || m.to == 3; };  // the named life is gone
  for (int t = 0; t < 40; ++t) c.tick();
  auto reachable = [&] { return c.priests[1]->status().reachable; };
  REQUIRE(reachable() == std::vector<PriestId>{1, 2});
  c.lose = nullptr;
  Message m;
  m.kind = Kind::CatchUp;
  m.from = 3;
  m.incarnation = 777;  // not the life the membership names
  m.to = 1;
  m.passed_len = c.ledgers[1].size() + 1;
  m.entries.push_back(Entry{m.passed_len, Ballot{1, 3}, Decree{false, 66, 1, "from another life", {}}});
  c.priests[1]->step(m);
  c.drain();
  CHECK(reachable() == std::vector<PriestId>{1, 2});
}
