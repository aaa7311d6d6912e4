// The Priest state machine on its own: a few behaviours of the paper, each driven by hand
// (the simulation in tests/sim covers them under faults).
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <memory>

#include "proto/priest.hpp"

using namespace parliament;

namespace {

// Priests that hand each other their messages at once, in order; nothing is lost.
struct Chamber {
  std::map<PriestId, std::unique_ptr<Priest>> priests;
  std::map<PriestId, std::vector<Entry>> ledgers;
  std::vector<ClientReply> replies;
  std::deque<Message> wire;
  bool hold = false;  // keep messages on the wire instead of delivering them

  explicit Chamber(int n, std::map<PriestId, Restored> restored = {}) {
    std::vector<PriestId> ids;
    for (int i = 1; i <= n; ++i) ids.push_back(i);
    for (PriestId id : ids) {
      PriestOptions o;
      o.id = id;
      o.members = ids;
      o.seed = 7;
      priests[id] = std::make_unique<Priest>(o, restored[id]);
    }
  }
  void drain() {
    for (int guard = 0; guard < 100000; ++guard) {
      bool any = false;
      for (auto& [id, p] : priests) {
        Ready r = p->take_ready();
        if (r.empty()) continue;
        any = true;
        for (auto& e : r.passed) ledgers[id].push_back(e);
        for (auto& rep : r.replies) replies.push_back(rep);
        for (auto& m : r.messages) wire.push_back(m);
      }
      if (!hold && !wire.empty()) {
        Message m = wire.front();
        wire.pop_front();
        priests[m.to]->step(m);
        any = true;
      }
      if (!any) return;
    }
    FAIL("the chamber never went quiet");
  }
  void tick(PriestId only = 0) {
    for (auto& [id, p] : priests)
      if (!only || id == only) p->tick();
    drain();
  }
  std::optional<PriestId> president() {
    for (auto& [id, p] : priests)
      if (p->role() == Role::President) return id;
    return std::nullopt;
  }
  PriestId elect(PriestId who) {
    for (int t = 0; t < 1000 && !president(); ++t) tick(who);
    REQUIRE(president() == who);
    return who;
  }
  void propose(PriestId at, uint64_t token, uint64_t client, uint64_t request, std::string text) {
    priests[at]->propose(Proposal{token, Decree{false, client, request, std::move(text), {}}});
    drain();
  }
};

}  // namespace

TEST_CASE("a candidate becomes president and passes a decree every priest records", "[priest]") {
  Chamber c(3);
  PriestId p = c.elect(2);
  c.propose(p, 1, 9, 1, "The olive oil ration is doubled");
  REQUIRE(c.replies.size() == 1);
  CHECK(c.replies[0].decree_no == 1);
  CHECK(c.replies[0].error.empty());
  for (int t = 0; t < 10; ++t) c.tick();  // the followers learn it from the next message
  for (PriestId id : {1, 2, 3}) {
    REQUIRE(c.ledgers[id].size() == 1);
    CHECK(c.ledgers[id][0].decree.text == "The olive oil ration is doubled");
    CHECK(c.ledgers[id][0].ballot == c.priests[p]->next_bal());  // the ballot that proposed it
  }
}

TEST_CASE("B3: a new president re-proposes the decree of the highest-ballot vote", "[priest]") {
  std::map<PriestId, Restored> restored;
  Decree older{false, 5, 1, "older", {1, 1}}, newer{false, 6, 1, "newer", {2, 3}};
  // The candidate itself voted for the older decree, priest 2 for the newer; the first
  // two last votes (the candidate's and priest 2's) make the quorum.
  restored[1].next_bal = {1, 1};
  restored[1].votes[1] = Entry{1, {1, 1}, older};
  restored[2].next_bal = {2, 3};
  restored[2].votes[1] = Entry{1, {2, 3}, newer};
  Chamber c(3, restored);
  c.elect(1);
  for (int t = 0; t < 10; ++t) c.tick();
  for (PriestId id : {1, 2, 3}) {
    REQUIRE(c.ledgers[id].size() == 1);
    CHECK(c.ledgers[id][0].decree == newer);
  }
  // Its ballot is above every ballot it heard of (B1).
  CHECK(c.priests[1]->next_bal() > Ballot{2, 3});
}

TEST_CASE("a gap no priest voted in is filled with an olive-day decree", "[priest]") {
  std::map<PriestId, Restored> restored;
  restored[2].next_bal = {1, 2};
  restored[2].votes[2] = Entry{2, {1, 2}, Decree{false, 5, 1, "second", {1, 2}}};
  Chamber c(3, restored);
  c.elect(1);
  for (int t = 0; t < 10; ++t) c.tick();
  REQUIRE(c.ledgers[3].size() == 2);
  CHECK(c.ledgers[3][0].decree.olive_day);
  CHECK(c.ledgers[3][1].decree.text == "second");
}

TEST_CASE("a retry of a passed request answers its first number and never passes twice",
          "[priest]") {
  Chamber c(3);
  PriestId p = c.elect(3);
  c.propose(p, 1, 9, 1, "once");
  c.propose(p, 2, 9, 1, "once");  // the client did not hear, and asks again
  c.propose(1, 3, 9, 1, "once");  // through a follower, which forwards it
  REQUIRE(c.replies.size() == 3);
  for (auto& r : c.replies) CHECK(r.decree_no == 1);
  for (int t = 0; t < 10; ++t) c.tick();
  CHECK(c.ledgers[1].size() == 1);
}

TEST_CASE("vote no: the president steps aside, tells the priests and its waiting client",
          "[priest]") {
  Chamber c(3);
  PriestId p = c.elect(1);
  c.hold = true;  // the begin ballot never arrives
  c.propose(p, 1, 9, 1, "in flight");
  c.wire.clear();
  Message no;
  no.kind = Kind::VoteNo;
  no.from = 2;
  no.to = p;
  no.ballot = c.priests[p]->next_bal();
  no.promised = Ballot{no.ballot.round + 5, 3};
  c.priests[p]->step(no);
  c.drain();
  CHECK(c.priests[p]->role() == Role::Follower);
  REQUIRE(c.replies.size() == 1);
  CHECK(c.replies[0].decree_no == 0);
  CHECK(c.replies[0].outcome_unknown);  // it was begun: it may still pass
  int failed = 0;
  for (auto& m : c.wire) failed += m.kind == Kind::Failed;
  CHECK(failed == 2);  // code 4 to both other priests
  // Its next candidacy starts above the ballot it was refused for.
  c.wire.clear();
  c.hold = false;
  for (int t = 0; t < 1000 && c.priests[p]->role() != Role::Candidate; ++t) c.priests[p]->tick();
  CHECK(c.priests[p]->next_bal().round > no.promised.round);
}
