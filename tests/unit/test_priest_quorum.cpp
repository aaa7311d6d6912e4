// The ballot's quorum (proto/tallies.hpp): a president asks only itself and the first priests
// whose yes passed a decree to vote, tells the rest the decrees, and asks everyone once the
// quorum leaves a begin ballot without a majority for two ticks. Driven by hand in Chambers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "proto/priest.hpp"
#include "tests/common/chamber.hpp"

using namespace parliament;
using parliament::testing::Chamber;

namespace {

// Who each begin ballot of decree `n` asked to vote and who it only told, to whom one went
// again (marked spare: a host may drop it behind a backlog), and who voted yes for it, as the
// messages cross the wire.
struct Seen {
  std::set<PriestId> asked, told, again, voted;
};

void watch(Chamber& c, uint64_t n, Seen& s, std::set<PriestId> silent = {}) {
  c.lose = [&c, n, &s, silent](const Message& m) {
    if (silent.count(m.to) || silent.count(m.from)) return true;
    bool holds_n = false;
    for (const auto& e : m.entries) holds_n = holds_n || e.decree_no == n;
    if (m.kind == Kind::BeginBallot && holds_n) (m.quorum ? s.asked : s.told).insert(m.to);
    if (m.kind == Kind::BeginBallot && holds_n && m.spare) s.again.insert(m.to);
    if (m.kind == Kind::Voted && m.decree_no <= n && n <= m.last_no) s.voted.insert(m.from);
    return false;
  };
}

// Priest 1 elected, decree 1 passed by everyone, decree 2 by the quorum: who was asked for it.
void first_two(Chamber& c, Seen& second) {
  c.elect(1);
  c.propose(1, 1, 9, 1, "first");
  watch(c, 2, second);
  c.propose(1, 2, 9, 2, "second");
}

}  // namespace

TEST_CASE("the ballot's quorum: a majority is asked to vote, the rest are told and record",
          "[priest][quorum]") {
  Chamber c(5);
  c.elect(1);
  Seen first;
  watch(c, 1, first);
  c.propose(1, 1, 9, 1, "first");
  REQUIRE(c.reply(1));
  // No decree has passed in this ballot yet: everyone is asked.
  CHECK(first.asked == std::set<PriestId>{1, 2, 3, 4, 5});
  CHECK(first.told.empty());

  Seen second;
  watch(c, 2, second);
  c.propose(1, 2, 9, 2, "second");
  REQUIRE(c.reply(2));
  CHECK(c.reply(2)->error.empty());
  // The voters whose yes passed the first decree, the president among them: a majority.
  CHECK(second.asked.size() == 3);
  CHECK(second.asked.count(1) == 1);
  CHECK(second.told.size() == 2);
  CHECK(second.voted == second.asked);  // the told vote nothing (and so write nothing)
  CHECK(first.again.empty());           // the first begin ballots are not spare, the told's neither
  CHECK(second.again.empty());
  // Before the successful ballot that tells them 2 passed: a vote at 2 where asked, none
  // where told.
  for (PriestId id = 2; id <= 5; ++id) {
    bool voted_2 = false;
    for (const Entry& v : c.priests[id]->votes()) voted_2 = voted_2 || v.decree_no == 2;
    CHECK(voted_2 == (second.asked.count(id) == 1));
  }
  for (int t = 0; t < 10; ++t) c.tick();
  for (PriestId id = 1; id <= 5; ++id) {
    INFO("priest " << id);
    REQUIRE(c.ledgers[id].size() == 2);
    CHECK(c.ledgers[id][1].decree.text == "second");
  }
}

TEST_CASE("the ballot's quorum: a quorum that does not answer within two ticks, all are asked",
          "[priest][quorum]") {
  Chamber c(5);
  Seen second;
  first_two(c, second);
  REQUIRE(second.asked.size() == 3);
  PriestId quiet = 0;  // a follower of the quorum, which now hears and says nothing
  for (PriestId id : second.asked)
    if (id != 1) quiet = id;
  Seen third;
  watch(c, 3, third, {quiet});
  c.propose(1, 3, 9, 3, "third");
  CHECK_FALSE(c.reply(3));  // the president and one follower: no majority
  CHECK(third.told.size() == 2);
  c.tick();
  c.tick();
  REQUIRE(c.reply(3));
  CHECK(c.reply(3)->error.empty());
  for (PriestId id : third.told) CHECK(third.asked.count(id) == 1);  // asked after all
  // That first ask of priests that answer is not spare: the ballot needs their votes.
  for (PriestId id : third.told) CHECK(third.again.count(id) == 0);
  // The next ballot asks the priests that passed it, the quiet one not among them.
  Seen fourth;
  watch(c, 4, fourth, {quiet});
  c.propose(1, 4, 9, 4, "fourth");
  REQUIRE(c.reply(4));
  CHECK(fourth.asked.size() == 3);
  CHECK(fourth.asked.count(quiet) == 0);
}

