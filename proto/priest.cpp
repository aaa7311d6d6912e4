// The priest's state machine: see priest.hpp for the host's contract.
#include "proto/priest.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace parliament {

namespace {

std::string list_ids(const std::vector<PriestId>& ids) {
  std::string s;
  for (auto id : ids) s += (s.empty() ? "" : ", ") + std::to_string(id);
  return s;
}

// A broken invariant is a bug: say so and stop, never carry on with a wrong ledger.
[[noreturn]] void invariant_failed(const char* what) {
  std::cerr << "parliament: invariant broken: " << what << "\n";
  std::abort();
}

}  // namespace

const char* name_of(Role r) {
  switch (r) {
    case Role::Follower: return "follower";
    case Role::Candidate: return "candidate";
    case Role::President: return "president";
  }
  return "?";
}

const char* name_of(Event::Kind k) {
  using K = Event::Kind;
  switch (k) {
    case K::PreBallot: return "pre_ballot";
    case K::Stood: return "stood";
    case K::Promised: return "promised";
    case K::LastVote: return "last_vote";
    case K::President: return "president";
    case K::Begin: return "begin";
    case K::VoteYes: return "vote_yes";
    case K::VoteNo: return "vote_no";
    case K::Passed: return "passed";
    case K::StepDown: return "step_down";
    case K::Heard: return "heard";
    case K::Lost: return "lost";
  }
  return "?";
}

Priest::Priest(PriestOptions options, Restored restored)
    : opt_(std::move(options)),
      rng_(opt_.seed * 0x9E3779B97F4A7C15ull + opt_.id),
      next_bal_(restored.next_bal),
      passed_len_(restored.ledger_len),
      clients_(std::move(restored.clients)) {
  Membership m = opt_.membership;
  if (m.priests.empty())
    for (PriestId id : opt_.members) m.priests.push_back(PriestAddress{id, "", 0, "", 0});
  std::sort(m.priests.begin(), m.priests.end(), [](auto& x, auto& y) { return x.id < y.id; });
  membership_ = std::move(m);
  tell_peers();
  for (auto& [n, e] : restored.votes)
    if (n > passed_len_) votes_.emplace(n, e);
  max_round_seen_ = next_bal_.round;
  told_len_ = passed_len_;
  reset_election_timer();
}

// ---------------------------------------------------------------- host interface

void Priest::tick() {
  ++now_;
  note_hearing();
  if (role_ == Role::President) {
    // The priests learn what passed from the next begin ballot; when none follows, from a
    // successful ballot on the next tick, or the heartbeat.
    if (now_ - last_heartbeat_tick_ >= opt_.heartbeat_ticks) {
      heartbeat();
      resend_unvoted();
    } else if (passed_len_ > commit_sent_) {
      Message s = make(Kind::Success, 0);
      s.ballot = ballot_;
      s.commit_no = commit_sent_ = passed_len_;
      send_others(s);
    }
    check_quorum();
    check_gap();
    if (change_ && !change_->begun && change_->change.teaches()) {
      // A priest being taught that is not heard from (never, or not for two election
      // timeouts): tell the god rather than hold the proposals that wait for the change.
      auto h = heard_tick_.find(change_->change.priest.id);
      bool silent = h == heard_tick_.end() || h->second < change_->since ||
                    now_ - h->second > 2 * opt_.election_timeout_ticks;
      if (silent && now_ - change_->since >= 4 * opt_.election_timeout_ticks)
        end_change("priest " + std::to_string(change_->change.priest.id) + " with incarnation " +
                       incarnation_text(change_->change.priest.incarnation) + " at " +
                       change_->change.priest.host + ":" +
                       std::to_string(change_->change.priest.port) +
                       " did not answer the president; is it running, and was it told to join?",
                   0);
    }
  } else if (now_ >= election_deadline_) {
    pre_ballot();
  } else if (role_ == Role::Follower && president_ && *president_ != opt_.id &&
             peer_len_[*president_] > passed_len_ && now_ - grew_tick_ >= 2 * opt_.heartbeat_ticks &&
             now_ % (2 * opt_.heartbeat_ticks) == 0) {
    // Behind its president and not learning, perhaps because the president does not hear it
    // (one added by a membership decree this priest has not learned keeps no link to it):
    // remind another priest of its membership how far it has got, which sends it what it
    // lacks (maybe_catch_up).
    std::vector<PriestId> others;
    for (PriestId p : latest().ids())
      if (p != opt_.id && p != *president_) others.push_back(p);
    if (!others.empty())
      send(make(Kind::CatchUp, others[now_ / (2 * opt_.heartbeat_ticks) % others.size()]));
  } else if (role_ == Role::Candidate && awaiting_len_ && now_ % opt_.heartbeat_ticks == 0) {
    // Waiting to learn what its quorum holds: remind those priests how far it has got.
    for (auto& [p, r] : last_votes_)
      if (r.passed_len > passed_len_ && p != opt_.id) send(make(Kind::CatchUp, p));
  }
}

void Priest::note_hearing() {
  auto now = reachable();
  if (now == told_hearing_) return;
  for (PriestId p : now)
    if (p != opt_.id && !std::binary_search(told_hearing_.begin(), told_hearing_.end(), p))
      event(Event::Kind::Heard, {}, 0, 0, p);
  for (PriestId p : told_hearing_)
    if (p != opt_.id && !std::binary_search(now.begin(), now.end(), p)) event(Event::Kind::Lost, {}, 0, 0, p);
  told_hearing_ = std::move(now);
}

// What no priest of this parliament would say, whatever it was told (docs/SAFETY.md, "What a
// peer may say"). Rounds: an honest candidate stands one round above the highest it has
// seen, so a round more than kRoundWindow above this priest's horizon is refused, and none
// reaches kMaxRound (stand_for_president adds 1 to it). Decree numbers: nothing honest lies
// more than kDecreeWindow above this priest's ledger, and nothing reaches 2^64. Votes: a
// priest votes only within kVoteWindow of its own ledger (on_begin_ballot), so a last vote
// reporting one further above its sender's ledger, or a catch-up reaching further above the
// receiver's, is a lie; a new president never has more than kVoteWindow numbers to fill.
namespace {
constexpr uint64_t kRoundWindow = uint64_t{1} << 24;
constexpr uint64_t kMaxRound = uint64_t{1} << 62;
constexpr uint64_t kDecreeWindow = uint64_t{1} << 40;
constexpr size_t kMaxMembershipBytes = 1 << 20;
}  // namespace

