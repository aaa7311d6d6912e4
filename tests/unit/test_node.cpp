// The host's rules about a priest's own records (proto/node.hpp), as paxos-priest, the
// simulator and the explorer all run them: membership.json against the ledger at start, who
// may be bootstrapped or joined, and a join that must not be recorded.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "proto/node.hpp"

using namespace parliament;

namespace {

// A disk whose every write is durable at once.
struct QuickDisk : Disk {
  std::vector<Entry> ledger;
  Status write_promise(const Ballot&) override { return ok_status(); }
  Status write_votes(const std::vector<Entry>&) override { return ok_status(); }
  std::optional<Status> sync_votes() override { return ok_status(); }
  Status append_ledger(const std::vector<Entry>& passed) override {
    ledger.insert(ledger.end(), passed.begin(), passed.end());
    return ok_status();
  }
  Result<std::vector<Entry>> read_ledger(uint64_t from_no, uint64_t upto_no) override {
    std::vector<Entry> out;
    for (auto& e : ledger)
      if (from_no <= e.decree_no && e.decree_no <= upto_no) out.push_back(e);
    return out;
  }
};

// The host: what the node recorded and said, in order.
struct Recorder : NodeHost, Records {
  std::vector<std::string> said;
  std::optional<Membership> saved;
  std::vector<Message> sent;
  std::vector<ClientReply> replies;
  bool links_full = false;  // every send fails, as on a link whose queue is full
  bool send(const Message& m) override {
    if (links_full) return false;
    sent.push_back(m);
    return true;
  }
  void reply(const ClientReply& r) override { replies.push_back(r); }
  void note(const std::string&) override {}
  void retire(const std::string& why) override { said.push_back("retire: " + why); }
  void halt(const std::string& why) override { said.push_back("halt: " + why); }
  Status sync_ledger() override {
    said.push_back("sync ledger");
    return ok_status();
  }
  Status save_membership(const Membership& m, bool first) override {
    said.push_back(std::string(first ? "first " : "") + "membership " + std::to_string(m.decree_no));
    saved = m;
    return ok_status();
  }
};

PriestAddress priest(PriestId id, uint64_t incarnation) {
  return PriestAddress{id, "h", static_cast<uint16_t>(7100 + id), "h", incarnation};
}

// Priests 1..3 (incarnations 0x11, 0x22, 0x33) with `more` added, set by decree `decree_no`.
Membership members(uint64_t decree_no, std::vector<PriestAddress> more = {}) {
  Membership m{decree_no, {priest(1, 0x11), priest(2, 0x22), priest(3, 0x33)}};
  for (auto& p : more) m.priests.push_back(p);
  return m;
}

// A ledger of `len` decrees whose decree `membership_no` (if any) sets `m` by `change`.
Restored ledger_of(uint64_t len, uint64_t membership_no = 0, const Membership* m = nullptr,
                   const Change& change = {}) {
  Recovery files;
  for (uint64_t n = 1; n <= len; ++n) {
    Entry e;
    e.decree_no = n;
    e.ballot = Ballot{1, 1};
    if (n == membership_no) {
      e.decree.membership = true;
      e.decree.text = membership_decree_text(*m, change);
    } else {
      e.decree.text = "decree " + std::to_string(n);
    }
    files.passed(e);
  }
  return files.done();
}

// A successful ballot of priest 2's ballot 1.2 to priest 1, saying nothing passed: priest 2
// presides, and holds none of the ledger.
Message heartbeat_of_2() {
  Message m;
  m.kind = Kind::Success;
  m.from = 2;
  m.incarnation = 0x22;
  m.to = 1;
  m.ballot = Ballot{1, 2};
  return m;
}

struct Fixture {
  QuickDisk disk;
  Recorder host;
  Node node;
  Fixture(PriestId id, uint64_t incarnation) : node(id, incarnation, PriestOptions{}, disk, host, host) {}
};

}  // namespace