TEST_CASE("a priest told a decree records it only from a successful ballot of the same ballot",
          "[priest][quorum]") {
  Chamber c(3);
  Priest& p = *c.priests[3];
  // To priest 3, from b's president: a begin ballot telling decree 1 (or a successful ballot).
  auto from_president = [](Kind kind, const Ballot& b, const std::string& told) {
    Message m;
    m.kind = kind;
    m.from = b.priest;
    m.to = 3;
    m.ballot = b;
    m.quorum = false;
    if (kind == Kind::BeginBallot) m.entries = {Entry{1, b, Decree{false, 9, 1, told, b}}};
    if (kind == Kind::Success) m.commit_no = 1;
    return m;
  };
  p.step(from_president(Kind::BeginBallot, {1, 1}, "told"));
  Ready r = p.take_ready();
  CHECK(r.votes.empty());                                   // nothing to write
  for (auto& m : r.messages) CHECK(m.kind != Kind::Voted);  // and to send
  // A successful ballot of another ballot says nothing about what it was told.
  const Message other = from_president(Kind::Success, {2, 2}, "");
  p.step(other);
  CHECK(p.take_ready().passed.empty());
  CHECK(p.passed_len() == 0);
  // Ballot 2.2 tells it the same number; then 1.1's president can no longer say it passed
  // (priest 3 promised 2.2), and 2.2's can.
  p.step(from_president(Kind::BeginBallot, {2, 2}, "told again"));
  (void)p.take_ready();
  p.step(from_president(Kind::Success, {1, 1}, ""));
  CHECK(p.take_ready().passed.empty());
  p.step(other);
  Ready done = p.take_ready();
  REQUIRE(done.passed.size() == 1);
  CHECK(done.passed[0].decree.text == "told again");
}

// A told priest whose begin ballot was lost holds a gap: it learns the decree from the
// president by catch-up once its acknowledgement of a heartbeat says how far it has got.
TEST_CASE("a priest that lost the begin ballot it was told still learns the decree",
          "[priest][quorum]") {
  Chamber c(5);
  Seen second;
  first_two(c, second);
  REQUIRE(second.told.size() == 2);
  const PriestId lost = *second.told.begin();
  c.lose = [&](const Message& m) { return m.kind == Kind::BeginBallot && m.to == lost; };
  c.propose(1, 3, 9, 3, "third");
  REQUIRE(c.reply(3));
  c.lose = nullptr;
  for (int t = 0; t < 40 && c.ledgers[lost].size() < 3; ++t) c.tick();
  REQUIRE(c.ledgers[lost].size() == 3);
  CHECK(c.ledgers[lost][2].decree.text == "third");
}

// The network may deliver a message twice: a told begin ballot heard again changes nothing (one
// decree per number in a ballot), and its decree is recorded once, from the successful ballot.
TEST_CASE("a told begin ballot delivered twice is recorded once", "[priest][quorum]") {
  Chamber c(3);
  Priest& p = *c.priests[3];
  const Ballot b{1, 1};
  Message bb;
  bb.kind = Kind::BeginBallot;
  bb.from = 1;
  bb.to = 3;
  bb.ballot = b;
  bb.quorum = false;
  bb.entries = {Entry{1, b, Decree{false, 9, 1, "told", b}}};
  for (int i = 0; i < 2; ++i) {
    p.step(bb);
    Ready r = p.take_ready();
    CHECK(r.votes.empty());
    for (auto& m : r.messages) CHECK(m.kind != Kind::Voted);
  }
  Message s;
  s.kind = Kind::Success;
  s.from = 1;
  s.to = 3;
  s.ballot = b;
  s.commit_no = 1;
  p.step(s);
  Ready done = p.take_ready();
  REQUIRE(done.passed.size() == 1);
  CHECK(done.passed[0].decree.text == "told");
  p.step(bb);  // late, after it passed
  p.step(s);
  CHECK(p.take_ready().passed.empty());
  CHECK(p.passed_len() == 1);
}