std::string Priest::refusal(const Message& m) const {
  uint64_t round_limit = std::min(kMaxRound, max_round_seen_ + kRoundWindow);
  uint64_t number_limit = passed_len_ + kDecreeWindow;
  auto round_ok = [&](const Ballot& b) { return b.round <= round_limit; };
  auto too_far = [&](const char* what, uint64_t v) {
    return std::string(what) + " " + std::to_string(v) + " is far beyond this priest's ledger of " +
           std::to_string(passed_len_) + " decrees";
  };
  if (!round_ok(m.ballot) || !round_ok(m.promised))
    return "ballot round " + std::to_string(std::max(m.ballot.round, m.promised.round)) +
           " is far above any round this priest has seen (" + std::to_string(max_round_seen_) + ")";
  if (m.decree_no > number_limit) return too_far("decree number", m.decree_no);
  if (m.last_no > number_limit) return too_far("decree number", m.last_no);
  if (m.commit_no > number_limit) return too_far("decree number", m.commit_no);
  if (m.passed_len > number_limit) return too_far("ledger length", m.passed_len);
  uint64_t prev = 0;
  for (const auto& e : m.entries) {
    if (m.kind != Kind::Forward && (e.decree_no == 0 || e.decree_no > number_limit || e.decree_no <= prev))
      return "decree numbers must rise from 1 and stay within reach of this priest's ledger of " +
             std::to_string(passed_len_) + " decrees (got " + std::to_string(e.decree_no) + ")";
    // A begin ballot's numbers are consecutive: its vote yes names them as a range.
    if (m.kind == Kind::BeginBallot && prev != 0 && e.decree_no != prev + 1)
      return "a begin ballot's decree numbers must be consecutive (" + std::to_string(prev) + " then " +
             std::to_string(e.decree_no) + ")";
    prev = e.decree_no;
    if (!round_ok(e.ballot) || !round_ok(e.decree.origin))
      return "decree " + std::to_string(e.decree_no) + " carries a ballot round far above any seen";
    size_t limit = e.decree.membership ? std::max(opt_.max_decree_bytes, kMaxMembershipBytes) : opt_.max_decree_bytes;
    if (e.decree.text.size() > limit)
      return "decree " + std::to_string(e.decree_no) + " of " + std::to_string(e.decree.text.size()) +
             " bytes is over the limit of " + std::to_string(limit) + " bytes";
    // A membership decree that passed is applied (apply_passed): it must be one.
    if (m.kind != Kind::Forward && e.decree.membership) {
      if (e.decree.olive_day) return "decree " + std::to_string(e.decree_no) + " is both olive-day and membership";
      if (auto next = parse_membership_decree(e.decree.text, e.decree_no); !next)
        return "decree " + std::to_string(e.decree_no) + " is no membership: " + next.error();
    }
  }
  uint64_t highest = m.entries.empty() ? 0 : m.entries.back().decree_no;
  switch (m.kind) {
    case Kind::Forward:
      if (m.entries.size() != 1) return "a forwarded proposal carries exactly one decree";
      break;
    case Kind::CatchUp:
      // Catch-up is read from the sender's ledger: nothing beyond its length.
      if (highest > m.passed_len)
        return "catch-up of decree " + std::to_string(highest) + " from a ledger of " +
               std::to_string(m.passed_len) + " decrees";
      // And sent from where the receiver's ledger ends, a chunk at a time.
      if (highest > passed_len_ + kVoteWindow) return too_far("catch-up of decree", highest);
      break;
    case Kind::LastVote:
      if (highest > m.passed_len + kVoteWindow)
        return "a last vote reports a vote at decree " + std::to_string(highest) + " from a ledger of " +
               std::to_string(m.passed_len) + " decrees (no priest votes more than " +
               std::to_string(kVoteWindow) + " above its ledger)";
      break;
    default:
      break;
  }
  return "";
}

std::string Priest::step(const Message& m) {
  if (auto why = refusal(m); !why.empty()) return why;
  // Who may say what: membership is the only admission (docs/SAFETY.md, "Who may speak").
  // A priest hears itself and the voters (id and incarnation) of the membership in force
  // above its ledger. Besides them, only:
  //  - as president, the priest it is teaching for a change: its answers (votes and
  //    catch-up acknowledgements, which say how far its ledger has got), nothing else;
  //  - a member id speaking as another incarnation that holds more of the ledger (a replace
  //    this priest has not learned may have made it a voter), never one a remove or replace
  //    here retired: its ledger and its presidency only; its last votes and votes count
  //    nowhere (on_last_vote, on_voted). The host let its certificate in only with a key
  //    not retired here (Membership::key_refusal).
  // Anyone else (a removed priest, a priest never added, or one added by a decree this
  // priest has not learned yet) is dropped here, catch-up included. A priest behind an add
  // learns it from the members it knows (its pre-ballots make them send it the ledger).
  if (m.from == opt_.id ? m.incarnation != opt_.incarnation : !latest().voter(m.from, m.incarnation)) {
    const PriestAddress* member = latest().find(m.from);
    bool taught = role_ == Role::President && change_ && change_->learning(m.from, m.incarnation) &&
                  (m.kind == Kind::Voted || m.kind == Kind::VoteNo ||
                   (m.kind == Kind::CatchUp && m.entries.empty()));
    bool newer_life = member && member->incarnation != m.incarnation && m.passed_len > passed_len_ &&
                      !latest().retired_life(m.from, m.incarnation) &&
                      (from_president(m.kind) || m.kind == Kind::CatchUp);
    if (!taught && !newer_life) {
      stranger(m);
      return "";
    }
  }
  // B1: a ballot belongs to the priest whose id it carries. Only that priest speaks in it as
  // president (next, begin, successful and failed ballot), and answers in it go to it.
  if (from_president(m.kind) && m.ballot.priest != m.from) return "";
  if ((m.kind == Kind::LastVote || m.kind == Kind::Voted || m.kind == Kind::VoteNo) && m.ballot.priest != m.to)
    return "";
  heard_tick_[m.from] = now_;
  if (m.kind != Kind::Forward && m.kind != Kind::Answer && m.kind != Kind::Read) {
    peer_len_[m.from] = m.passed_len;
    maybe_catch_up(m.from);
  }
  switch (m.kind) {
    case Kind::NextBallot: on_next_ballot(m); break;
    case Kind::BeginBallot: on_begin_ballot(m); break;
    case Kind::Success: on_success(m); break;
    case Kind::Failed: on_failed(m); break;
    case Kind::LastVote: on_last_vote(m); break;
    case Kind::Voted: on_voted(m); break;
    case Kind::VoteNo: on_vote_no(m); break;
    case Kind::Forward: on_forward(m); break;
    case Kind::Answer: on_answer(m); break;
    case Kind::CatchUp: on_catch_up(m); break;
    case Kind::PreBallot: on_pre_ballot(m); break;
    case Kind::PreVote: on_pre_vote(m); break;
    case Kind::Read: on_read(m); break;
  }
  return "";
}

void Priest::propose(Proposal p) {
  Waiter w{opt_.id, p.token};
  if (!voter()) {  // removed, or still learning: the president may not even link to it
    answer(w, 0,
           "priest " + std::to_string(opt_.id) + " is not a member of the parliament as its "
           "ledger knows it (membership of decree " + std::to_string(latest().decree_no) +
               "); propose to a member",
           false);
    return;
  }
  if (latest().is_revoked(p.owner)) return answer(w, 0, revoked_text(p.owner), false);
  if (role_ == Role::President) {
    enqueue(std::move(p.decree), w);
  } else if (auto full = forwarding_full(); !full.empty()) {
    answer(w, 0, full, false);
  } else if (president_ && *president_ != opt_.id) {
    Message f = make(Kind::Forward, *president_);
    f.token = p.token;
    f.owner = std::move(p.owner);
    forwarded_[p.token] = *president_;
    f.entries.push_back(Entry{0, {}, std::move(p.decree)});
    send(std::move(f));
  } else {
    auto r = reachable();
    std::string why = r.size() < latest().quorum()
                          ? quorum_report()
                          : "no president yet: an election is under way (ballot " +
                                to_string(next_bal_) + "); retry shortly";
    answer(w, 0, why, false);
  }
}

void Priest::read(uint64_t token) {
  Waiter w{opt_.id, token};
  if (role_ == Role::President) return begin_read(w);
  if (auto full = forwarding_full(); !full.empty()) return answer(w, 0, full, false);
  if (president_ && *president_ != opt_.id) {
    Message r = make(Kind::Read, *president_);
    r.token = token;
    forwarded_[token] = *president_;
    read_tokens_.insert(token);
    send(std::move(r));
    return;
  }
  answer(w, 0, "no president yet: an election is under way; retry shortly", false);
}