TEST_CASE("node: the ledger's later membership decree wins over membership.json at start", "[node]") {
  Membership removed = members(5);
  removed.priests.erase(removed.priests.begin() + 2);  // priest 3 removed by decree 5
  Fixture f(3, 0x33);
  Change remove3{Change::Op::Remove, priest(3, 0x33), false};
  REQUIRE(f.node.restore(ledger_of(6, 5, &removed, remove3), members(0)).ok());
  REQUIRE(f.node.recorded());
  CHECK(f.node.recorded()->decree_no == 5);  // membership.json caught up with the ledger
  CHECK(f.host.said.at(0) == "membership 5");
  // A crash came between the ledger removing this life and membership.json saying so: it
  // retires at start.
  REQUIRE(f.host.said.size() == 2);
  CHECK(f.host.said[1].find("retire: its ledger holds membership decree 5") == 0);
}

TEST_CASE("node: a voter whose membership.json is ahead of its ledger refuses to start", "[node]") {
  Fixture f(2, 0x22);
  auto s = f.node.restore(ledger_of(3), members(7));
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().find("membership.json was set by decree 7, but ledger.csv holds only 3") == 0);
  // A learner holds the membership of a decree it has not learned yet: it starts.
  Fixture learner(4, 0x44);
  CHECK(learner.node.restore(ledger_of(3), members(7)).ok());
}

TEST_CASE("node: bootstrap names this life, once, on a blank disk", "[node]") {
  Fixture wrong(1, 0x99);
  REQUIRE(wrong.node.restore(ledger_of(0), std::nullopt).ok());
  auto refused = wrong.node.bootstrap(members(0));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("replace") != std::string::npos);
  CHECK_FALSE(wrong.host.saved);

  Fixture f(1, 0x11);
  REQUIRE(f.node.restore(ledger_of(0), std::nullopt).ok());
  auto done = f.node.bootstrap(members(0));
  REQUIRE(done.ok());
  CHECK_FALSE(*done);
  CHECK(f.host.said.at(0) == "first membership 0");
  CHECK(f.node.running());
  auto again = f.node.bootstrap(members(0));
  REQUIRE(again.ok());
  CHECK(*again);  // already
  CHECK_FALSE(f.node.bootstrap(members(0, {priest(4, 0x44)})).ok());  // another membership

  Fixture begun(1, 0x11);
  REQUIRE(begun.node.restore(ledger_of(2), std::nullopt).ok());
  CHECK_FALSE(begun.node.bootstrap(members(0)).ok());
}

// Found by the simulator (seed 15) once it ran this rule: the god retried an add whose
// decree had passed, joined the learner to the membership naming it, and the learner wrote it
// to membership.json before its ledger held that decree; after a crash it refused to start,
// as if its ledger had lost decrees.
TEST_CASE("node: a join naming this life as a voter is learned, not recorded", "[node]") {
  Fixture f(4, 0x44);
  REQUIRE(f.node.restore(ledger_of(0), std::nullopt).ok());
  auto joined = f.node.join(members(2));
  REQUIRE(joined.ok());
  CHECK(f.host.said.at(0) == "first membership 2");
  CHECK(f.node.join(members(2)).ok());
  CHECK(*f.node.join(members(1)));  // an older one: nothing to do
  auto named = f.node.join(members(9, {priest(4, 0x44)}));
  REQUIRE(named.ok());
  CHECK_FALSE(*named);
  CHECK(f.host.saved->decree_no == 2);  // membership.json still the learner's
  CHECK(f.node.priest().membership().decree_no == 9);  // the priest learns from its members
  // After a crash with 8 decrees learned, it starts.
  Fixture after(4, 0x44);
  CHECK(after.node.restore(ledger_of(8), *f.host.saved).ok());
}

