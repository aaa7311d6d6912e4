// ReadIndex (proto/read_index.hpp) on its own: when a read may be answered, at a president
// and at a follower.
#include <catch2/catch.hpp>

#include "proto/read_index.hpp"

using namespace parliament;

TEST_CASE("read index: a read waits for a quorum's acknowledgement of a later round",
          "[read]") {
  ReadIndex r;
  const std::vector<PriestId> voters = {1, 2, 3, 4, 5};
  r.acked(2, 5);  // an acknowledgement from before any read counts for none
  r.begin(Waiter{1, 100}, 7, 0);
  uint64_t first = r.to_send();
  CHECK(r.to_send() == 0);  // sent once
  r.begin(Waiter{3, 200}, 9, 0);
  uint64_t second = r.to_send();
  CHECK(second > first);
  CHECK(r.asking() == second);
  r.acked(2, first);
  CHECK(r.confirmed(voters, 3, 1, 10, 0).empty());  // the president and priest 2: two of five
  r.acked(3, first);
  auto done = r.confirmed(voters, 3, 1, 6, 0);
  CHECK(done.empty());  // a quorum, but the ledger does not hold n = 7 yet
  done = r.confirmed(voters, 3, 1, 7, 0);
  REQUIRE(done.size() == 1);  // the second read's round is not acknowledged yet
  CHECK(done[0].waiter.token == 100);
  CHECK(done[0].upto == 7);
  r.acked(4, second);
  r.acked(5, second);
  done = r.confirmed(voters, 3, 1, 9, 0);
  REQUIRE(done.size() == 1);
  CHECK(done[0].waiter.token == 200);
  CHECK(r.asking() == 0);
}

// Reads that arrive before the round is sent share it: one round of acknowledgements answers
// them all, and an acknowledgement of an earlier round answers none of them.
TEST_CASE("read index: reads of one turn share one round", "[read]") {
  ReadIndex r;
  const std::vector<PriestId> voters = {1, 2, 3};
  r.begin(Waiter{1, 1}, 4, 0);
  uint64_t before = r.to_send();
  r.acked(2, before);
  for (uint64_t t = 10; t < 110; ++t) r.begin(Waiter{1, t}, 5, 0);
  CHECK(r.confirmed(voters, 2, 1, 5, 0).size() == 1);  // only the read of the earlier round
  CHECK(r.asking() == before);  // heartbeats ask only about sent rounds
  uint64_t shared = r.to_send();
  CHECK(shared == before + 1);
  CHECK(r.to_send() == 0);
  CHECK(r.confirmed(voters, 2, 1, 5, 0).empty());
  r.acked(3, shared);
  CHECK(r.confirmed(voters, 2, 1, 5, 0).size() == 100);
  CHECK(r.waiting() == 0);
}

TEST_CASE("read index: a new ballot forgets the old one's acknowledgements", "[read]") {
  ReadIndex r;
  const std::vector<PriestId> voters = {1, 2, 3};
  r.begin(Waiter{1, 1}, 0, 0);
  uint64_t round = r.to_send();
  r.acked(2, round);
  r.new_ballot();
  CHECK(r.confirmed(voters, 2, 1, 0, 0).empty());
  auto gone = r.abandon();
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].waiter.token == 1);
  CHECK(r.waiting() == 0);
}

// Joint 2 (docs/SAFETY.md): a read that arrived in one membership's era is never confirmed
// by the voters of the next; the president fails it when the era changes.
TEST_CASE("read index: no read is confirmed across a membership decree", "[read]") {
  ReadIndex r;
  const std::vector<PriestId> voters = {1, 2, 3};
  r.begin(Waiter{1, 5}, 4, 10);  // arrived under membership decree 10
  uint64_t round = r.to_send();
  r.acked(2, round);
  r.acked(3, round);
  CHECK(r.confirmed(voters, 2, 1, 20, 11).empty());  // decree 11 changed the membership
  REQUIRE(r.abandon().size() == 1);
  r.begin(Waiter{1, 6}, 12, 11);
  round = r.to_send();
  r.acked(2, round);
  CHECK(r.confirmed(voters, 2, 1, 20, 11).size() == 1);
}

TEST_CASE("read index: a follower's read waits for its own ledger to hold n", "[read]") {
  ReadIndex r;
  r.forwarded(41);
  CHECK(r.is_forwarded(41));
  CHECK(r.answered(41));
  CHECK_FALSE(r.answered(41));  // an answer is taken once
  r.wait(Waiter{2, 41}, 12, 100);
  CHECK(r.ready(11).empty());
  CHECK(r.overdue(129, 30).empty());  // not before its time
  auto done = r.ready(12);
  REQUIRE(done.size() == 1);
  CHECK(done[0].waiter.token == 41);
  CHECK(r.waits() == 0);
}

TEST_CASE("read index: a follower's wait is overdue after its patience", "[read]") {
  ReadIndex r;
  r.wait(Waiter{2, 41}, 12, 100);
  r.wait(Waiter{2, 42}, 12, 110);
  CHECK(r.overdue(129, 30).empty());
  auto late = r.overdue(130, 30);
  REQUIRE(late.size() == 1);
  CHECK(late[0].waiter.token == 41);
  CHECK(r.waits() == 1);
  CHECK(r.ready(12).size() == 1);  // the other is still answered when the ledger gets there
}