// A follower's requests waiting on its president (forwarded, or answered and waiting for
// this ledger to catch up) are bounded by max_queued, like the president's own queue: a
// president that never answers, or a ledger far behind, must not collect them without end.
std::string Priest::forwarding_full() const {
  if (forwarded_.size() + read_waits_.size() < opt_.max_queued) return "";
  return std::to_string(forwarded_.size() + read_waits_.size()) + " requests are waiting at priest " +
         std::to_string(opt_.id) + " for its president (max_queued); retry";
}

void Priest::on_read(const Message& m) {
  Waiter w{m.from, m.token};
  if (role_ == Role::President && latest().find(m.from)) return begin_read(w);
  answer(w, 0, "priest " + std::to_string(opt_.id) + " is no longer president; retry", false);
}

void Priest::begin_read(Waiter w) {
  // Bounded like proposals: each read costs a successful ballot to every priest.
  if (reads_.size() >= opt_.max_queued)
    return answer(w, 0, std::to_string(reads_.size()) + " reads are waiting at president " +
                            std::to_string(opt_.id) + " (max_queued); retry", false);
  // Everything any client was told passed is in this priest's ledger or among what its
  // election re-proposed (B3): n covers it once the ledger reaches n.
  reads_.push_back(PendingRead{w, ++read_round_, std::max(passed_len_, settled_no_)});
  Message s = make(Kind::Success, 0);
  s.ballot = ballot_;
  s.commit_no = commit_sent_ = passed_len_;
  s.token = read_round_;  // acknowledged with this round by whoever still follows ballot_
  send_others(s);
  confirm_reads();  // a parliament of one
}

void Priest::confirm_reads() {
  while (!reads_.empty()) {
    const PendingRead& r = reads_.front();
    size_t acks = 0;
    for (PriestId p : latest().ids()) {
      auto it = read_acked_.find(p);
      acks += p == opt_.id || (it != read_acked_.end() && it->second >= r.round);
    }
    if (acks < latest().quorum() || passed_len_ < r.upto) return;
    answer(r.waiter, r.upto, "", false);
    reads_.pop_front();
  }
}

void Priest::answer_read_waits() {
  std::erase_if(read_waits_, [&](const PendingRead& r) {
    if (r.upto > passed_len_) return false;
    answer(r.waiter, r.upto, "", false);
    return true;
  });
}

void Priest::fail_reads(const std::string& why) {
  for (auto& r : reads_) answer(r.waiter, 0, why, false);
  reads_.clear();
  read_acked_.clear();
}

void Priest::propose_change(uint64_t token, const Change& c) {
  Waiter w{opt_.id, token};
  if (role_ == Role::President) {
    handle_change(w, c);
  } else if (president_ && *president_ != opt_.id) {
    Message f = make(Kind::Forward, *president_);
    f.token = token;
    forwarded_[token] = *president_;
    Decree d;
    d.membership = true;
    d.text = change_to_json(c).dump();
    f.entries.push_back(Entry{0, {}, std::move(d)});
    send(std::move(f));
  } else {
    answer(w, 0, "no president yet: an election is under way; retry shortly", false);
  }
}

Ready Priest::take_ready() {
  begin_ballots();
  if (passed_len_ > told_len_) {
    event(Event::Kind::Passed, {}, told_len_ + 1, passed_len_);
    told_len_ = passed_len_;
  }
  Ready out = std::move(ready_);
  ready_ = Ready{};
  return out;
}

PriestStatus Priest::status() const {
  PriestStatus s;
  s.id = opt_.id;
  s.role = role_;
  s.president = president_;
  s.ballot = role_ == Role::Follower ? next_bal_ : ballot_;
  s.next_bal = next_bal_;
  s.passed_len = passed_len_;
  s.reachable = reachable();
  s.in_flight = in_flight_.size();
  s.queued = queue_.size();
  s.waiting = waiting_.size();
  s.passed_ahead = passed_ahead_.size();
  s.membership = latest();
  s.voter = voter();
  if (change_)
    s.change = describe(change_->change) +
               (change_->begun ? " (decree begun)"
                : !change_->change.teaches() ? " (waiting for what is in flight)"
                                                           : " (teaching the ledger)");
  return s;
}

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
  o += d.olive_day ? "o" : std::to_string(d.client) + "/" + std::to_string(d.request) + "/" + d.text;
  o.push_back('@');
  fp_b(o, d.origin);
}
void fp_e(std::string& o, const Entry& e) {
  fp_u(o, e.decree_no);
  fp_b(o, e.ballot);
  fp_d(o, e.decree);
}
}  // namespace

std::string Priest::fingerprint() const {
  std::string o;
  auto age = [&](uint64_t t, uint64_t cap) { fp_u(o, std::min<uint64_t>(now_ - std::min(t, now_), cap)); };
  uint64_t et = opt_.election_timeout_ticks, hb = opt_.heartbeat_ticks;
  { auto r = rng_; fp_u(o, r()); }
  fp_u(o, static_cast<uint64_t>(role_));
  fp_b(o, next_bal_);
  fp_b(o, ballot_);
  fp_u(o, president_ ? *president_ : 0);
  fp_u(o, passed_len_);
  fp_u(o, election_deadline_ > now_ ? election_deadline_ - now_ : 0);
  fp_u(o, max_round_seen_);
  fp_b(o, pre_ballot_.value_or(Ballot{}));
  for (PriestId p : pre_grants_) fp_u(o, p);
  fp_u(o, lease_until_ > now_ ? lease_until_ - now_ : 0);
  o += "|m";
  fp_u(o, membership_.decree_no);
  for (auto& p : membership_.priests) fp_u(o, p.id), fp_u(o, p.incarnation);
  fp_u(o, era_end_);
  o += "|r";
  fp_u(o, settled_no_);
  fp_u(o, read_round_);
  for (auto& r : reads_) fp_u(o, r.waiter.token), fp_u(o, r.round), fp_u(o, r.upto);
  for (auto& [p, a] : read_acked_) fp_u(o, p), fp_u(o, a);
  for (uint64_t t : read_tokens_) fp_u(o, t);
  for (auto& r : read_waits_) fp_u(o, r.waiter.token), fp_u(o, r.upto);
  fp_u(o, awaiting_len_);
  age(grew_tick_, 2 * hb);
  if (change_) {
    o += change_to_json(change_->change).dump();
    fp_u(o, change_->begun);
    age(change_->since, 4 * et + 1);
    for (auto& w : change_->waiters) fp_u(o, w.token);
  }
  o += "|v";
  for (auto& [n, e] : votes_) fp_e(o, e);
  o += "|a";
  for (auto& [n, e] : passed_ahead_) fp_e(o, e);
  o += "|c";
  for (auto& [c, r] : clients_) o += std::to_string(c) + ":" + std::to_string(r.request) + ":" + std::to_string(r.decree_no) + ",";
  o += "|f";
  for (auto& [t, p] : forwarded_) o += std::to_string(t) + ":" + std::to_string(p) + ",";
  o += "|l";
  for (auto& [p, r] : last_votes_) {
    fp_u(o, p);
    fp_u(o, r.passed_len);
    for (auto& e : r.votes) fp_e(o, e);
  }
  if (role_ == Role::President) {
    o += "|p";
    fp_u(o, next_no_);
    age(became_president_tick_, et);
    age(last_heartbeat_tick_, hb);
    fp_u(o, commit_sent_);
    fp_u(o, gap_len_);
    age(gap_since_, 2 * et);
    for (auto& [n, t] : in_flight_) {
      fp_u(o, n);
      fp_d(o, t.decree);
      age(t.sent_tick, 2 * hb);
      for (auto y : t.yes) fp_u(o, y);
    }
    o += "|q";
    for (auto& q : queue_) {
      fp_d(o, q.decree);
      fp_u(o, q.waiter.origin);
      fp_u(o, q.waiter.token);
    }
    for (auto& [k, ws] : waiting_) {
      fp_u(o, k.first);
      fp_u(o, k.second);
      for (auto& w : ws) fp_u(o, w.token);
    }
    for (auto& [k, n] : proposed_) fp_u(o, n);
    o += "|o";
    for (uint64_t last : open_ballots_)
      if (last > passed_len_) fp_u(o, last);  // passed ones are dropped at the next begin
  }
  o += "|h";
  for (auto& [p, t] : heard_tick_) {
    fp_u(o, p);
    age(t, et + 1);
  }
  for (auto& [p, n] : peer_len_) fp_u(o, n);
  for (auto& [p, s] : catch_up_sent_) {
    fp_u(o, s.from);
    age(s.tick, 2 * hb);
    fp_u(o, s.seen_len);
    age(s.seen_tick, 2);
  }
  return o;
}

