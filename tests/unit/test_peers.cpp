// Peers (proto/peers.hpp) on its own: reachability and the pace of catch-up.
#include <catch2/catch.hpp>

#include "proto/peers.hpp"

using namespace parliament;

TEST_CASE("peers: reachable are those heard within the timeout, and oneself", "[peers]") {
  Peers p;
  p.heard(2, 100);
  p.heard(3, 95);
  p.heard(9, 100);  // not among the ids asked about
  CHECK(p.reachable({1, 2, 3}, 1, 105, 10) == std::vector<PriestId>{1, 2, 3});
  CHECK(p.reachable({1, 2, 3}, 1, 108, 10) == std::vector<PriestId>{1, 2});
}

TEST_CASE("peers: catch-up goes a chunk at a time, once the peer stopped growing",
          "[peers]") {
  Peers p;
  const uint64_t hb = 5, chunk = 10;
  p.says_len(2, 3);
  CHECK_FALSE(p.catch_up(2, 3, 0, hb, chunk));  // not behind
  CHECK_FALSE(p.catch_up(2, 50, 1, hb, chunk));  // behind, but just seen at this length
  CHECK_FALSE(p.catch_up(2, 50, 2, hb, chunk));
  auto c = p.catch_up(2, 50, 3, hb, chunk);  // stuck for two ticks: decrees 4..13
  REQUIRE(c);
  CHECK((c->from_no == 4 && c->upto_no == 13));
  CHECK_FALSE(p.catch_up(2, 50, 4, hb, chunk));  // sent; the peer has not moved yet
  p.says_len(2, 13);                              // it acknowledged the chunk
  CHECK_FALSE(p.catch_up(2, 50, 5, hb, chunk));   // growing: wait for it to stop
  c = p.catch_up(2, 50, 7, hb, chunk);
  REQUIRE(c);
  CHECK((c->from_no == 14 && c->upto_no == 23));
  // A chunk lost on the way: sent again after two heartbeats of silence.
  CHECK_FALSE(p.catch_up(2, 50, 8, hb, chunk));
  p.says_len(2, 13);  // still 13: the chunk never arrived
  CHECK_FALSE(p.catch_up(2, 50, 16, hb, chunk));
  c = p.catch_up(2, 50, 17, hb, chunk);
  REQUIRE(c);
  CHECK(c->from_no == 14);
  p.forget(2);  // a new life of that id
  CHECK(p.len(2) == 0);
}