// The membership a join named this life in is recorded once the learner's own ledger holds
// the decree that set it, so a later decree removing this life still retires it.
TEST_CASE("node: a learned membership is recorded when the ledger reaches it; a removal then retires",
          "[node]") {
  Fixture f(4, 0x44);
  REQUIRE(f.node.restore(ledger_of(0), std::nullopt).ok());
  REQUIRE(f.node.join(members(2)).ok());
  Membership with4 = members(9, {priest(4, 0x44)});
  REQUIRE(f.node.join(with4).ok());
  REQUIRE(f.host.saved->decree_no == 2);
  Change add4{Change::Op::Add, priest(4, 0x44), false};
  Message m;  // priest 1 teaches decrees 1..9, the 9th the one that added priest 4
  m.kind = Kind::CatchUp;
  m.from = 1;
  m.incarnation = 0x11;
  m.to = 4;
  m.passed_len = 9;
  for (uint64_t n = 1; n <= 9; ++n) {
    Decree d{false, n == 9 ? 0u : 7u, n == 9 ? 0u : n,
             n == 9 ? membership_decree_text(with4, add4) : "decree " + std::to_string(n), {}};
    d.membership = n == 9;
    d.origin = Ballot{1, 1};
    m.entries.push_back(Entry{n, Ballot{1, 1}, d});
  }
  REQUIRE(f.node.priest().step(m).empty());
  f.node.flush();
  REQUIRE(f.disk.ledger.size() == 9);
  CHECK(f.host.saved->decree_no == 9);
  CHECK(f.node.voter());
  // Decree 10 removes priest 4: this life retires.
  Membership without4 = members(10);
  Change remove4{Change::Op::Remove, priest(4, 0x44), false};
  m.passed_len = 10;
  m.entries = {Entry{10, Ballot{1, 1}, Decree{false, 0, 0, membership_decree_text(without4, remove4), {}}}};
  m.entries[0].decree.membership = true;
  m.entries[0].decree.origin = Ballot{1, 1};
  REQUIRE(f.node.priest().step(m).empty());
  f.node.flush();
  bool retired = false;
  for (auto& s : f.host.said) retired |= s.rfind("retire: its ledger holds membership decree 10", 0) == 0;
  CHECK(retired);
}

// Catch-up is what a peer can do without while its link is backed up: the clerk marks it
// spare, so the host may leave it out behind a backlog (Message::spare); the priest offers
// it again while the peer's ledger does not grow (Peers::catch_up).
TEST_CASE("node: the clerk's catch-up is spare", "[node]") {
  Fixture f(1, 0x11);
  Restored files = ledger_of(3);
  for (uint64_t n = 1; n <= 3; ++n)
    f.disk.ledger.push_back(
        Entry{n, Ballot{1, 1}, Decree{false, 0, 0, "decree " + std::to_string(n)}});
  REQUIRE(f.node.restore(std::move(files), members(0)).ok());
  f.node.begin();
  f.node.flush();
  f.host.sent.clear();
  // Priest 2 speaks holding none of the ledger, and again two ticks later (a peer's length
  // must hold for two ticks before it is sent what it lacks).
  const Message m = heartbeat_of_2();
  REQUIRE(f.node.priest().step(m).empty());
  f.node.priest().tick();
  f.node.priest().tick();
  REQUIRE(f.node.priest().step(m).empty());
  f.node.flush();
  const Message* catch_up = nullptr;
  for (auto& s : f.host.sent)
    if (s.kind == Kind::CatchUp && s.to == 2) catch_up = &s;
  REQUIRE(catch_up);
  CHECK(catch_up->spare);
  REQUIRE(catch_up->entries.size() == 3);
  CHECK(catch_up->entries.back().decree_no == 3);
  CHECK(catch_up->passed_len == 3);
}

// A follower's forward that its host cannot queue (the link to the president is full, or
// gone) is answered at once, so that its client does not wait for an answer that cannot come.
TEST_CASE("node: a forward the host cannot send is answered at once", "[node]") {
  Fixture f(1, 0x11);
  REQUIRE(f.node.restore(ledger_of(0), members(0)).ok());
  f.node.begin();
  f.node.flush();
  REQUIRE(f.node.priest().step(heartbeat_of_2()).empty());  // priest 2 presides
  f.node.flush();
  f.host.links_full = true;
  f.node.priest().propose(Proposal{77, Decree{false, 5, 1, "wine for everyone"}});
  f.node.flush();
  REQUIRE(f.host.replies.size() == 1);
  CHECK(f.host.replies[0].token == 77);
  CHECK(f.host.replies[0].code == Code::NoPresident);
  CHECK(f.host.replies[0].error.find("cannot reach president 2") != std::string::npos);
}