std::vector<Entry> Priest::votes() const {
  std::vector<Entry> out;
  for (auto& [n, v] : votes_) out.push_back(v);
  return out;
}

// ---------------------------------------------------------------- elections

void Priest::reset_election_timer() {
  uint64_t e = opt_.election_timeout_ticks;
  election_deadline_ = now_ + e + rng_() % (e + 1);  // randomised: candidates rarely duel
}

bool Priest::promise(const Ballot& b) {
  if (b < next_bal_) return false;
  if (b > next_bal_) {
    next_bal_ = b;
    ready_.promise = b;  // durable before the last vote / vote that relies on it leaves
    event(Event::Kind::Promised, b, 0, 0, b.priest);
  }
  max_round_seen_ = std::max(max_round_seen_, b.round);
  return true;
}

// Before it raises its durable promise and stands, a priest asks whether a majority would
// promise its ballot (a pre-ballot; nothing is promised or persisted by anyone). A priest
// that cannot hear a majority, or whose majority still hears a live president, stays as it
// is: its promise does not climb while it is cut off, so when the network heals it deposes
// nobody.
void Priest::pre_ballot() {
  if (role_ == Role::President) return;
  reset_election_timer();  // asks again after another timeout if no majority says yes
  if (!voter()) return;    // a priest the membership does not name (yet, or any more) never stands
  bool first = !pre_ballot_;  // one line per outage, not one per timeout
  pre_ballot_ = Ballot{std::max(max_round_seen_, next_bal_.round) + 1, opt_.id};
  pre_grants_ = {opt_.id};
  event(Event::Kind::PreBallot, *pre_ballot_);
  if (first)
    note("priest " + std::to_string(opt_.id) + " hears no president; asks whether a majority would promise ballot " +
         to_string(*pre_ballot_));
  if (pre_grants_.size() >= latest().quorum()) return stand_for_president();
  Message pb = make(Kind::PreBallot, 0);
  pb.ballot = *pre_ballot_;
  send_others(pb);
}

bool Priest::lease_held(PriestId from) const {
  if (from == opt_.id) return false;
  if (role_ == Role::President) return reachable().size() >= latest().quorum();
  return president_ && *president_ != from && now_ < lease_until_;
}

void Priest::on_pre_ballot(const Message& m) {
  if (m.ballot.priest != m.from || !latest().voter(m.from, m.incarnation)) return;
  if (lease_held(m.from)) return;  // it hears a live president: no
  Message yes = make(Kind::PreVote, m.from);
  yes.ballot = m.ballot;
  yes.promised = next_bal_;  // so that the ballot it stands with is above this promise
  send(std::move(yes));
}

void Priest::on_pre_vote(const Message& m) {
  if (role_ == Role::President || !pre_ballot_ || m.ballot != *pre_ballot_) return;
  if (!latest().voter(m.from, m.incarnation)) return;
  max_round_seen_ = std::max(max_round_seen_, m.promised.round);
  pre_grants_.insert(m.from);
  if (pre_grants_.size() >= latest().quorum()) stand_for_president();
}

void Priest::stand_for_president() {
  pre_ballot_.reset();
  pre_grants_.clear();
  if (role_ == Role::President) return;
  if (!voter()) {  // a priest the membership does not name (yet, or any more) never stands
    reset_election_timer();
    return;
  }
  // B1: a round above every ballot this priest has seen; the ballot is unique because it
  // carries this priest's id, and promised durably (ready.promise) before next ballot leaves.
  max_round_seen_ = std::max(max_round_seen_, next_bal_.round);
  Ballot b{max_round_seen_ + 1, opt_.id};
  role_ = Role::Candidate;
  ballot_ = b;
  set_president(std::nullopt);
  last_votes_.clear();
  awaiting_len_ = 0;
  promise(b);
  reset_election_timer();
  event(Event::Kind::Stood, b);
  note("priest " + std::to_string(opt_.id) + " stands for president with ballot " +
       to_string(b) + " (ledger holds " + std::to_string(passed_len_) + " decrees)");
  Message nb = make(Kind::NextBallot, 0);
  nb.ballot = b;
  nb.decree_no = passed_len_ + 1;
  send_all(nb);
}

void Priest::become_president() {
  // B2: any majority's last votes will do (every chosen decree is, for some priest of any
  // majority, a vote it reports or in its ledger). Where more answered, it takes those that
  // hold the least of the ledger: a priest that claims decrees it never sends (a liar, or
  // one whose disk is failing) holds up no election once enough others have answered.
  std::vector<const LastVoteReport*> quorum;
  for (auto& [p, r] : last_votes_) quorum.push_back(&r);
  std::sort(quorum.begin(), quorum.end(),
            [](const LastVoteReport* a, const LastVoteReport* b) { return a->passed_len < b->passed_len; });
  quorum.resize(std::min(quorum.size(), latest().quorum()));
  uint64_t max_len = passed_len_;
  for (auto* r : quorum) max_len = std::max(max_len, r->passed_len);
  // The quorum holds decrees this priest has not learned: one of them may be a membership
  // decree, and then it cannot tell which priests vote above it. It learns them first (the
  // priests that hold them send them: maybe_catch_up), then stands again.
  if (max_len > passed_len_) {
    if (awaiting_len_ != max_len)
      note("priest " + std::to_string(opt_.id) + " learns decrees " +
           std::to_string(passed_len_ + 1) + ".." + std::to_string(max_len) +
           " before it presides (its quorum holds them)");
    awaiting_len_ = max_len;
    return;
  }
  // B3: at every open decree number, the decree of the highest-ballot vote any priest of
  // the quorum reports; an olive-day decree where none voted.
  std::map<uint64_t, Entry> chosen;
  for (auto* r : quorum)
    for (auto& v : r->votes) {
      if (v.decree_no <= max_len) continue;
      auto it = chosen.find(v.decree_no);
      if (it == chosen.end() || v.ballot > it->second.ballot) chosen[v.decree_no] = v;
    }
  uint64_t last = chosen.empty() ? max_len : std::max(max_len, chosen.rbegin()->first);
  // Decrees it knows passed beyond a gap are never begun again, but new ones begin above
  // them; the numbers between with no vote reported get olive-day decrees (no decree can
  // have passed there in a ballot below this one: some priest of the quorum would report it).
  if (!passed_ahead_.empty()) last = std::max(last, passed_ahead_.rbegin()->first);
  // Its quorum is one of the membership in force above its ledger. The first membership
  // decree above (one it knows passed, or one it must re-propose) ends that membership:
  // nothing above it is begun in this ballot (docs/SAFETY.md, "Membership").
  era_end_ = 0;
  for (uint64_t n = max_len + 1; n <= last; ++n) {
    auto a = passed_ahead_.find(n);
    auto c = chosen.find(n);
    if ((a != passed_ahead_.end() && a->second.decree.membership) ||
        (a == passed_ahead_.end() && c != chosen.end() && c->second.decree.membership)) {
      era_end_ = n + 1;
      last = n;
      break;
    }
  }

  role_ = Role::President;
  set_president(opt_.id);
  became_president_tick_ = now_;
  gap_len_ = passed_len_;
  gap_since_ = now_;
  in_flight_.clear();
  in_flight_bytes_ = 0;
  open_ballots_.clear();
  proposed_.clear();
  commit_sent_ = 0;
  last_votes_.clear();
  awaiting_len_ = 0;
  next_no_ = last + 1;
  settled_no_ = last;
  read_acked_.clear();

  first_open_ = max_len + 1;
  std::vector<Entry> entries;
  size_t olive = 0;
  for (uint64_t n = max_len + 1; n <= last; ++n) {
    if (passed_ahead_.count(n)) continue;  // known passed: never begun again
    auto it = chosen.find(n);
    Entry e{n, ballot_, it != chosen.end() ? it->second.decree : Decree::olive(ballot_)};
    if (it == chosen.end()) ++olive;
    if (!e.decree.olive_day) proposed_[{e.decree.client, e.decree.request}] = n;
    entries.push_back(std::move(e));
  }
  event(Event::Kind::President, ballot_);
  note("priest " + std::to_string(opt_.id) + " is president in ballot " + to_string(ballot_) +
       ": decrees 1.." + std::to_string(max_len) + " passed, re-proposing " +
       std::to_string(entries.size() - olive) + " and filling " + std::to_string(olive) +
       " gaps with olive-day decrees");
  // Begin in batches; the window limits apply to new proposals, not to these.
  std::vector<Entry> batch;
  size_t bytes = 0;
  for (auto& e : entries) {
    if (!batch.empty() && batch.back().decree_no + 1 != e.decree_no) {
      begin(std::move(batch));  // a begin ballot's numbers are consecutive (a vote names a range)
      batch.clear();
      bytes = 0;
    }
    bytes += e.decree.text.size();
    batch.push_back(std::move(e));
    if (batch.size() >= opt_.max_batch_decrees || bytes >= opt_.max_batch_bytes) {
      begin(std::move(batch));
      batch.clear();
      bytes = 0;
    }
  }
  if (!batch.empty()) begin(std::move(batch));
  heartbeat();
}

