// ChangeUnderWay (proto/change_under_way.hpp) on its own: when a change's decree may begin
// and when the president gives up on the priest it teaches.
#include <catch2/catch.hpp>

#include "proto/change_under_way.hpp"

using namespace parliament;

namespace {
ChangeUnderWay adding(uint64_t since) {
  Change c;
  c.op = Change::Op::Add;
  c.priest.id = 6;
  c.priest.incarnation = 77;
  return ChangeUnderWay{c, {}, since, false};
}
}  // namespace

TEST_CASE("change under way: a new priest is taught the ledger before the decree begins",
          "[membership]") {
  ChangeUnderWay w = adding(100);
  CHECK(w.learning(6, 77));
  CHECK_FALSE(w.learning(6, 78));  // another life of that id
  CHECK_FALSE(w.closing(995, 1000, 10));  // never heard: proposals still pass
  w.heard = 105;
  CHECK_FALSE(w.closing(900, 1000, 10));
  CHECK(w.closing(995, 1000, 10));  // within a chunk: new proposals wait
  CHECK_FALSE(w.learner_ready(995, 1000));
  CHECK(w.learner_ready(1000, 1000));
  Change remove;
  remove.op = Change::Op::Remove;
  remove.priest.id = 3;
  ChangeUnderWay r{remove, {}, 100, false};
  CHECK((r.closing(0, 1000, 10) && r.learner_ready(0, 1000)));  // nothing to teach
}

TEST_CASE("change under way: a silent learner is given up after four election timeouts",
          "[membership]") {
  ChangeUnderWay w = adding(100);
  CHECK_FALSE(w.learner_lost(100 + 4 * 30 - 1, 30));
  CHECK(w.learner_lost(100 + 4 * 30, 30));  // never answered
  w.heard = 200;
  CHECK_FALSE(w.learner_lost(250, 30));  // answered within two timeouts
  CHECK(w.learner_lost(261, 30));
  w.begun = true;
  CHECK_FALSE(w.learner_lost(1000, 30));  // its decree is begun: it may pass regardless
}
