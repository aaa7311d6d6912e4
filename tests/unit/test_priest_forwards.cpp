// A follower's forwards: a client's proposal or read carried to the president, bounded while
// it waits (in count and in bytes), and always answered, by the president or, when its answer
// cannot come, by the follower itself (Priest::set_president, Priest::expire_forwards).
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "proto/priest.hpp"
#include "tests/common/chamber.hpp"

using namespace parliament;
using parliament::testing::Chamber;

// A follower's forwarded requests are bounded like the president's queue: with max_queued
// waiting for an answer, the next proposal or read is refused at once. Before, a president
// that never answered (or a ledger far behind) let them pile up without end.
TEST_CASE("a follower forwards at most max_queued requests at a time", "[priest][read]") {
  Chamber c(3, {}, false, [](PriestOptions& o) { o.max_queued = 3; });
  c.elect(1);
  c.hold = true;  // the president never answers
  for (uint64_t r = 1; r <= 2; ++r) c.propose(2, r, 9, r, "forwarded " + std::to_string(r));
  c.priests[2]->read(3);
  c.drain();
  CHECK_FALSE(c.reply(1));
  CHECK_FALSE(c.reply(3));
  c.propose(2, 4, 9, 4, "one too many");
  c.priests[2]->read(5);
  c.drain();
  for (uint64_t t : {4, 5}) {
    REQUIRE(c.reply(t));
    CHECK(c.reply(t)->error.find("max_queued") != std::string::npos);
    CHECK(c.reply(t)->code == Code::Overloaded);
  }
  CHECK_FALSE(c.priests[2]->room_for_client());
  c.hold = false;  // answers come: room again
  c.drain();
  CHECK(c.priests[2]->room_for_client());
  for (uint64_t t : {1, 2, 3}) {
    REQUIRE(c.reply(t));
    CHECK(c.reply(t)->error.empty());
  }
  c.propose(2, 6, 9, 6, "after");
  for (int t = 0; t < 10 && !c.reply(6); ++t) c.tick();
  REQUIRE(c.reply(6));
  CHECK(c.reply(6)->error.empty());
}

// Proposals forwarded to the president and not yet answered are bounded in bytes too, by the
// follower's share of the president's queue (half of max_queued_bytes over the followers): past
// it the host reads no more from the follower's clients, so that forwards from every follower
// fit the president's queue and none is refused there as overloaded.
TEST_CASE("a follower takes no more clients while its share of forwarded text is used",
          "[priest]") {
  Chamber c(3, {}, false, [](PriestOptions& o) {
    o.max_queued_bytes = 8000;  // a follower's share: 8000 / 2 / 2 = 2000
    o.max_decree_bytes = 1000;
  });
  c.elect(1);
  c.hold = true;  // the president never answers
  CHECK(c.priests[2]->room_for_client());
  c.propose(2, 1, 9, 1, std::string(500, 'a'));
  CHECK(c.priests[2]->room_for_client());  // 500 + 1000 fit in 2000
  c.propose(2, 2, 9, 2, std::string(600, 'b'));
  CHECK_FALSE(c.priests[2]->room_for_client());  // 1100 + 1000 do not
  c.hold = false;                                // answers come: room again
  c.drain();
  REQUIRE(c.reply(2));
  CHECK(c.reply(2)->error.empty());
  CHECK(c.priests[2]->room_for_client());
}