void Priest::step_down(const std::string& why, bool outcome_unknown) {
  if (role_ != Role::Follower) event(Event::Kind::StepDown, ballot_, 0, 0, 0, why);
  fail_reads("ballot " + to_string(ballot_) + " abandoned: " + why + "; retry");
  if (role_ == Role::President) {
    note("priest " + std::to_string(opt_.id) + " abandons ballot " + to_string(ballot_) + ": " +
         why);
    Message f = make(Kind::Failed, 0);
    f.ballot = ballot_;
    send_others(f);
  }
  // Decrees already begun may still pass under the next president; queued ones cannot. (A
  // candidate holds the queue of a president that stood again for a new membership.)
  std::set<RequestKey> begun;
  for (auto& [key, n] : proposed_) begun.insert(key);
  for (auto& [key, waiters] : waiting_)
    for (auto& w : waiters)
      answer(w, 0, "ballot " + to_string(ballot_) + " abandoned: " + why,
             outcome_unknown && begun.count(key));
  waiting_.clear();
  queue_.clear();
  queued_bytes_ = 0;
  in_flight_.clear();
  in_flight_bytes_ = 0;
  open_ballots_.clear();
  proposed_.clear();
  era_end_ = 0;
  if (change_)
    end_change("ballot " + to_string(ballot_) + " abandoned: " + why +
                   (change_->begun ? " (the change may still pass; run it again)" : ""),
               0);
  role_ = Role::Follower;
  set_president(std::nullopt);
  last_votes_.clear();
  reset_election_timer();
}

void Priest::follow(const Ballot& b) {
  if (b.priest == opt_.id) return;
  if (role_ != Role::Follower && b > ballot_)
    step_down("priest " + std::to_string(b.priest) + " leads ballot " + to_string(b), true);
  if (role_ != Role::Follower) return;
  pre_ballot_.reset();
  pre_grants_.clear();
  lease_until_ = now_ + opt_.election_timeout_ticks;  // the president's lease, renewed
  if (president_ != b.priest) {
    set_president(b.priest);
    note("priest " + std::to_string(opt_.id) + " follows president " + std::to_string(b.priest) +
         " in ballot " + to_string(b));
  }
  reset_election_timer();
}

// ---------------------------------------------------------------- handlers

void Priest::on_next_ballot(const Message& m) {
  // The president's lease: while it hears a live president (or, president, a majority), a
  // priest promises no other priest's ballot. Silence: the candidate gives up at its timeout.
  if (lease_held(m.from)) return;
  if (!promise(m.ballot)) {
    vote_no(m);
    return;
  }
  if (m.from != opt_.id) {
    if (role_ != Role::Follower && m.ballot > ballot_)
      step_down("priest " + std::to_string(m.from) + " stands with higher ballot " +
                    to_string(m.ballot),
                true);
    if (role_ == Role::Follower) {
      set_president(std::nullopt);
      reset_election_timer();  // give the candidate time to finish
    }
  }
  // Promise (durable first: ready.promise) and report the votes at every open number: the
  // votes this priest cast, each in the ballot it was cast in, and nothing else. (A decree
  // it only learned passed is not its vote; B3 needs no more than the quorum's votes,
  // because any decree chosen at an open number was voted for by some priest of every
  // quorum, whose latest vote there is for that decree.)
  event(Event::Kind::LastVote, m.ballot, 0, 0, m.from);
  Message lv = make(Kind::LastVote, m.from);
  lv.ballot = m.ballot;
  for (auto it = votes_.lower_bound(m.decree_no); it != votes_.end(); ++it) lv.entries.push_back(it->second);
  send(std::move(lv));
}

void Priest::on_last_vote(const Message& m) {
  if (role_ != Role::Candidate || m.ballot != ballot_) return;  // stale
  if (!latest().voter(m.from, m.incarnation)) return;  // counts in no quorum of this membership
  last_votes_[m.from] = LastVoteReport{m.passed_len, m.entries};
  if (last_votes_.size() >= latest().quorum()) become_president();  // B2: a majority
}

void Priest::on_begin_ballot(const Message& m) {
  if (!promise(m.ballot)) {
    vote_no(m);
    return;
  }
  if (m.from != opt_.id) follow(m.ballot);
  // Votes only within kVoteWindow of its own ledger: a priest that far behind learns the
  // ledger first (catch-up), and no president, honest or not, can make it hold a vote that
  // leaves a later president more than kVoteWindow numbers to fill.
  uint64_t voted_to = 0;
  for (const auto& e : m.entries) {
    if (e.decree_no > passed_len_ + kVoteWindow) break;
    voted_to = e.decree_no;
    // A number in the ledger holds its decree for good (a majority's votes chose it, and
    // B3 makes every later ballot propose it): vote without recording. Every other vote is
    // recorded, so that a last vote reports what this priest voted.
    if (e.decree_no <= passed_len_) continue;
    Entry v{e.decree_no, m.ballot, e.decree};
    votes_[e.decree_no] = v;
    ready_.votes.push_back(std::move(v));  // durable before the vote leaves
  }
  learn_commit(m.ballot, m.commit_no);
  apply_passed();
  if (!m.entries.empty() && voted_to == 0) return;  // all too far ahead: no vote
  if (!m.entries.empty())
    event(Event::Kind::VoteYes, m.ballot, m.entries.front().decree_no, voted_to, m.from);
  Message yes = make(Kind::Voted, m.from);
  yes.ballot = m.ballot;
  if (m.entries.empty()) {
    yes.decree_no = 1;
    yes.last_no = 0;
  } else {
    yes.decree_no = m.entries.front().decree_no;
    yes.last_no = voted_to;
  }
  send(std::move(yes));
}

