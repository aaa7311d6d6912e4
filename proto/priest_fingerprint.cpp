// Priest::fingerprint and votes: the whole state of a priest as one string, for the
// explorer's visited set and the tests (see priest.hpp).
#include "proto/priest.hpp"

#include <algorithm>

#include "proto/priest_internal.hpp"

namespace parliament {

using namespace priest_detail;

namespace {
void fp_u(std::string& o, uint64_t v) {
  o += std::to_string(v);
  o.push_back(',');
}
void fp_b(std::string& o, const Ballot& b) {
  o += to_string(b);
  o.push_back(',');
}
void fp_d(std::string& o, const Decree& d) {
  if (d.membership) o += "M";
  o +=
      d.olive_day ? "o" : std::to_string(d.client) + "/" + std::to_string(d.request) + "/" + d.text;
  o.push_back('@');
  fp_b(o, d.origin);
}
void fp_e(std::string& o, const Entry& e) {
  fp_u(o, e.decree_no);
  fp_b(o, e.ballot);
  fp_d(o, e.decree);
}
// How long ago tick t was, capped: states that differ only beyond the cap behave alike.
void fp_age(std::string& o, uint64_t now, uint64_t t, uint64_t cap) {
  fp_u(o, std::min<uint64_t>(now - std::min(t, now), cap));
}
}  // namespace

std::string Priest::fingerprint() const {
  std::string o;
  { auto r = rng_; fp_u(o, r()); }
  fp_u(o, static_cast<uint64_t>(role_));
  fp_b(o, next_bal_);
  fp_b(o, ballot_);
  fp_u(o, president_ ? *president_ : 0);
  fp_b(o, following_);
  fp_u(o, passed_len_);
  // Where the clock stands decides when (and to whom) a priest behind reminds others how far
  // it has got (Priest::tick): hashed for every follower of another priest and every
  // candidate, since a message can put either behind at any moment.
  const uint64_t hb = opt_.heartbeat_ticks;
  if (role_ == Role::Follower && president_ && *president_ != opt_.id) {
    uint64_t others = 0;
    for (PriestId p : latest().ids()) others += p != opt_.id && p != *president_;
    fp_u(o, now_ % (2 * hb));
    fp_u(o, now_ / (2 * hb) % std::max<uint64_t>(1, others));
  }
  if (role_ == Role::Candidate) fp_u(o, now_ % hb);
  const Election& e = election_;
  fp_u(o, e.deadline() > now_ ? e.deadline() - now_ : 0);
  fp_u(o, e.max_round());
  fp_b(o, e.asking().value_or(Ballot{}));
  for (PriestId p : e.grantors()) fp_u(o, p);
  fp_u(o, e.lease_until() > now_ ? e.lease_until() - now_ : 0);
  fp_u(o, e.leased(now_) ? e.lease_holder() : 0);
  if (e.asking()) fp_age(o, now_, e.asking_since(), opt_.election_timeout_ticks);
  o += "|m";
  fp_u(o, membership_.decree_no);
  for (auto& p : membership_.priests) fp_u(o, p.id), fp_u(o, p.incarnation);
  fp_u(o, era_end_);
  fingerprint_reads(o);
  o += "|v";
  for (auto& [n, e] : votes_) fp_e(o, e);
  o += "|a";
  for (auto& [n, e] : passed_ahead_) fp_e(o, e);
  o += "|h";
  for (auto& [n, e] : heard_) fp_e(o, e);
  o += "|c";
  for (auto& [c, r] : clients_.records())
    o += std::to_string(c) + ":" + std::to_string(r.request) + ":" + std::to_string(r.decree_no) +
         ",";
  o += "|f";
  for (auto& [t, f] : forwarded_) {
    o +=
        std::to_string(t) + ":" + std::to_string(f.president) + ":" + std::to_string(f.bytes) + ":";
    fp_b(o, f.ballot);
    fp_age(o, now_, f.since, kForwardPatience * opt_.election_timeout_ticks);
  }
  o += "|l";
  for (auto& [p, r] : last_votes_) {
    fp_u(o, p);
    fp_u(o, r.passed_len);
    for (auto& e : r.votes) fp_e(o, e);
  }
  if (role_ == Role::President) fingerprint_president(o);
  fingerprint_peers(o);
  return o;
}

// Reads, the decree awaited, the change under way.
void Priest::fingerprint_reads(std::string& o) const {
  o += "|r";
  fp_u(o, settled_no_);
  reads_.fingerprint([&](uint64_t x) { fp_u(o, x); }, now_,
                     kForwardPatience * opt_.election_timeout_ticks);
  fp_u(o, awaiting_len_);
  // How long the ledger has stood still: a behind follower's reminders wait two heartbeats of
  // it, and its waiting reads a patience (Priest::expire_forwards).
  const uint64_t still = 2 * opt_.heartbeat_ticks;
  fp_age(o, now_, grew_tick_,
         reads_.waits() ? std::max(still, kForwardPatience * opt_.election_timeout_ticks) : still);
  if (change_) {
    o += change_to_json(change_->change).dump();
    fp_u(o, change_->begun);
    fp_age(o, now_, change_->since, 4 * opt_.election_timeout_ticks + 1);
    fp_u(o, change_->heard != 0);
    if (change_->heard) fp_age(o, now_, change_->heard, 2 * opt_.election_timeout_ticks + 1);
    for (auto& w : change_->waiters) fp_u(o, w.origin), fp_u(o, w.token);
  }
}

// The president's pipeline: decrees in flight, the queue, the clients waiting, its ballots.
void Priest::fingerprint_president(std::string& o) const {
  uint64_t et = opt_.election_timeout_ticks, hb = opt_.heartbeat_ticks;
  o += "|p";
  fp_u(o, next_no_);
  fp_u(o, first_open_);  // decides whether a catch-up makes it step down
  fp_age(o, now_, became_president_tick_, et);
  fp_age(o, now_, last_heartbeat_tick_, hb);
  fp_u(o, commit_sent_);
  fp_u(o, gap_len_);
  fp_age(o, now_, gap_since_, 2 * et);
  for (auto& [n, t] : tallies_.all()) {
    fp_u(o, n);
    fp_d(o, t.decree);
    fp_age(o, now_, t.sent_tick, 2 * hb);
    for (auto y : t.yes) fp_u(o, y);
    fp_u(o, t.all_asked);
  }
  for (PriestId q : tallies_.quorum()) fp_u(o, q);
  fp_u(o, tallies_.thrifty());
  fp_u(o, std::min<uint64_t>(tallies_.patience(), 2 * hb));
  o += "|q";
  for (auto& q : proposals_.queue()) {
    fp_d(o, q.decree);
    fp_u(o, q.waiter.origin);
    fp_u(o, q.waiter.token);
  }
  for (auto& [k, ws] : proposals_.waiters()) {
    fp_u(o, k.first);
    fp_u(o, k.second);
    for (auto& w : ws) fp_u(o, w.origin), fp_u(o, w.token);
  }
  for (auto& [k, n] : proposals_.begun()) fp_u(o, n);
  o += "|o";
  for (uint64_t last : tallies_.open())
    if (last > passed_len_) fp_u(o, last);  // passed ones are dropped at the next begin
}

// What it heard from its peers, and the catch-up it sent them.
void Priest::fingerprint_peers(std::string& o) const {
  uint64_t et = opt_.election_timeout_ticks, hb = opt_.heartbeat_ticks;
  o += "|h";
  for (auto& [p, t] : peers_.heard_ticks()) {
    fp_u(o, p);
    fp_age(o, now_, t, et + 1);
  }
  for (auto& [p, n] : peers_.lens()) fp_u(o, p), fp_u(o, n);
  for (auto& [p, s] : peers_.sent()) {
    fp_u(o, s.from);
    fp_age(o, now_, s.tick, 2 * hb);
    fp_u(o, s.seen_len);
    fp_age(o, now_, s.seen_tick, 2);
  }
}

std::vector<Entry> Priest::votes() const {
  std::vector<Entry> out;
  for (auto& [n, v] : votes_) out.push_back(v);
  return out;
}

}  // namespace parliament
