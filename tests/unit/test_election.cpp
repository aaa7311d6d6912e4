// Election (proto/election.hpp) on its own: the timer, the lease and the pre-ballot's count.
#include <catch2/catch.hpp>

#include "proto/election.hpp"

using namespace parliament;

TEST_CASE("election: due between one and two timeouts; hurried, never delayed", "[election]") {
  Election e;
  e.reset_timer(100, 10, 7);  // 100 + 10 + 7 % 11
  CHECK_FALSE(e.due(116));
  CHECK(e.due(117));
  e.reset_timer(100, 10, 99);  // 99 % 11 = 0: the earliest
  CHECK(e.deadline() == 110);
  e.hurry(105);
  CHECK(e.deadline() == 105);
  e.hurry(108);  // later than due: no change
  CHECK(e.deadline() == 105);
}

TEST_CASE("election: a lease runs until renewed no more; rounds only rise", "[election]") {
  Election e;
  e.renew_lease(50, 3);
  CHECK(e.leased(49));
  CHECK(e.lease_holder() == 3);
  CHECK_FALSE(e.leased(50));
  e.renew_lease(80, 4);
  e.end_lease();
  CHECK_FALSE(e.leased(60));
  e.saw_round(9);
  e.saw_round(4);
  CHECK(e.max_round() == 9);
}

TEST_CASE("election: a pre-ballot counts each priest that would promise once", "[election]") {
  Election e;
  CHECK(e.ask(Ballot{10, 2}, 40));
  CHECK(e.asking_since() == 40);
  CHECK(e.grants() == 1);  // its own
  CHECK(e.granted(3) == 2);
  CHECK(e.granted(3) == 2);
  CHECK_FALSE(e.ask(Ballot{11, 2}, 45));  // asking again, within the same outage
  CHECK(e.asking_since() == 40);          // which began at the first ask
  CHECK(e.grants() == 1);                 // a new ballot: the old yeses count for nothing
  e.stop_asking();
  CHECK_FALSE(e.asking());
  CHECK(e.ask(Ballot{12, 2}, 90));  // a new outage
  CHECK(e.asking_since() == 90);
  CHECK(e.granted(4) == 2);
  e.ask(Ballot{12, 2}, 95, true);  // the same ballot asked again a moment later: 4's yes stands
  CHECK(e.grants() == 2);
  e.ask(Ballot{13, 2}, 99, true);  // another ballot: it does not
  CHECK(e.grants() == 1);
}