void Priest::vote_no(const Message& m) {
  event(Event::Kind::VoteNo, m.ballot, 0, 0, m.from, "promised a higher ballot " + to_string(next_bal_));
  Message no = make(Kind::VoteNo, m.from);
  no.ballot = m.ballot;
  no.promised = next_bal_;
  send(std::move(no));
}

void Priest::on_success(const Message& m) {
  if (m.ballot < next_bal_) {
    vote_no(m);
    return;
  }
  follow(m.ballot);
  learn_commit(m.ballot, m.commit_no);
  apply_passed();
  Message ack = make(Kind::Voted, m.from);  // an empty vote: "here, and I hold passed_len"
  ack.ballot = m.ballot;
  ack.decree_no = 1;
  ack.last_no = 0;
  ack.token = m.token;  // a read's round: "I still follow your ballot" (begin_read)
  send(std::move(ack));
}

// Catch-up: decrees from the sender's ledger. A ledger holds only chosen decrees, so they
// are recorded whoever of the parliament sends them; but they say nothing about any ballot,
// so they are never a commit. A president that learns this way that a number it holds open
// (first_open_ and above) passed with another decree than the one it began there steps down
// first: its ballot can no longer be the one that chose it, and its next successful ballot
// would tell its followers to record their votes of its ballot there (learn_commit).
void Priest::on_catch_up(const Message& m) {
  bool learned = false;
  for (const auto& e : m.entries) {
    if (e.decree_no <= passed_len_ || passed_ahead_.count(e.decree_no)) continue;  // held
    if (role_ == Role::President && e.decree_no >= first_open_) {
      auto t = in_flight_.find(e.decree_no);
      if (t == in_flight_.end() || t->second.decree.origin != e.decree.origin)
        step_down("decree " + std::to_string(e.decree_no) + " passed in another ballot (proposed in " +
                      to_string(e.decree.origin) + "), priest " + std::to_string(m.from) + " says",
                  true);
    }
    passed_ahead_[e.decree_no] = e;
    learned = true;
  }
  apply_passed();
  if (!learned) return;
  Message ack = make(Kind::CatchUp, m.from);  // no decrees: "I now hold passed_len"
  send(std::move(ack));
}

void Priest::on_failed(const Message& m) {
  if (president_ == m.from && m.ballot.priest == m.from) {
    note("priest " + std::to_string(opt_.id) + " hears that president " +
         std::to_string(m.from) + " abandoned ballot " + to_string(m.ballot));
    set_president(std::nullopt);
    // The president handed over (it left the membership, or lost its quorum): stand soon,
    // at a random moment within a heartbeat so that the priests rarely stand together.
    if (role_ == Role::Follower)
      election_deadline_ = std::min(election_deadline_, now_ + 1 + rng_() % opt_.heartbeat_ticks);
  }
}

void Priest::on_voted(const Message& m) {
  if (role_ != Role::President || m.ballot != ballot_) return;
  // Every number in flight is of the membership in force (a president begins nothing above
  // a membership decree until it passed, and then stands again): its voters count.
  if (!latest().voter(m.from, m.incarnation)) return;
  if (m.token) {
    auto& acked = read_acked_[m.from];
    acked = std::max(acked, m.token);
    confirm_reads();
  }
  if (m.last_no < m.decree_no) return;
  auto it = in_flight_.lower_bound(m.decree_no);
  while (it != in_flight_.end() && it->first <= m.last_no) {
    it->second.yes.insert(m.from);
    if (it->second.yes.size() >= latest().quorum()) {  // B2: a majority voted yes: passed
      uint64_t n = it->first;
      Entry e{n, ballot_, std::move(it->second.decree)};
      in_flight_bytes_ -= e.decree.text.size();
      it = in_flight_.erase(it);
      if (n > passed_len_) passed_ahead_[n] = e;
    } else {
      ++it;
    }
  }
  apply_passed();
}

void Priest::on_vote_no(const Message& m) {
  if (!latest().voter(m.from, m.incarnation)) return;
  max_round_seen_ = std::max(max_round_seen_, m.promised.round);
  if (role_ != Role::Follower && m.ballot == ballot_ && m.promised > ballot_)
    step_down("priest " + std::to_string(m.from) + " has promised ballot " +
                  to_string(m.promised),
              true);
}

void Priest::on_forward(const Message& m) {
  Waiter w{m.from, m.token};
  if (m.entries.empty()) return;
  if (m.entries.front().decree.membership) {
    auto j = nlohmann::json::parse(m.entries.front().decree.text, nullptr, false);
    auto c = parse_change(j);
    if (!c) return answer(w, 0, c.error(), false);
    if (role_ == Role::President) return handle_change(w, *c);
    return answer(w, 0, "priest " + std::to_string(opt_.id) + " is no longer president; retry", false);
  }
  // The forwarding priest may not have learned a revocation this president holds: no decree
  // of a client revoked at decree n is begun above n, whoever carried it here.
  if (latest().is_revoked(m.owner)) return answer(w, 0, revoked_text(m.owner), false);
  if (role_ == Role::President) {
    enqueue(m.entries.front().decree, w);
  } else {
    answer(w, 0,
           "priest " + std::to_string(opt_.id) + " is no longer president; retry", false);
  }
}

// When the president changes, a proposal forwarded to the old one may never be answered:
// tell its client now (it may still pass; a retry of the same request is safe).
void Priest::set_president(std::optional<PriestId> p) {
  if (p == president_) return;
  for (auto it = forwarded_.begin(); it != forwarded_.end();) {
    if (president_ && it->second == *president_) {
      ready_.replies.push_back(ClientReply{
          it->first, 0,
          "president " + std::to_string(it->second) + " was replaced before it answered; retry",
          !read_tokens_.count(it->first)});
      read_tokens_.erase(it->first);
      it = forwarded_.erase(it);
    } else {
      ++it;
    }
  }
  president_ = p;
}

void Priest::on_answer(const Message& m) {
  auto f = forwarded_.find(m.token);
  // Only an answer from the priest the request was forwarded to is heard. Any other (a late
  // one for a token forwarded before this priest changed president or restarted, or one
  // from a priest that was never asked) is dropped: host tokens start at random, so one
  // life's tokens are not another's.
  if (f == forwarded_.end() || f->second != m.from) return;
  forwarded_.erase(f);
  if (read_tokens_.erase(m.token) && m.error.empty()) {
    // The president's n: answered once this ledger holds it.
    read_waits_.push_back(PendingRead{Waiter{opt_.id, m.token}, 0, m.decree_no});
    return answer_read_waits();
  }
  ready_.replies.push_back(ClientReply{m.token, m.decree_no, m.error, m.outcome_unknown});
}

// ---------------------------------------------------------------- president

void Priest::enqueue(Decree d, Waiter w) {
  RequestKey key{d.client, d.request};
  if (auto c = clients_.find(d.client); c != clients_.end() && d.request <= c->second.request) {
    if (d.request == c->second.request)
      answer(w, c->second.decree_no, "", false);  // a retry of a passed request
    else
      answer(w, 0,
             "request " + std::to_string(d.request) + " of client " + std::to_string(d.client) +
                 " is older than its last passed request " + std::to_string(c->second.request),
             false);
    return;
  }
  auto& waiters = waiting_[key];
  bool known = !waiters.empty() || proposed_.count(key);
  // Bounded by count and by bytes (max_queued, max_queued_bytes): a client pipelining large
  // decrees must not grow the president without end.
  if (!known && (queue_.size() >= opt_.max_queued ||
                 (!queue_.empty() && queued_bytes_ + d.text.size() > opt_.max_queued_bytes))) {
    waiting_.erase(key);
    answer(w, 0,
           "president " + std::to_string(opt_.id) + " is overloaded (" +
               std::to_string(queue_.size()) + " proposals, " + std::to_string(queued_bytes_ >> 10) +
               " KiB queued); retry later",
           false);
    return;
  }
  waiters.push_back(w);
  if (!known) {
    queued_bytes_ += d.text.size();
    queue_.push_back(Queued{std::move(d), w});
  }
}

