// Proposals (proto/proposals.hpp) on its own: the president's waiting room.
#include <catch2/catch.hpp>

#include "proto/proposals.hpp"

using namespace parliament;
using Admitted = Proposals::Admitted;

namespace {
Decree decree(uint64_t client, uint64_t request, size_t bytes) {
  return Decree{false, client, request, std::string(bytes, 'x'), {}};
}
// Request (1, 1) begun at 5 (token 10); request (2, 1) queued (token 11).
Proposals one_begun_one_queued() {
  Proposals p;
  p.admit(decree(1, 1, 1), Waiter{1, 10}, 10, 1000);
  p.admit(decree(2, 1, 1), Waiter{1, 11}, 10, 1000);
  p.take();
  p.began({1, 1}, 5);
  return p;
}
}  // namespace

TEST_CASE("proposals: bounded by count and by bytes; a retry joins its request",
          "[proposals]") {
  Proposals p;
  CHECK(p.admit(decree(1, 1, 60), Waiter{1, 10}, 3, 100) == Admitted::Queued);
  CHECK(p.admit(decree(1, 1, 60), Waiter{2, 11}, 3, 100) == Admitted::Joined);  // a retry
  CHECK(p.admit(decree(2, 1, 50), Waiter{1, 12}, 3, 100) == Admitted::Full);    // 110 bytes
  CHECK(p.admit(decree(2, 1, 40), Waiter{1, 12}, 3, 100) == Admitted::Queued);
  CHECK(p.admit(decree(3, 1, 0), Waiter{1, 13}, 3, 100) == Admitted::Queued);
  CHECK(p.admit(decree(4, 1, 0), Waiter{1, 14}, 3, 100) == Admitted::Full);  // three queued
  CHECK(p.queued() == 3);
  CHECK(p.queued_bytes() == 100);
  // Taken for a ballot and begun: a retry still joins, and the answer reaches both waiters.
  Decree d = p.take();
  CHECK(d.client == 1);
  p.began({1, 1}, 7);
  CHECK(p.queued_bytes() == 40);
  CHECK(p.admit(decree(1, 1, 60), Waiter{3, 15}, 3, 100) == Admitted::Joined);
  auto waiters = p.passed({1, 1});
  CHECK(waiters.size() == 3);
  CHECK(p.begun().empty());
}

TEST_CASE("proposals: a ballot's end says which requests were begun", "[proposals]") {
  Proposals p = one_begun_one_queued();
  auto gone = p.abandon();
  REQUIRE(gone.size() == 2);
  CHECK((gone[0].waiter.token == 10 && gone[0].begun));
  CHECK((gone[1].waiter.token == 11 && !gone[1].begun));
  CHECK((p.queued() == 0 && p.waiting() == 0 && p.begun().empty()));
}

TEST_CASE("proposals: dropping the queue keeps the begun requests' waiters", "[proposals]") {
  Proposals p = one_begun_one_queued();
  auto dropped = p.drop_queued();
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0].token == 11);
  CHECK(p.waiting() == 1);  // request (1, 1) is in flight: its client still waits
}

// A client resending one request in a loop while it waits (a stall, a change under way) joined
// it every time: the president kept a waiter, and its host an entry, per copy, without bound.
TEST_CASE("proposals: at most kMaxJoined clients wait on one request", "[proposals]") {
  Proposals p;
  CHECK(p.admit(decree(1, 1, 10), Waiter{1, 100}, 10, 1000) == Admitted::Queued);
  for (uint64_t t = 1; t < Proposals::kMaxJoined; ++t)
    CHECK(p.admit(decree(1, 1, 10), Waiter{1, 100 + t}, 10, 1000) == Admitted::Joined);
  CHECK(p.admit(decree(1, 1, 10), Waiter{1, 999}, 10, 1000) == Admitted::Crowded);
  CHECK(p.admit(decree(2, 1, 10), Waiter{1, 500}, 10, 1000) == Admitted::Queued);  // others go on
  p.take();
  p.began({1, 1}, 7);
  CHECK(p.admit(decree(1, 1, 10), Waiter{1, 998}, 10, 1000) == Admitted::Crowded);  // begun too
  CHECK(p.passed({1, 1}).size() == Proposals::kMaxJoined);
  CHECK(p.admit(decree(1, 2, 10), Waiter{1, 997}, 10, 1000) == Admitted::Queued);
}
