// The parliament's health judged from a status report (client/lib/health.hpp), rule by rule.
#include <catch2/catch.hpp>

#include "client/lib/health.hpp"

using namespace parliament;
using namespace parliament::client;

namespace {

// Three members, priest 1 president hearing everyone, all answering.
Report healthy() {
  Report r;
  r.membership = Members{4, 2, {{1, "a:1", "i1"}, {2, "a:2", "i2"}, {3, "a:3", "i3"}}};
  for (uint64_t id = 1; id <= 3; ++id) {
    PriestState s;
    s.id = id;
    s.address = "a:" + std::to_string(id);
    s.member = true;
    s.role = id == 1 ? "president" : "follower";
    s.president = 1;
    s.incarnation = "i" + std::to_string(id);
    s.reachable = {1, 2, 3};
    s.bootstrapped = s.voter = true;
    r.priests.push_back(s);
  }
  return r;
}

bool names(const Health& h, const std::string& what) {
  for (auto& p : h.problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("health: every member answers and follows a president that hears a majority",
          "[health]") {
  auto h = judge_health(healthy());
  CHECK(h.healthy);
  CHECK(h.president == uint64_t(1));
  CHECK(h.members == std::vector<uint64_t>{1, 2, 3});
  CHECK(h.problems.empty());
}

TEST_CASE("health: each fault is named", "[health]") {
  auto r = healthy();
  r.priests[2].error = Status(Code::Unreachable, "connection refused");
  auto h = judge_health(r);
  CHECK_FALSE(h.healthy);
  CHECK(names(h, "priest 3 (a:3) did not answer: connection refused"));

  r = healthy();
  r.priests[1].halted = "ledger.csv: No space left on device";
  CHECK(names(judge_health(r), "priest 2 (a:2) has halted"));

  r = healthy();
  r.priests[1].incarnation = "i9";
  CHECK(names(judge_health(r), "answers as incarnation i9"));

  r = healthy();
  r.priests[2].president = 2;  // two presidents named
  CHECK(names(judge_health(r), "different presidents: 1, 2"));

  r = healthy();
  for (auto& s : r.priests) s.president.reset(), s.role = "follower";
  h = judge_health(r);
  CHECK(names(h, "no president"));
  CHECK_FALSE(h.president);

  r = healthy();
  r.priests[0].reachable = {1};  // the president hears only itself: 1 of 3, quorum 2
  CHECK(names(judge_health(r), "president 1 hears 1 of 3 members (quorum 2)"));

  r = healthy();
  r.membership.reset();
  CHECK(names(judge_health(r), "no priest answered with the membership"));
}

TEST_CASE("health of one priest: only its own faults and its president's", "[health]") {
  // Priest 3 is down: priests 1 and 2 are healthy on their own, priest 3 is not.
  auto r = healthy();
  r.priests[2].error = Status(Code::Unreachable, "connection refused");
  CHECK(judge_priest_health(r, 1).healthy);
  auto h = judge_priest_health(r, 2);
  CHECK(h.healthy);
  CHECK(h.president == uint64_t(1));
  CHECK(h.members == std::vector<uint64_t>{2});
  CHECK(names(judge_priest_health(r, 3), "priest 3 (a:3) did not answer"));

  // Priest 2 cut off: it follows no president.
  r = healthy();
  r.priests[1].president.reset();
  CHECK(names(judge_priest_health(r, 2), "priest 2 follows no president"));
  CHECK(judge_priest_health(r, 3).healthy);

  // Its president silent, not president, or hearing too few.
  r = healthy();
  r.priests[0].error = Status(Code::Unreachable, "timed out");
  CHECK(names(judge_priest_health(r, 2), "its president, priest 1, did not answer"));
  r = healthy();
  r.priests[0].role = "follower";
  CHECK(names(judge_priest_health(r, 2), "priest 1, which priest 2 follows, does not say"));
  r = healthy();
  r.priests[0].reachable = {1, 2};  // a majority, but not priest 3 (its sends are lost)
  CHECK(names(judge_priest_health(r, 3), "president 1 does not hear priest 3"));
  CHECK(judge_priest_health(r, 2).healthy);
  r = healthy();
  r.priests[0].reachable = {1};
  CHECK(names(judge_priest_health(r, 1), "president 1 hears 1 of 3 members (quorum 2)"));

  // Not a member, halted, or no membership at all.
  CHECK(names(judge_priest_health(healthy(), 9), "priest 9 is not a member"));
  r = healthy();
  r.priests[1].halted = "disk full";
  CHECK(names(judge_priest_health(r, 2), "has halted"));
  r = healthy();
  r.membership.reset();
  CHECK(names(judge_priest_health(r, 1), "no priest answered with the membership"));
}
