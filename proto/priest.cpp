// The priest's state machine: see priest.hpp for the host's contract. This file: what the
// host calls (tick, step, propose, read, status) and how a priest speaks (answer, send).
// The rest, by the state it owns: priest_elections.cpp, priest_ballots.cpp,
// priest_membership.cpp, priest_fingerprint.cpp.
#include "proto/priest.hpp"

#include <algorithm>

#include "proto/priest_internal.hpp"

namespace parliament {

using namespace priest_detail;

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
    if (n > passed_len_) votes_.put(e);
  election_.saw_round(next_bal_.round);
  told_len_ = passed_len_;
  reset_election_timer();
}

// ---------------------------------------------------------------- host interface

void Priest::tick() {
  ++now_;
  note_hearing();
  expire_forwards();
  if (role_ == Role::President) {
    // The priests learn what passed from the next begin ballot; when none follows, from a
    // successful ballot on the next tick, or the heartbeat.
    // A begin ballot its quorum left without a majority for two ticks (10 - 20 ms; longer
    // where decrees take longer to pass: Tallies::patience) is put to every priest that has
    // not voted (the slow members of the quorum too: the tallies do not keep whom each decree
    // asked); any unanswered for two heartbeats, sent again (a lost message, a priest back).
    resend_unvoted(tallies_.patience(), true);
    if (now_ - last_heartbeat_tick_ >= opt_.heartbeat_ticks) {
      heartbeat();
      resend_unvoted(2 * opt_.heartbeat_ticks, false);
    } else if (passed_len_ > commit_sent_) {
      Message s = make(Kind::Success, 0);
      s.ballot = ballot_;
      s.commit_no = commit_sent_ = passed_len_;
      send_others(s);
    }
    check_quorum();
    check_gap();
    // A priest being taught that is not heard from: tell the god rather than hold the
    // proposals that wait for the change.
    if (change_ && change_->learner_lost(now_, opt_.election_timeout_ticks)) {
      end_change(0, Code::Unreachable,
                 "priest " + std::to_string(change_->change.priest.id) + " with incarnation " +
                     incarnation_text(change_->change.priest.incarnation) + " at " +
                     change_->change.priest.host + ":" +
                     std::to_string(change_->change.priest.port) +
                     " did not answer the president; is it running, and was it told to join?");
    }
  } else if (election_.due(now_)) {
    pre_ballot();
  } else if (role_ == Role::Follower && president_ && *president_ != opt_.id &&
             peers_.len(*president_) > passed_len_ &&
             now_ - grew_tick_ >= 2 * opt_.heartbeat_ticks &&
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
    if (p != opt_.id && !std::binary_search(now.begin(), now.end(), p))
      event(Event::Kind::Lost, {}, 0, 0, p);
  told_hearing_ = std::move(now);
}


std::string Priest::refusal(const Message& m) const {
  uint64_t round_limit = std::min(kMaxRound, election_.max_round() + kRoundWindow);
  uint64_t number_limit = passed_len_ + kDecreeWindow;
  auto round_ok = [&](const Ballot& b) { return b.round <= round_limit; };
  auto too_far = [&](const char* what, uint64_t v) {
    return std::string(what) + " " + std::to_string(v) + " is far beyond this priest's ledger of " +
           std::to_string(passed_len_) + " decrees";
  };
  if (!round_ok(m.ballot) || !round_ok(m.promised))
    return "ballot round " + std::to_string(std::max(m.ballot.round, m.promised.round)) +
           " is far above any round this priest has seen (" +
           std::to_string(election_.max_round()) + ")";
  if (m.decree_no > number_limit) return too_far("decree number", m.decree_no);
  if (m.last_no > number_limit) return too_far("decree number", m.last_no);
  if (m.commit_no > number_limit) return too_far("decree number", m.commit_no);
  if (m.passed_len > number_limit) return too_far("ledger length", m.passed_len);
  uint64_t prev = 0;
  for (const auto& e : m.entries) {
    if (m.kind != Kind::Forward &&
        (e.decree_no == 0 || e.decree_no > number_limit || e.decree_no <= prev))
      return "decree numbers must rise from 1 and stay within reach of this priest's ledger of " +
             std::to_string(passed_len_) + " decrees (got " + std::to_string(e.decree_no) + ")";
    // A begin ballot's numbers are consecutive: its vote yes names them as a range.
    if (m.kind == Kind::BeginBallot && prev != 0 && e.decree_no != prev + 1)
      return "a begin ballot's decree numbers must be consecutive (" + std::to_string(prev) +
             " then " + std::to_string(e.decree_no) + ")";
    prev = e.decree_no;
    if (!round_ok(e.ballot) || !round_ok(e.decree.origin))
      return "decree " + std::to_string(e.decree_no) + " carries a ballot round far above any seen";
    size_t limit = e.decree.membership ? std::max(opt_.max_decree_bytes, kMaxMembershipBytes)
                                       : opt_.max_decree_bytes;
    if (e.decree.text.size() > limit)
      return "decree " + std::to_string(e.decree_no) + " of " +
             std::to_string(e.decree.text.size()) + " bytes is over the limit of " +
             std::to_string(limit) + " bytes";
    // A membership decree that passed is applied (apply_passed): it must be one.
    if (m.kind != Kind::Forward && e.decree.membership) {
      if (e.decree.olive_day)
        return "decree " + std::to_string(e.decree_no) + " is both olive-day and membership";
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
        return "a last vote reports a vote at decree " + std::to_string(highest) +
               " from a ledger of " + std::to_string(m.passed_len) +
               " decrees (no priest votes more than " + std::to_string(kVoteWindow) +
               " above its ledger)";
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
  //    catch-up acknowledgements, which say how far its ledger has got), nothing else.
  // Anyone else (a removed priest, a priest never added, one added by a decree this priest
  // has not learned yet, and any other life of a member id) is dropped here, catch-up
  // included. Another life's certificate proves only that the CA made it (for a replace
  // that may never have run): believing its ledger let it write decrees nobody proposed. A
  // priest behind an add or a replace learns it from the lives it knows (its pre-ballots
  // make them send it the ledger).
  const bool named = m.from == opt_.id ? m.incarnation == opt_.incarnation
                                       : latest().voter(m.from, m.incarnation);
  const bool taught = role_ == Role::President && change_ &&
                      change_->learning(m.from, m.incarnation) &&
                      (m.kind == Kind::Voted || m.kind == Kind::VoteNo ||
                       (m.kind == Kind::CatchUp && m.entries.empty()));
  if (!named && !taught) {
    stranger(m);
    return "";
  }
  // B1: a ballot belongs to the priest whose id it carries. Only that priest speaks in it as
  // president (next, begin, successful and failed ballot), and answers in it go to it.
  if (from_president(m.kind) && m.ballot.priest != m.from) return "";
  if ((m.kind == Kind::LastVote || m.kind == Kind::Voted || m.kind == Kind::VoteNo) &&
      m.ballot.priest != m.to)
    return "";
  // Heard: only the life the membership names counts towards reachability, never another
  // life of a member id (nor the new life a replace is teaching).
  if (named) peers_.heard(m.from, now_);
  if (taught) change_->heard = now_;
  if (m.kind != Kind::Forward && m.kind != Kind::Answer && m.kind != Kind::Read) {
    peers_.says_len(m.from, m.passed_len);
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
    answer(w, 0, Code::NotMember,
           "priest " + std::to_string(opt_.id) + " is not a member of the parliament as its "
           "ledger knows it (membership of decree " + std::to_string(latest().decree_no) +
               "); propose to a member");
    return;
  }
  if (latest().is_revoked(p.owner)) return answer(w, 0, Code::Revoked, revoked_text(p.owner));
  if (role_ == Role::President) {
    enqueue(std::move(p.decree), w);
  } else if (auto full = forwarding_full(); !full.empty()) {
    answer(w, 0, Code::Overloaded, full);
  } else if (president_ && *president_ != opt_.id) {
    Message f = make(Kind::Forward, *president_);
    f.token = p.token;
    f.owner = std::move(p.owner);
    Forward& fw = forwarded_[p.token];
    forwarded_bytes_ += p.decree.text.size() - fw.bytes;
    fw = Forward{*president_, following_, p.decree.text.size(), now_};
    f.entries.push_back(Entry{0, {}, std::move(p.decree)});
    send(std::move(f));
  } else {
    if (reachable().size() < latest().quorum())
      return answer(w, 0, Code::NoQuorum, quorum_report());
    answer(w, 0, Code::NoPresident,
           "no president yet: an election is under way (ballot " + to_string(next_bal_) +
               "); retry shortly");
  }
}

void Priest::read(uint64_t token) {
  Waiter w{opt_.id, token};
  if (role_ == Role::President) return begin_read(w);
  if (auto full = forwarding_full(); !full.empty()) return answer(w, 0, Code::Overloaded, full);
  if (president_ && *president_ != opt_.id) {
    Message r = make(Kind::Read, *president_);
    r.token = token;
    forwarded_[token] = Forward{*president_, following_, 0, now_};
    reads_.forwarded(token);
    send(std::move(r));
    return;
  }
  answer(w, 0, Code::NoPresident, "no president yet: an election is under way; retry shortly");
}

// A follower's requests waiting on its president (forwarded, or answered and waiting for
// this ledger to catch up) are bounded by max_queued, like the president's own queue: a
// president that never answers, or a ledger far behind, must not collect them without end.
std::string Priest::forwarding_full() const {
  if (forwarded_.size() + reads_.waits() < opt_.max_queued) return "";
  return std::to_string(forwarded_.size() + reads_.waits()) +
         " requests are waiting at priest " + std::to_string(opt_.id) +
         " for its president (max_queued); retry";
}

// Half the president's max_queued_bytes is for its own clients, the other half shared by the
// followers' forwards (each follower bounds what it has forwarded and not yet had answered):
// together they fit its queue, so that neither is refused as overloaded while both are held
// back in time. (An empty queue, or none forwarded, takes any decree.)
bool Priest::room_for_client() const {
  const size_t half = opt_.max_queued_bytes / 2;
  if (role_ != Role::President) {
    const size_t followers = std::max<size_t>(1, latest().priests.size()) - 1;
    return forwarding_full().empty() &&
           (forwarded_bytes_ == 0 ||
            forwarded_bytes_ + opt_.max_decree_bytes <= half / std::max<size_t>(1, followers));
  }
  if (reads_.waiting() >= opt_.max_queued) return false;
  return proposals_.queued() == 0 || (proposals_.queued() < opt_.max_queued &&
                                      proposals_.queued_bytes() + opt_.max_decree_bytes <= half);
}

void Priest::on_read(const Message& m) {
  Waiter w{m.from, m.token};
  if (role_ == Role::President && latest().find(m.from)) return begin_read(w);
  answer(w, 0, Code::NotPresident,
         "priest " + std::to_string(opt_.id) + " is no longer president; retry");
}

void Priest::begin_read(Waiter w) {
  // Bounded like proposals: each read costs a successful ballot to every priest.
  if (reads_.waiting() >= opt_.max_queued)
    return answer(w, 0, Code::Overloaded,
                  std::to_string(reads_.waiting()) + " reads are waiting at president " +
                      std::to_string(opt_.id) + " (max_queued); retry");
  // Everything any client was told passed is in this priest's ledger or among what its
  // election re-proposed (B3): n covers it once the ledger reaches n.
  reads_.begin(w, std::max(passed_len_, settled_no_), latest().decree_no);
  confirm_reads();  // a parliament of one
}

// The reads that arrived in this turn share one round, sent now (ReadIndex).
void Priest::send_read_round() {
  uint64_t round = reads_.to_send();
  if (round == 0 || role_ != Role::President) return;
  Message s = make(Kind::Success, 0);
  s.ballot = ballot_;
  s.commit_no = commit_sent_ = passed_len_;
  s.token = round;  // acknowledged with this round by whoever still follows ballot_
  send_others(s);
}

void Priest::confirm_reads() {
  const Membership& m = latest();
  for (auto& r : reads_.confirmed(m.ids(), m.quorum(), opt_.id, passed_len_, m.decree_no))
    answer(r.waiter, r.upto);
}

void Priest::answer_read_waits() {
  for (auto& r : reads_.ready(passed_len_)) answer(r.waiter, r.upto);
}

void Priest::fail_reads(const std::string& why) {
  for (auto& r : reads_.abandon()) answer(r.waiter, 0, Code::Abandoned, why);
}

void Priest::propose_change(uint64_t token, const Change& c) {
  Waiter w{opt_.id, token};
  if (role_ == Role::President) {
    handle_change(w, c);
  } else if (president_ && *president_ != opt_.id) {
    Message f = make(Kind::Forward, *president_);
    f.token = token;
    forwarded_[token] = Forward{*president_, following_, 0, now_};
    Decree d;
    d.membership = true;
    d.text = change_to_json(c).dump();
    f.entries.push_back(Entry{0, {}, std::move(d)});
    send(std::move(f));
  } else {
    answer(w, 0, Code::NoPresident, "no president yet: an election is under way; retry shortly");
  }
}

Ready Priest::take_ready() {
  begin_ballots();
  send_read_round();
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
  s.in_flight = tallies_.size();
  s.queued = proposals_.queued();
  s.waiting = proposals_.waiting();
  s.passed_ahead = passed_ahead_.size();
  s.membership = latest();
  s.voter = voter();
  if (change_) s.change = change_->stage();
  return s;
}


void Priest::answer(const Waiter& w, uint64_t decree_no, Code code, std::string error) {
  if (w.origin == opt_.id) {
    ready_.replies.push_back(ClientReply{w.token, decree_no, code, std::move(error)});
    return;
  }
  Message a = make(Kind::Answer, w.origin);
  a.token = w.token;
  a.decree_no = decree_no;
  a.code = code;
  a.error = std::move(error);
  send(std::move(a));
}

// Whoever holds more of the ledger than a peer it hears from sends it the difference, paced
// (Peers::catch_up).
void Priest::maybe_catch_up(PriestId peer) {
  if (peer == opt_.id) return;
  auto c = peers_.catch_up(peer, passed_len_, now_, opt_.heartbeat_ticks, opt_.catch_up_chunk);
  if (c) ready_.catch_up.push_back(CatchUp{peer, c->from_no, c->upto_no});
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
  return peers_.reachable(latest().ids(), opt_.id, now_, opt_.election_timeout_ticks);
}

bool Priest::reaches(PriestId p) const {
  return p == opt_.id || peers_.heard_within(p, now_, opt_.election_timeout_ticks);
}

std::string Priest::quorum_report() const {
  return no_quorum_text(reachable(), latest().priests.size());
}

}  // namespace parliament
