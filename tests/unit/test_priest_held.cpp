// What a priest holds above its ledger is bounded by bytes (PriestOptions::max_held_bytes,
// Priest::may_hold): a priest with a gap in its ledger stops voting on higher numbers instead
// of holding every vote above the gap, still votes to fill the gap, and votes again once its
// ledger grew. Begin ballots are made by hand and stepped into priest 2 of a Chamber.
#include <catch2/catch.hpp>

#include <string>

#include "proto/priest.hpp"
#include "tests/common/chamber.hpp"

using namespace parliament;
using parliament::testing::Chamber;

namespace {

constexpr size_t kHeldBytes = 1000;

// Priest 1 elected with a decree passed and in priest 2's ledger (so that priest 2 holds no
// vote), the wire cleared: priest 2 is stepped by hand.
struct Bounded {
  Chamber c{3, {}, false, [](PriestOptions& o) { o.max_held_bytes = kHeldBytes; }};
  Priest& p2;
  uint64_t len;
  Bounded() : p2(*c.priests.at(2)), len(0) {
    c.elect(1);
    c.propose(1, 1, 9, 1, "x");
    for (int t = 0; t < 20 && p2.passed_len() < c.priests.at(1)->passed_len(); ++t) c.tick();
    c.wire.clear();
    len = p2.passed_len();
    REQUIRE(len == c.priests.at(1)->passed_len());
  }
};

// A message of priest 1's ballot (or of `ballot`, from its priest) to priest 2, holding
// decrees `from`..`to` of 300 bytes each.
Message from_president(Priest& p2, Kind kind, uint64_t from, uint64_t to, bool quorum = true,
                       Ballot ballot = {}) {
  Message m;
  m.kind = kind;
  m.ballot = ballot.is_zero() ? p2.next_bal() : ballot;
  m.from = m.ballot.priest;
  m.to = 2;
  m.quorum = quorum;
  m.commit_no = p2.passed_len();
  for (uint64_t n = from; n <= to && n > 0; ++n)
    m.entries.push_back(Entry{n, m.ballot, Decree{false, 5, n, std::string(300, 'd'), m.ballot}});
  return m;
}

const Message* vote_yes(const Ready& r) {
  for (auto& m : r.messages)
    if (m.kind == Kind::Voted) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("a priest with a gap in its ledger votes on no higher number past max_held_bytes", "[priest][trust]") {
  Bounded b;
  Priest& p2 = b.p2;
  const uint64_t len = b.len;

  // Decree len+1 never reached it; len+2..len+7 did, 300 bytes each: three fit in 1000.
  REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 2, len + 7)).empty());
  Ready r = p2.take_ready();
  CHECK(r.votes.size() == 3);
  const Message* yes = vote_yes(r);
  REQUIRE(yes);
  CHECK(yes->decree_no == len + 2);
  CHECK(yes->last_no == len + 4);

  SECTION("the gap is still voted, though it passes the bound; nothing above it is") {
    // The ballot sent again, whole: the gap and the three it holds again, not len+5.
    REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 1, len + 5)).empty());
    r = p2.take_ready();
    REQUIRE(r.votes.size() == 4);
    CHECK(r.votes.front().decree_no == len + 1);
    CHECK(r.votes.back().decree_no == len + 4);
    yes = vote_yes(r);
    REQUIRE(yes);
    CHECK(yes->decree_no == len + 1);
    CHECK(yes->last_no == len + 4);

    SECTION("once the ledger grew past the gap, it votes again") {
      Message success = from_president(p2, Kind::Success, 0, 0);
      success.commit_no = len + 4;
      REQUIRE(p2.step(success).empty());
      CHECK(p2.passed_len() == len + 4);
      p2.take_ready();
      REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 5, len + 7)).empty());
      r = p2.take_ready();
      CHECK(r.votes.size() == 3);
      yes = vote_yes(r);
      REQUIRE(yes);
      CHECK(yes->last_no == len + 7);
    }
  }
}

TEST_CASE("a priest told decrees without being asked keeps at most max_held_bytes of them", "[priest][trust]") {
  Bounded b;
  Priest& p2 = b.p2;
  const uint64_t len = b.len;

  REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 1, len + 6, false)).empty());
  Message success = from_president(p2, Kind::Success, 0, 0);
  success.commit_no = len + 6;
  REQUIRE(p2.step(success).empty());
  // It records the three it kept; the rest it learns by catch-up.
  CHECK(p2.passed_len() == len + 3);
}

TEST_CASE("decrees told by an older ballot do not stop a priest voting in a newer one",
          "[priest][trust]") {
  Bounded b;
  Priest& p2 = b.p2;
  const uint64_t len = b.len;
  // Told three decrees (900 bytes) by priest 1's ballot, which then ends without passing them.
  REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 1, len + 3, false)).empty());
  p2.take_ready();
  // Priest 3's higher ballot asks priest 2 for the same numbers.
  const Ballot higher{p2.next_bal().round + 1, 3};
  REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 1, len + 3, true, higher)).empty());
  Ready r = p2.take_ready();
  CHECK(r.votes.size() == 3);
  const Message* yes = vote_yes(r);
  REQUIRE(yes);
  CHECK(yes->last_no == len + 3);
}

TEST_CASE(
    "a president cannot make a priest hold more than max_held_bytes by filling in below a far vote",
    "[priest][trust]") {
  Bounded b;
  Priest& p2 = b.p2;
  const uint64_t len = b.len;
  // One decree far ahead (nothing was held, so it is held), then every number below it.
  REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 50, len + 50)).empty());
  REQUIRE(p2.take_ready().votes.size() == 1);
  REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 2, len + 49)).empty());
  Ready r = p2.take_ready();
  CHECK(r.votes.size() == 2);  // 300 + 2 x 300 bytes within 1000
  const Message* yes = vote_yes(r);
  REQUIRE(yes);
  CHECK(yes->last_no == len + 3);
}

TEST_CASE("a begin ballot's word that decrees passed frees what a priest holds before it votes",
          "[priest]") {
  Bounded b;
  Priest& p2 = b.p2;
  const uint64_t len = b.len;
  REQUIRE(p2.step(from_president(p2, Kind::BeginBallot, len + 1, len + 3)).empty());
  REQUIRE(p2.take_ready().votes.size() == 3);  // 900 bytes held
  // The next ballot's begin ballot says those three passed: it holds nothing, and votes both.
  Message next = from_president(p2, Kind::BeginBallot, len + 4, len + 5);
  next.commit_no = len + 3;
  REQUIRE(p2.step(next).empty());
  Ready r = p2.take_ready();
  CHECK(p2.passed_len() == len + 3);
  CHECK(r.votes.size() == 2);
  const Message* yes = vote_yes(r);
  REQUIRE(yes);
  CHECK(yes->last_no == len + 5);
}