// A president that fails and wins again in a later ballot has forgotten what it was forwarded;
// a follower that missed its next ballot (and so never saw the presidency empty) hears only
// its begin ballots. The forwards of the earlier ballot are answered then: before, they were
// kept until the president changed, their bytes holding the follower's share, so the host held
// its clients back for a second at a time, turn after turn.
TEST_CASE("a follower answers what it forwarded when its president comes back in a new ballot",
          "[priest]") {
  Chamber c(3, {}, false, [](PriestOptions& o) {
    o.max_queued_bytes = 8000;  // a follower's share: 2000
    o.max_decree_bytes = 1000;
  });
  c.elect(1);
  c.hold = true;
  c.propose(2, 1, 9, 1, std::string(600, 'a'));
  c.propose(2, 2, 9, 2, std::string(600, 'b'));
  REQUIRE_FALSE(c.priests[2]->room_for_client());
  const Ballot first = c.priests[1]->next_bal();
  c.wire.clear();  // the president fails before it reads them, and restarts with its promise
  Restored disk;
  disk.next_bal = first;
  disk.ledger_len = c.ledgers[1].size();
  c.restart(1, disk);
  c.hold = false;
  c.lose = [](const Message& m) { return m.to == 2 && m.kind == Kind::NextBallot; };
  c.elect(1);
  REQUIRE(first < c.priests[1]->next_bal());
  for (int t = 0; t < 10 && !(c.reply(1) && c.reply(2)); ++t) c.tick(1);
  for (uint64_t r : {1, 2}) {
    REQUIRE(c.reply(r));
    CHECK(c.reply(r)->code == Code::OutcomeUnknown);
    CHECK(c.reply(r)->error.find("began ballot") != std::string::npos);
  }
  CHECK(c.priests[2]->room_for_client());
  c.propose(2, 3, 9, 3, "after");  // forwarded to the new life, and answered
  for (int t = 0; t < 10 && !c.reply(3); ++t) c.tick(1);
  REQUIRE(c.reply(3));
  CHECK(c.reply(3)->error.empty());
}

// An answer can be lost while the president stays (a connection reset, or the host dropping
// frames a full peer queue cannot take). A forward unanswered for kForwardPatience election
// timeouts is answered outcome_unknown; before, it was kept (with its client waiting and its
// bytes held of the follower's share) for as long as that president lasted.
TEST_CASE("a follower gives up on a forward whose answer was lost", "[priest]") {
  Chamber c(3);
  c.elect(1);
  c.lose = [](const Message& m) { return m.kind == Kind::Answer; };
  c.propose(2, 1, 9, 1, "answered, but the answer is lost");
  const uint64_t patience = kForwardPatience * PriestOptions{}.election_timeout_ticks;
  for (uint64_t t = 0; t + 1 < patience - PriestOptions{}.election_timeout_ticks; ++t) c.tick();
  CHECK_FALSE(c.reply(1));  // not before its time
  for (uint64_t t = 0; t < 2 * PriestOptions{}.election_timeout_ticks && !c.reply(1); ++t) c.tick();
  REQUIRE(c.reply(1));
  CHECK(c.reply(1)->code == Code::OutcomeUnknown);
  CHECK(c.reply(1)->error.find("did not answer") != std::string::npos);
  CHECK(c.president() == 1);
  CHECK(c.ledgers[2].size() == 1);  // it passed all the same: a retry is answered with it
  c.lose = nullptr;
  c.propose(2, 2, 9, 1, "answered, but the answer is lost");
  REQUIRE(c.reply(2));
  CHECK(c.reply(2)->error.empty());
  CHECK(c.reply(2)->decree_no == 1);
}

// A read the president answered with n waits at the follower for its ledger to reach n. A
// follower cut off from every priest that could teach it n gives the read up after
// kForwardPatience election timeouts, as it does a forward; before, the read waited (holding
// a place of the follower's max_queued) until the priest was reached again.
TEST_CASE("a follower gives up a read whose decree it cannot learn", "[priest][read]") {
  Chamber c(3);
  c.elect(1);
  // Priest 2 hears nothing but answers: it misses decree 1 and every way to learn it.
  c.lose = [](const Message& m) { return m.to == 2 && m.kind != Kind::Answer; };
  c.propose(1, 1, 9, 1, "passed while priest 2 hears nothing");
  REQUIRE(c.reply(1));
  REQUIRE(c.ledgers[1].size() == 1);
  c.priests[2]->read(50);
  c.drain();
  REQUIRE_FALSE(c.reply(50));  // answered n = 1 by the president; priest 2's ledger is empty
  REQUIRE(c.ledgers[2].empty());
  const uint64_t timeout = PriestOptions{}.election_timeout_ticks;
  for (uint64_t t = 0; t + timeout < kForwardPatience * timeout; ++t) c.tick();
  CHECK_FALSE(c.reply(50));  // not before its time
  for (uint64_t t = 0; t < 2 * timeout && !c.reply(50); ++t) c.tick();
  REQUIRE(c.reply(50));
  CHECK(c.reply(50)->code == Code::NoPresident);
  CHECK(c.reply(50)->decree_no == 0);
  CHECK(c.reply(50)->error.find("did not learn decree 1") != std::string::npos);
  CHECK(c.ledgers[2].empty());  // no read was answered from a ledger that lacks decree 1
  // Reached again, it learns decree 1, and a read there is answered with it.
  c.lose = nullptr;
  for (int t = 0; t < 40 && c.ledgers[2].empty(); ++t) c.tick();
  REQUIRE(c.ledgers[2].size() == 1);
  c.priests[2]->read(51);
  for (int t = 0; t < 40 && !c.reply(51); ++t) c.tick();
  REQUIRE(c.reply(51));
  CHECK(c.reply(51)->error.empty());
  CHECK(c.reply(51)->decree_no >= 1);
}

