// Chamber: priests that hand each other their messages at once, in order, driven by hand
// (the unit tests of the Priest state machine). The host's job is done here in its simplest
// form: a Ready's passed decrees go to an in-memory ledger, catch-up is read from it.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "proto/priest.hpp"

namespace parliament::testing {

// Priests that hand each other their messages at once, in order; nothing is lost.
struct Chamber {
  std::map<PriestId, std::unique_ptr<Priest>> priests;
  std::map<PriestId, std::vector<Entry>> ledgers;
  std::vector<ClientReply> replies;
  std::map<PriestId, std::vector<Event>> events;
  std::deque<Message> wire;
  bool hold = false;  // keep messages on the wire instead of delivering them
  std::function<bool(const Message&)> lose;  // messages it returns true for are lost
  // Rewrites each message before it is delivered (and before lose sees it).
  std::function<void(Message&)> alter;

 private:
  std::vector<PriestId> ids_;
  bool incarnations_ = false;
  std::function<void(PriestOptions&)> tweak_;

 public:
  // With incarnations: priest i is incarnation 100 * i + 1, named so in the membership.
  Membership membership;

  explicit Chamber(int n, std::map<PriestId, Restored> restored = {}, bool incarnations = false,
                   std::function<void(PriestOptions&)> tweak = nullptr)
      : incarnations_(incarnations), tweak_(std::move(tweak)) {
    for (int i = 1; i <= n; ++i) ids_.push_back(i);
    for (PriestId id : ids_)
      membership.priests.push_back(PriestAddress{id, "h", static_cast<uint16_t>(7000 + id), "h",
                                                 incarnations ? 100u * id + 1 : 0});
    for (PriestId id : ids_) restart(id, restored[id]);
  }
  // Starts priest `id` (again) from what its disk kept: a crash and a new start of the same
  // life, with the options it was made with.
  void restart(PriestId id, Restored disk) {
    PriestOptions o;
    o.id = id;
    o.members = ids_;
    if (incarnations_) {
      o.membership = membership;
      o.incarnation = 100u * id + 1;
    }
    o.seed = 7;
    if (tweak_) tweak_(o);
    priests[id] = std::make_unique<Priest>(o, std::move(disk));
  }
  // Starts priest `id` blank, as incarnation `incarnation`, learning the membership `m`
  // (what paxos-god's join gives it). Replaces whatever ran under that id (a lost disk).
  void start_blank(PriestId id, uint64_t incarnation, const Membership& m) {
    PriestOptions o;
    o.id = id;
    o.incarnation = incarnation;
    o.membership = m;
    o.seed = 7;
    priests[id] = std::make_unique<Priest>(o, Restored{});
    ledgers[id].clear();
  }
  // The god's change, asked of priest `at`; the token's reply says when it passed.
  void change(PriestId at, uint64_t token, Change::Op op, PriestId id, uint64_t incarnation = 0) {
    Change ch;
    ch.op = op;
    ch.priest = PriestAddress{id, "h", static_cast<uint16_t>(7000 + id), "h", incarnation};
    priests[at]->propose_change(token, ch);
    drain();
  }
  const ClientReply* reply(uint64_t token) const {
    for (auto& r : replies)
      if (r.token == token) return &r;
    return nullptr;
  }
  void drain() {
    for (int guard = 0; guard < 100000; ++guard) {
      bool any = false;
      for (auto& [id, p] : priests) {
        Ready r = p->take_ready();
        if (r.empty()) continue;
        any = true;
        if (std::getenv("CHAMBER_NOTES"))
          for (auto& n : r.notes) std::fprintf(stderr, "[%u] %s\n", id, n.c_str());
        for (auto& e : r.passed) ledgers[id].push_back(e);
        for (auto& e : r.events) events[id].push_back(e);
        for (auto& rep : r.replies) replies.push_back(rep);
        for (auto& m : r.messages) wire.push_back(m);
        for (auto& cu : r.catch_up) {  // the host's job: read the ledger, send catch-up
          Message m;
          m.kind = Kind::CatchUp;
          m.from = id;
          m.incarnation = p->incarnation();
          m.to = cu.to;
          m.passed_len = ledgers[id].size();
          for (uint64_t n = cu.from_no; n <= cu.upto_no && n <= ledgers[id].size(); ++n)
            m.entries.push_back(ledgers[id][n - 1]);
          wire.push_back(m);
        }
      }
      if (!hold && !wire.empty()) {
        Message m = wire.front();
        wire.pop_front();
        if (std::getenv("CHAMBER_WIRE"))
          std::fprintf(stderr, "%s %u->%u b=%s n=%llu..%llu len=%llu e=%zu\n", name_of(m.kind), m.from, m.to,
                       to_string(m.ballot).c_str(), (unsigned long long)m.decree_no,
                       (unsigned long long)m.last_no, (unsigned long long)m.passed_len, m.entries.size());
        if (alter) alter(m);
        if ((!lose || !lose(m)) && priests.count(m.to)) priests[m.to]->step(m);
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
  // Ticks the priests `ids` (only their clocks move) until one of them is president.
  PriestId elect_among(const std::set<PriestId>& ids) {
    for (int t = 0; t < 1000; ++t) {
      for (PriestId id : ids)
        if (priests[id]->role() == Role::President) return id;
      for (PriestId id : ids) priests[id]->tick();
      drain();
    }
    FAIL("none of them became president");
    return 0;
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

}  // namespace parliament::testing