void Priest::begin_ballots() {
  if (role_ != Role::President) return;
  if (era_end_ && next_no_ >= era_end_) return;  // the membership ends below: nothing more
  if (change_ && !change_->begun) {
    // Teaching a new priest, client decrees still pass. Once it is within one catch-up
    // chunk, new proposals wait; the change's decree begins alone once what is in flight
    // passed and the new priest holds the whole ledger (it learns it before it counts).
    PriestId learner = change_->change.priest.id;
    bool remove = !change_->change.teaches();
    bool close = remove || (heard_tick_.count(learner) &&
                            peer_len_[learner] + opt_.catch_up_chunk >= passed_len_);
    if (close) {
      if (remove || peer_len_[learner] >= passed_len_) begin_change();
      return;
    }
  }
  while (!open_ballots_.empty() && open_ballots_.front() <= passed_len_) open_ballots_.pop_front();
  // With max_open_ballots begin ballots still waiting for a majority, proposals gather into
  // the next one until one of those passes (or a whole batch is ready): fewer, larger
  // ballots, so every priest fdatasyncs once for more decrees.
  if (open_ballots_.size() >= opt_.max_open_ballots && queue_.size() < opt_.max_batch_decrees) return;
  while (!queue_.empty() && in_flight_.size() < opt_.max_in_flight &&
         in_flight_bytes_ < opt_.max_in_flight_bytes) {
    std::vector<Entry> batch;
    size_t bytes = 0;
    while (!queue_.empty() && batch.size() < opt_.max_batch_decrees &&
           bytes < opt_.max_batch_bytes && in_flight_.size() + batch.size() < opt_.max_in_flight &&
           in_flight_bytes_ + bytes < opt_.max_in_flight_bytes) {
      Queued q = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= q.decree.text.size();
      uint64_t n = next_no_++;
      q.decree.origin = ballot_;
      proposed_[{q.decree.client, q.decree.request}] = n;
      bytes += q.decree.text.size();
      batch.push_back(Entry{n, ballot_, std::move(q.decree)});
    }
    begin(std::move(batch));
  }
}

void Priest::begin(std::vector<Entry> entries) {
  if (entries.empty()) return;
  Message bb = make(Kind::BeginBallot, 0);
  bb.ballot = ballot_;
  bb.commit_no = passed_len_;
  for (const auto& e : entries) {
    if (e.decree_no <= passed_len_ || passed_ahead_.count(e.decree_no))
      invariant_failed("a president begins a decree at a number already passed");
    in_flight_bytes_ += e.decree.text.size();
    in_flight_[e.decree_no] = Tally{e.decree, now_, {}};
  }
  open_ballots_.push_back(entries.back().decree_no);
  event(Event::Kind::Begin, ballot_, entries.front().decree_no, entries.back().decree_no);
  bb.entries = std::move(entries);
  commit_sent_ = passed_len_;
  send_all(bb);
}

void Priest::heartbeat() {
  last_heartbeat_tick_ = now_;
  Message s = make(Kind::Success, 0);
  s.ballot = ballot_;
  s.commit_no = passed_len_;
  commit_sent_ = passed_len_;
  // While reads wait, every heartbeat asks again for the latest round (sent after each of
  // them arrived, so its acknowledgement confirms them all): a lost round or ack costs a
  // heartbeat, not the read.
  s.token = reads_.empty() ? 0 : read_round_;
  send_others(s);
}

// Messages can be lost (a link drops, a priest restarts): begin again, for the priests that
// have not voted, every decree begun more than two heartbeats ago.
void Priest::resend_unvoted() {
  for (PriestId p : latest().ids()) {
    Message bb = make(Kind::BeginBallot, p);
    bb.ballot = ballot_;
    bb.commit_no = passed_len_;
    auto flush = [&] {
      if (!bb.entries.empty()) send(bb);
      bb.entries.clear();
    };
    size_t sent = 0;
    for (auto& [n, t] : in_flight_) {
      if (sent >= opt_.max_batch_decrees) break;
      bool stale = now_ - t.sent_tick >= 2 * opt_.heartbeat_ticks;
      if (!stale || t.yes.count(p)) {
        flush();  // a vote's range must be consecutive numbers
        continue;
      }
      if (!bb.entries.empty() && bb.entries.back().decree_no + 1 != n) flush();  // (a number passed between)
      bb.entries.push_back(Entry{n, ballot_, t.decree});
      ++sent;
    }
    flush();
  }
  for (auto& [n, t] : in_flight_)
    if (now_ - t.sent_tick >= 2 * opt_.heartbeat_ticks) t.sent_tick = now_;
}

void Priest::check_quorum() {
  if (now_ - became_president_tick_ < opt_.election_timeout_ticks) return;
  if (reachable().size() < latest().quorum()) step_down(quorum_report(), true);
}

// A president whose phase 1 heard that decrees passed up to some number learns them by
// catch-up from the priest that had them. If that priest lost them (its ledger's unsynced
// tail, in a crash), nobody can send them, though they are safe in a majority's votes: the
// president would wait forever at the gap. So, stuck at a gap for two election timeouts, it
// runs next ballot again; this time the last votes report the decrees and B3 re-proposes them.
void Priest::check_gap() {
  if (passed_ahead_.empty() || passed_len_ != gap_len_) {
    gap_len_ = passed_len_;
    gap_since_ = now_;
    return;
  }
  if (now_ - gap_since_ < 2 * opt_.election_timeout_ticks) return;
  step_down("decree " + std::to_string(passed_len_ + 1) +
                " is missing from every ledger it can reach; asking again with a new ballot",
            true);
  stand_for_president();
}

// ---------------------------------------------------------------- everyone

// The president of ballot b proposes one decree per number, and tells what passed up to
// commit_no; a vote of this priest in that same ballot is therefore the passed decree.
void Priest::learn_commit(const Ballot& b, uint64_t commit_no) {
  for (uint64_t n = passed_len_ + 1; n <= commit_no; ++n) {
    if (passed_ahead_.count(n)) continue;
    auto v = votes_.find(n);
    if (v == votes_.end() || v->second.ballot != b) break;  // a gap: catch-up fills it
    passed_ahead_[n] = v->second;
  }
}