// A follower back from a long stop learns its missing decrees a catch-up at a time, which can
// take longer than the patience above: while its ledger grows, a read waiting there waits on.
// (Counted from the president's answer alone, every read at a priest catching up failed.)
TEST_CASE("a follower's read waits while its ledger is catching up", "[priest][read]") {
  Chamber c(3);
  c.elect(1);
  c.lose = [](const Message& m) { return m.to == 2 && m.kind != Kind::Answer; };
  c.propose(1, 1, 9, 1, "first");
  c.propose(1, 2, 9, 2, "second");
  REQUIRE(c.ledgers[1].size() == 2);
  c.priests[2]->read(50);
  c.drain();
  REQUIRE_FALSE(c.reply(50));  // answered n = 2 by the president; priest 2's ledger is empty
  const uint64_t timeout = PriestOptions{}.election_timeout_ticks;
  const uint64_t patience = kForwardPatience * timeout;
  for (uint64_t t = 0; t + 2 < patience; ++t) c.tick();
  REQUIRE_FALSE(c.reply(50));
  // Just before the read's patience it learns decree 1 by catch-up, not yet decree 2.
  Message cu;
  cu.kind = Kind::CatchUp;
  cu.from = 3;
  cu.to = 2;
  cu.passed_len = 2;
  cu.entries.push_back(c.ledgers[1][0]);
  c.priests[2]->step(cu);
  c.drain();
  REQUIRE(c.ledgers[2].size() == 1);
  for (uint64_t t = 0; t + timeout < patience; ++t) c.tick();
  CHECK_FALSE(c.reply(50));  // its ledger grew: the read waits
  for (uint64_t t = 0; t < 2 * timeout && !c.reply(50); ++t) c.tick();
  REQUIRE(c.reply(50));  // then stood still for the whole patience: given up
  CHECK(c.reply(50)->code == Code::NoPresident);
}

// A follower that learned a later president from its successful ballot alone (it missed that
// president's next and begin ballots) can still receive a late message of the earlier
// president's ballot. Before, that switched it back: it gave up what it had forwarded to the
// later president as outcome_unknown, and sent its next requests to the earlier one.
TEST_CASE("a late message of an earlier ballot does not change the president followed",
          "[priest]") {
  Chamber c(3);
  c.elect(1);
  const Ballot first = c.priests[2]->next_bal();
  REQUIRE(first.priest == 1);
  c.hold = true;
  Message later;  // priest 3's successful ballot, in a later ballot than priest 2 promised
  later.kind = Kind::Success;
  later.from = 3;
  later.to = 2;
  later.ballot = Ballot{first.round + 1, 3};
  later.commit_no = c.priests[2]->passed_len();
  c.priests[2]->step(later);
  auto forwarded_to = [&]() {
    std::optional<PriestId> to;
    for (auto& m : c.wire)
      if (m.kind == Kind::Forward) to = m.to;
    c.wire.clear();
    return to;
  };
  c.propose(2, 1, 9, 1, "forwarded to priest 3");
  REQUIRE(forwarded_to() == PriestId{3});
  Message late = later;  // priest 1's, of its earlier ballot, slow on the way
  late.from = 1;
  late.ballot = first;
  c.priests[2]->step(late);
  c.drain();
  CHECK_FALSE(c.reply(1));  // what went to priest 3 is still awaited
  c.propose(2, 2, 9, 2, "also to priest 3");
  CHECK(forwarded_to() == PriestId{3});
}
