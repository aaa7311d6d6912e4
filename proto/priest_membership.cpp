// The priest's membership: who it admits, the changes it passes as decrees, and what a new
// membership does to a president's queue and ballot (see priest.hpp, docs/SAFETY.md).
#include "proto/priest.hpp"

#include <algorithm>

#include "proto/priest_internal.hpp"

namespace parliament {

using namespace priest_detail;

// ---------------------------------------------------------------- membership

void Priest::rejoin(const Membership& m) {
  if (voter() || m.decree_no <= latest().decree_no) return;
  note("priest " + std::to_string(opt_.id) + " learns the ledger of the membership of decree " +
       std::to_string(m.decree_no) + " (the god's join; it held that of decree " +
       std::to_string(latest().decree_no) + ")");
  membership_ = m;
  tell_peers();
}

bool Priest::admits(PriestId from, uint64_t incarnation) const {
  if (from == opt_.id) return incarnation == opt_.incarnation;
  if (latest().retired_life(from, incarnation)) return false;  // cut off by a remove or replace
  if (latest().voter(from, incarnation)) return true;
  // Another life of a member id is a stranger too, but the one a president is teaching.
  return role_ == Role::President && change_ && change_->learning(from, incarnation);
}

void Priest::stranger(const Message& m) {
  if (strangers_noted_.size() > 64) strangers_noted_.clear();
  if (!strangers_noted_.insert({m.from, m.incarnation}).second) return;
  const PriestAddress* p = latest().find(m.from);
  std::string why = p ? "the membership in force (decree " + std::to_string(latest().decree_no) +
                            ") names incarnation " + incarnation_text(p->incarnation) +
                            " (a priest whose data directory was lost is a new priest: "
                            "paxos-god replace " + std::to_string(m.from) + ")"
                      : "it is not a member of the membership in force (decree " +
                            std::to_string(latest().decree_no) + ")";
  note("priest " + std::to_string(opt_.id) + " hears nothing from priest " +
       std::to_string(m.from) + " speaking as incarnation " + incarnation_text(m.incarnation) +
       ": " + why);
}

void Priest::handle_change(const Waiter& w, const Change& c) {
  if (already_applied(latest(), c)) return answer(w, latest().decree_no);
  auto next = apply_change(latest(), c);
  if (!next) return answer(w, 0, Code::Invalid, next.error());
  if (change_) {
    if (change_->change == c) return change_->waiters.push_back(w);
    return answer(w, 0, Code::Busy,
                  "another membership change is under way (" + describe(change_->change) +
                      "); one at a time: retry once it has passed");
  }
  change_ = ChangeUnderWay{c, {w}, now_, false};
  if (!c.teaches()) return;
  // What this priest knew of an earlier life of that id says nothing about the new one.
  peers_.forget(c.priest.id);
  note("president " + std::to_string(opt_.id) + " teaches the ledger to the priest it will " +
       describe(c) + ", then proposes the change");
  tell_peers();
}

// One membership decree at a time, begun alone: every lower number passed and known, none
// in flight (docs/SAFETY.md, "Membership").
bool Priest::begin_change() {
  if (!tallies_.empty() || !passed_ahead_.empty() || passed_len_ + 1 != next_no_) return false;
  auto next = apply_change(latest(), change_->change);
  if (!next) {
    end_change(0, Code::Invalid, next.error());
    return false;
  }
  Decree d;
  d.membership = true;
  d.text = membership_decree_text(*next, change_->change);
  d.origin = ballot_;
  uint64_t n = next_no_++;
  change_->begun = true;
  era_end_ = n + 1;
  note("president " + std::to_string(opt_.id) + " begins membership decree " +
       std::to_string(n) + ": " + describe(change_->change));
  begin({Entry{n, ballot_, std::move(d)}});
  return true;
}

void Priest::end_change(uint64_t decree_no, Code code, const std::string& error) {
  if (code != Code::Ok && change_->begun) code = Code::OutcomeUnknown;
  for (auto& w : change_->waiters) answer(w, decree_no, code, error);
  bool teaching = change_->change.teaches();
  change_.reset();
  if (teaching) tell_peers();
}

void Priest::tell_peers() {
  std::vector<PriestAddress> peers = latest().priests;
  if (change_ && change_->change.teaches()) {
    std::erase_if(peers, [&](auto& p) { return p.id == change_->change.priest.id; });
    peers.push_back(change_->change.priest);
  }
  ready_.peers = std::move(peers);
}

// A membership decree passed and is the membership in force above this priest's ledger
// (a priest never begins or counts below its ledger's end). A president (or candidate) asks the new
// membership for promises in a new ballot, or, if it is no longer a member, hands over.
// The proposals waiting in the queue, never begun in any ballot, are answered "not passed"
// (retry): each retry comes through its priest's host again, which refuses a revoked client.
// So no decree of a client revoked at decree n is begun above n.
std::string Priest::revoked_text(const std::string& client) const {
  return "client " + client + "'s certificate was revoked by decree (membership of decree " +
         std::to_string(latest().decree_no) + ")";
}

void Priest::fail_queued(const std::string& why) {
  for (auto& waiter : proposals_.drop_queued()) answer(waiter, 0, Code::Abandoned, why);
}

void Priest::era_changed() {
  tell_peers();
  const std::string n = std::to_string(latest().decree_no);
  if (!voter()) {
    note("priest " + std::to_string(opt_.id) + " is not a voter of the membership set by decree " +
         n);
    if (role_ != Role::Follower)
      step_down("no longer a member of the parliament (decree " + n + "); handing over", false);
    return;
  }
  if (role_ != Role::Follower) restand("the membership changed at decree " + n);
}

// A president or candidate asks again, in a new ballot, for the promises of the membership
// in force; the client proposals it holds wait for that ballot.
void Priest::restand(const std::string& why) {
  note("priest " + std::to_string(opt_.id) + " stands again: " + why);
  fail_reads("ballot " + to_string(ballot_) + " ends (" + why + "); retry");
  role_ = Role::Follower;
  era_end_ = 0;
  stand_for_president();
}

}  // namespace parliament