// A priest from before the field reads every begin ballot as asking, and votes: a president
// whose followers are all of that version counts the votes it did not ask for like any other,
// keeps telling two of them only, and every ledger still agrees.
TEST_CASE("priests that vote when only told (an older version) change nothing that passes",
          "[priest][quorum]") {
  Chamber c(5);
  std::map<uint64_t, std::set<PriestId>> told;  // by decree: whom the president only told
  c.alter = [&told](Message& m) {
    if (m.kind != Kind::BeginBallot) return;
    if (!m.quorum)
      for (const auto& e : m.entries) told[e.decree_no].insert(m.to);
    m.quorum = true;  // as an older priest reads it
  };
  Seen later;
  c.elect(1);
  for (uint64_t r = 1; r <= 6; ++r) {
    if (r == 4) watch(c, 4, later);
    c.propose(1, r, 9, r, "decree " + std::to_string(r));
    REQUIRE(c.reply(r));
    CHECK(c.reply(r)->error.empty());
    CHECK(c.reply(r)->decree_no == r);
  }
  for (uint64_t n = 4; n <= 6; ++n) {
    INFO("decree " << n);
    CHECK(told[n].size() == 2);  // the quorum stayed three, whoever else voted
    CHECK(told[n].count(1) == 0);
  }
  CHECK(later.voted.size() == 5);  // the told voted too, and it passed all the same
  for (int t = 0; t < 10; ++t) c.tick();
  for (PriestId id = 1; id <= 5; ++id) {
    INFO("priest " << id);
    REQUIRE(c.ledgers[id].size() == 6);
    for (uint64_t n = 1; n <= 6; ++n)
      CHECK(c.ledgers[id][n - 1].decree.text == "decree " + std::to_string(n));
  }
}

// Priest 5 falls silent past an election timeout; then a follower of the ballot's quorum does
// too, so the president asks everyone for decree 3 and forgets its quorum. What it sends 5 is
// never a told begin ballot and always spare; its first ask of the told priest that answers
// is not spare (the ballot needs that vote).
TEST_CASE("a priest not heard within an election timeout is told nothing, and asked as spare",
          "[priest][quorum]") {
  Chamber c(5);
  c.elect(1);
  c.propose(1, 1, 9, 1, "first");
  REQUIRE(c.reply(1));
  std::set<PriestId> silent{5};
  std::vector<Message> sent;  // every begin ballot the president sent, as it left
  c.lose = [&silent, &sent](const Message& m) {
    if (m.kind == Kind::BeginBallot) sent.push_back(m);
    return silent.count(m.to) || silent.count(m.from);
  };
  for (int t = 0; t < 40; ++t) c.tick();  // past the election timeout (30 ticks)
  sent.clear();
  c.propose(1, 2, 9, 2, "second");
  REQUIRE(c.reply(2));
  PriestId quiet = 0, told = 0;  // a follower of decree 2's quorum; a follower only told it
  for (const Message& m : sent)
    if (m.to != 1 && m.to != 5) (m.quorum ? quiet : told) = m.to;
  REQUIRE(quiet != 0);
  REQUIRE(told != 0);
  silent.insert(quiet);
  c.propose(1, 3, 9, 3, "third");
  for (int t = 0; t < 3 && !c.reply(3); ++t) c.tick();  // the quorum's two ticks, then all
  REQUIRE(c.reply(3));
  c.propose(1, 4, 9, 4, "fourth");
  REQUIRE(c.reply(4));
  bool asked_told = false;
  for (const Message& m : sent) {
    INFO("begin ballot to " << m.to << " of decrees " << m.entries.front().decree_no << " - "
                            << m.entries.back().decree_no);
    if (m.to == 5) {
      CHECK(m.quorum);  // never only told
      CHECK(m.spare);   // asked only where the host has room
    }
    if (m.to == told && m.quorum && m.entries.front().decree_no <= 3 &&
        3 <= m.entries.back().decree_no && !asked_told) {
      asked_told = true;
      CHECK_FALSE(m.spare);  // the first ask of a priest that answers
    }
  }
  CHECK(asked_told);
  CHECK(std::count_if(sent.begin(), sent.end(), [](const Message& m) { return m.to == 5; }) > 0);
}