void Priest::apply_passed() {
  bool new_era = false;
  uint64_t revoked_at = 0;  // a membership decree here revoked a client
  while (!passed_ahead_.empty() && passed_ahead_.begin()->first <= passed_len_ + 1) {
    auto node = passed_ahead_.extract(passed_ahead_.begin());
    Entry e = std::move(node.mapped());
    if (e.decree_no <= passed_len_) continue;
    if (e.decree_no != passed_len_ + 1) invariant_failed("applying a decree out of order");
    uint64_t n = ++passed_len_;
    grew_tick_ = now_;
    votes_.erase(n);
    e.ballot = e.decree.origin;  // the ledger records the ballot that proposed it
    if (e.decree.membership && n <= latest().decree_no) {
      // Known already: a joining priest was given the membership this decree set.
    } else if (e.decree.membership) {
      auto next = parse_membership_decree(e.decree.text, n);
      if (!next) invariant_failed("a membership decree passed that does not parse");
      if (next->revoked != membership_.revoked) revoked_at = n;
      membership_ = *next;
      ready_.membership = *next;
      new_era = true;
      note("decree " + std::to_string(n) + " sets the membership: priests " +
           list_ids(next->ids()));
      if (change_ && already_applied(*next, change_->change)) end_change("", n);
    } else if (!e.decree.olive_day) {
      RequestKey key{e.decree.client, e.decree.request};
      auto& rec = clients_[e.decree.client];
      uint64_t answer_no = n;
      std::string error;
      if (e.decree.request <= rec.request) {
        // A retry that passed twice: the ledger keeps the first; this one becomes olive-day.
        answer_no = e.decree.request == rec.request ? rec.decree_no : 0;
        if (!answer_no) error = "request superseded by a later request of the same client";
        note("decree " + std::to_string(n) + " repeats request " +
             std::to_string(e.decree.request) + " of client " + std::to_string(e.decree.client) +
             "; recorded as olive-day");
        e.decree = Decree::olive(e.decree.origin);
      } else {
        rec = ClientRecord{e.decree.request, n};
      }
      if (auto w = waiting_.find(key); w != waiting_.end()) {
        for (auto& waiter : w->second) answer(waiter, answer_no, error, false);
        waiting_.erase(w);
      }
      proposed_.erase(key);
    }
    if (auto t = in_flight_.find(n); t != in_flight_.end()) {
      in_flight_bytes_ -= t->second.decree.text.size();
      in_flight_.erase(t);
    }
    ready_.passed.push_back(std::move(e));
  }
  if (revoked_at) fail_queued("a revocation passed as decree " + std::to_string(revoked_at) +
                              ": propose again (a revoked client is refused)");
  if (new_era) era_changed();
  if (role_ == Role::Candidate && awaiting_len_ && passed_len_ >= awaiting_len_)
    restand("it now holds the ledger its quorum holds, up to decree " + std::to_string(awaiting_len_));
  if (!read_waits_.empty()) answer_read_waits();
  if (role_ == Role::President && !reads_.empty()) confirm_reads();
}

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
  if (latest().find(from)) return true;  // (step() decides what another incarnation may say)
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
  note("priest " + std::to_string(opt_.id) + " hears nothing from priest " + std::to_string(m.from) +
       " speaking as incarnation " + incarnation_text(m.incarnation) + ": " + why);
}

void Priest::handle_change(const Waiter& w, const Change& c) {
  if (already_applied(latest(), c)) return answer(w, latest().decree_no, "", false);
  auto next = apply_change(latest(), c);
  if (!next) return answer(w, 0, next.error(), false);
  if (change_) {
    if (change_->change == c) return change_->waiters.push_back(w);
    return answer(w, 0,
                  "another membership change is under way (" + describe(change_->change) +
                      "); one at a time: retry once it has passed",
                  false);
  }
  change_ = PendingChange{c, {w}, now_, false};
  if (!c.teaches()) return;
  // What this priest knew of an earlier life of that id says nothing about the new one.
  peer_len_.erase(c.priest.id);
  heard_tick_.erase(c.priest.id);
  catch_up_sent_.erase(c.priest.id);
  note("president " + std::to_string(opt_.id) + " teaches the ledger to the priest it will " +
       describe(c) + ", then proposes the change");
  tell_peers();
}

// One membership decree at a time, begun alone: every lower number passed and known, none
// in flight (docs/SAFETY.md, "Membership").
bool Priest::begin_change() {
  if (!in_flight_.empty() || !passed_ahead_.empty() || passed_len_ + 1 != next_no_) return false;
  auto next = apply_change(latest(), change_->change);
  if (!next) {
    end_change(next.error(), 0);
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

void Priest::end_change(const std::string& error, uint64_t decree_no) {
  bool unknown = !error.empty() && change_->begun;
  for (auto& w : change_->waiters) answer(w, decree_no, error, unknown);
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
  for (auto& q : queue_) {
    auto w = waiting_.find({q.decree.client, q.decree.request});
    if (w == waiting_.end()) continue;
    for (auto& waiter : w->second) answer(waiter, 0, why, false);
    waiting_.erase(w);
  }
  queue_.clear();
  queued_bytes_ = 0;
}

void Priest::era_changed() {
  tell_peers();
  const std::string n = std::to_string(latest().decree_no);
  if (!voter()) {
    note("priest " + std::to_string(opt_.id) + " is not a voter of the membership set by decree " + n);
    if (role_ != Role::Follower) step_down("no longer a member of the parliament (decree " + n + "); handing over", false);
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

void Priest::answer(const Waiter& w, uint64_t decree_no, std::string error, bool unknown) {
  if (w.origin == opt_.id) {
    ready_.replies.push_back(ClientReply{w.token, decree_no, std::move(error), unknown});
    return;
  }
  Message a = make(Kind::Answer, w.origin);
  a.token = w.token;
  a.decree_no = decree_no;
  a.error = std::move(error);
  a.outcome_unknown = unknown;
  send(std::move(a));
}

// Whoever holds more of the ledger than a peer it hears from sends it the difference, one
// chunk at a time, once the peer is stuck: behind, and its ledger not growing for two ticks
// (a peer that is merely a commit message behind learns by itself). The next chunk goes
// once the peer's ledger has stopped growing again for two ticks (it says its length in
// every message, and acknowledges each chunk), or after a silence.
void Priest::maybe_catch_up(PriestId peer) {
  if (peer == opt_.id) return;
  uint64_t plen = peer_len_[peer];
  if (plen >= passed_len_) return;
  auto& s = catch_up_sent_[peer];
  if (plen != s.seen_len) {
    s.seen_len = plen;
    s.seen_tick = now_;
  }
  if (now_ - s.seen_tick < 2) return;
  if (plen < s.from && now_ - s.tick < 2 * opt_.heartbeat_ticks) return;
  uint64_t upto = std::min(passed_len_, plen + opt_.catch_up_chunk);
  ready_.catch_up.push_back(CatchUp{peer, plen + 1, upto});
  s.from = plen + 1;
  s.tick = now_;
}

Message Priest::make(Kind k, PriestId to) const {
  Message m;
  m.kind = k;
  m.from = opt_.id;
  m.to = to;
  m.incarnation = opt_.incarnation;
  return m;
}

void Priest::send(Message m) {
  m.from = opt_.id;
  m.incarnation = opt_.incarnation;
  m.passed_len = passed_len_;
  ready_.messages.push_back(std::move(m));
}

void Priest::send_all(const Message& m) {
  for (PriestId p : latest().ids()) {
    Message c = m;
    c.to = p;
    send(std::move(c));
  }
}

// Every other priest of the membership, and the priest the president is teaching.
void Priest::send_others(const Message& m) {
  auto to = latest().ids();
  if (change_ && change_->change.op == Change::Op::Add) to.push_back(change_->change.priest.id);
  for (PriestId p : to) {
    if (p == opt_.id) continue;
    Message c = m;
    c.to = p;
    send(std::move(c));
  }
}

std::vector<PriestId> Priest::reachable() const {
  std::vector<PriestId> out;
  for (PriestId p : latest().ids()) {
    if (p == opt_.id) {
      out.push_back(p);
      continue;
    }
    auto it = heard_tick_.find(p);
    if (it != heard_tick_.end() && now_ - it->second <= opt_.election_timeout_ticks)
      out.push_back(p);
  }
  return out;
}

std::string Priest::quorum_report() const {
  auto r = reachable();
  return "no quorum: reached " + std::to_string(r.size()) + " of " +
         std::to_string(latest().priests.size()) + " priests (" + list_ids(r) +
         "); is the network partitioned?";
}

}  // namespace parliament
