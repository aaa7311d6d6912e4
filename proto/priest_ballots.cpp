// The priest's ballots: the handlers of the paper's messages, the president's begin ballots
// and heartbeats, and how a decree comes to be recorded as passed (see priest.hpp).
#include "proto/priest.hpp"

#include <algorithm>

#include "proto/priest_internal.hpp"

namespace parliament {

using namespace priest_detail;

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
      // Give the candidate time to finish: no pre-ballot of its own or of a rival meanwhile.
      set_president(std::nullopt);
      election_.stop_asking();
      election_.renew_lease(now_ + opt_.election_timeout_ticks, m.from);
      reset_election_timer();
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
  for (auto it = votes_.lower_bound(m.decree_no); it != votes_.end(); ++it)
    lv.entries.push_back(it->second);
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
  if (!m.quorum && m.from != opt_.id) return hear_begin_ballot(m);
  forget_told_unless(m.ballot);
  // What the ballot says passed is recorded first: it frees what this priest holds.
  learn_commit(m);
  apply_passed();
  // Votes only within kVoteWindow of its own ledger: a priest that far behind learns the
  // ledger first (catch-up), and no president, honest or not, can make it hold a vote that
  // leaves a later president more than kVoteWindow numbers to fill.
  uint64_t voted_to = 0;
  for (const auto& e : m.entries) {
    if (e.decree_no > passed_len_ + kVoteWindow) break;
    if (e.decree_no > passed_len_ && !may_hold(votes_, e)) break;  // bounded: votes no further
    voted_to = e.decree_no;
    // A number in the ledger holds its decree for good (a majority's votes chose it, and
    // B3 makes every later ballot propose it): vote without recording. Every other vote is
    // recorded, so that a last vote reports what this priest voted.
    if (e.decree_no <= passed_len_) continue;
    Entry v{e.decree_no, m.ballot, e.decree};
    votes_.put(v);
    heard_.erase(e.decree_no);             // (its vote holds the same decree now)
    ready_.votes.push_back(std::move(v));  // durable before the vote leaves
  }
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

// A begin ballot that does not ask this priest to vote: it keeps the decrees (the president
// proposes one decree per number in a ballot) to record when a successful ballot of the same
// ballot says they passed, and writes, syncs and sends nothing.
void Priest::hear_begin_ballot(const Message& m) {
  forget_told_unless(m.ballot);
  learn_commit(m);
  apply_passed();
  for (const auto& e : m.entries) {
    if (e.decree_no > passed_len_ + kVoteWindow) break;
    if (e.decree_no <= passed_len_) continue;
    if (!may_hold(heard_, e)) break;  // the rest it learns by catch-up
    heard_.put(Entry{e.decree_no, m.ballot, e.decree});
  }
}

// Whether this priest may hold e above its ledger in `in` (its votes, or what it was told),
// bounded by max_held_bytes over votes and told decrees together. Always the ledger's next
// number (what lets the ledger grow, and so frees the bound), a decree no longer than the
// one it replaces, and any decree while nothing is held (a ballot of one long decree);
// otherwise only if the text held afterwards stays within the bound. So no president, honest
// or not, makes it hold more than the bound and a decree or two.
bool Priest::may_hold(const HeldDecrees& in, const Entry& e) const {
  if (e.decree_no == passed_len_ + 1) return true;
  size_t held = votes_.bytes() + heard_.bytes();
  if (held == 0) return true;
  auto it = in.find(e.decree_no);
  size_t replaced = it == in.end() ? 0 : it->second.decree.text.size();
  if (it != in.end() && e.decree.text.size() <= replaced) return true;
  return held - replaced + e.decree.text.size() <= opt_.max_held_bytes;
}

// Decrees told by a ballot other than b: this priest promised b, which is higher, so no
// successful ballot of theirs is heard any more, and they would only be held.
void Priest::forget_told_unless(const Ballot& b) {
  if (!heard_.empty() && heard_.begin()->second.ballot != b) heard_.clear();
}

void Priest::vote_no(const Message& m) {
  event(Event::Kind::VoteNo, m.ballot, 0, 0, m.from,
        "promised a higher ballot " + to_string(next_bal_));
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
  learn_commit(m);
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
      const auto* t = tallies_.find(e.decree_no);
      if (!t || t->decree.origin != e.decree.origin)
        step_down("decree " + std::to_string(e.decree_no) +
                      " passed in another ballot (proposed in " + to_string(e.decree.origin) +
                      "), priest " + std::to_string(m.from) + " says",
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
  // Only the ballot it follows, which is its promise or one it learned from a successful
  // ballot (or a later one of the same president): a failed ballot of an earlier one,
  // arriving late, says nothing about the ballot now.
  if (president_ == m.from && m.ballot.priest == m.from &&
      !(m.ballot < std::max(next_bal_, following_))) {
    note("priest " + std::to_string(opt_.id) + " hears that president " +
         std::to_string(m.from) + " abandoned ballot " + to_string(m.ballot));
    set_president(std::nullopt);
    election_.end_lease();
    // The president handed over (it left the membership, or lost its quorum): stand soon,
    // at a random moment within a heartbeat so that the priests rarely stand together.
    if (role_ == Role::Follower)
      election_.hurry(now_ + 1 + rng_() % opt_.heartbeat_ticks);
  }
}

void Priest::on_voted(const Message& m) {
  if (role_ != Role::President || m.ballot != ballot_) return;
  // Every number in flight is of the membership in force (a president begins nothing above
  // a membership decree until it passed, and then stands again): its voters count.
  if (!latest().voter(m.from, m.incarnation)) return;
  if (m.token) {
    reads_.acked(m.from, m.token);
    confirm_reads();
  }
  if (m.last_no < m.decree_no) return;
  // B2
  for (auto& e : tallies_.vote(m.from, m.decree_no, m.last_no, latest(), ballot_, opt_.id, now_))
    if (e.decree_no > passed_len_) passed_ahead_[e.decree_no] = std::move(e);
  apply_passed();
}

void Priest::on_vote_no(const Message& m) {
  if (!latest().voter(m.from, m.incarnation)) return;
  election_.saw_round(m.promised.round);
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
    if (!c) return answer(w, 0, Code::Invalid, c.error());
    if (role_ == Role::President) return handle_change(w, *c);
    return answer(w, 0, Code::NotPresident,
                  "priest " + std::to_string(opt_.id) + " is no longer president; retry");
  }
  // The forwarding priest may not have learned a revocation this president holds: no decree
  // of a client revoked at decree n is begun above n, whoever carried it here.
  if (latest().is_revoked(m.owner)) return answer(w, 0, Code::Revoked, revoked_text(m.owner));
  if (role_ == Role::President) {
    enqueue(m.entries.front().decree, w);
  } else {
    answer(w, 0, Code::NotPresident,
           "priest " + std::to_string(opt_.id) + " is no longer president; retry");
  }
}

// When the president changes, a proposal forwarded to the old one may never be answered:
// tell its client now (it may still pass; a retry of the same request is safe). So too when
// the same president is heard in a later ballot and this priest missed its next ballot: if it
// failed and won again it forgot what it held (one that steps down first answers all it
// holds, on the same connection ahead of its new ballot; one that stands again for a new
// membership keeps its queue, and those are given up early, which a retry mends). Before,
// such a forward was kept until the president changed, holding its bytes of this priest's
// share. And since an answer can be lost even while the president stays (expire_forwards),
// none is kept longer than kForwardPatience election timeouts.
void Priest::set_president(std::optional<PriestId> p, const Ballot& b) {
  if (p == president_ && b == following_) return;
  for (auto it = forwarded_.begin(); it != forwarded_.end();) {
    const Forward& f = it->second;
    if (p && f.president == *p && f.ballot == b)
      ++it;
    else
      give_up_forward(it++, (f.president == p ? "began ballot " + to_string(b) : "was replaced") +
                                " before it answered");
  }
  president_ = p;
  following_ = b;
}

// Tokens grow with time (the host's count up), so the oldest forwards come first and each tick
// looks at those that expire and one more; a token out of that order (a test's) delays the
// ones behind it by at most one patience. A read the president answered with n waits for
// this ledger to reach n, which a priest cut off from every other does not: it too is given
// up after the same patience with the ledger still (before, it waited, holding a place of
// max_queued, until the priest was reached again). A ledger that grows is catching up (a
// priest back from a long stop learns thousands of decrees a round trip): its reads wait.
void Priest::expire_forwards() {
  const uint64_t patience = kForwardPatience * opt_.election_timeout_ticks;
  for (auto it = forwarded_.begin(); it != forwarded_.end() && now_ - it->second.since >= patience;)
    give_up_forward(
        it++, "did not answer within " + std::to_string(kForwardPatience) + " election timeouts");
  if (!reads_.waits() || now_ - std::min(grew_tick_, now_) < patience) return;
  for (auto& r : reads_.overdue(now_, patience))
    answer(r.waiter, 0, Code::NoPresident,
           "priest " + std::to_string(opt_.id) + " did not learn decree " + std::to_string(r.upto) +
               " within " + std::to_string(kForwardPatience) +
               " election timeouts of its president's answer, its ledger standing still; retry, "
               "or ask another priest");
}

void Priest::give_up_forward(std::map<uint64_t, Forward>::iterator it, const std::string& why) {
  ready_.replies.push_back(ClientReply{
      it->first, 0, reads_.is_forwarded(it->first) ? Code::NoPresident : Code::OutcomeUnknown,
      "president " + std::to_string(it->second.president) + " " + why + "; retry"});
  reads_.answered(it->first);
  forget_forward(it);
}

void Priest::forget_forward(std::map<uint64_t, Forward>::iterator it) {
  forwarded_bytes_ -= it->second.bytes;
  forwarded_.erase(it);
}

void Priest::on_answer(const Message& m) {
  auto f = forwarded_.find(m.token);
  // Only an answer from the priest the request was forwarded to is heard. Any other (a late
  // one for a token forwarded before this priest changed president or restarted, or one
  // from a priest that was never asked) is dropped: host tokens start at random, so one
  // life's tokens are not another's.
  if (f == forwarded_.end() || f->second.president != m.from) return;
  forget_forward(f);
  if (reads_.answered(m.token) && m.code == Code::Ok) {
    // The president's n: answered once this ledger holds it.
    reads_.wait(Waiter{opt_.id, m.token}, m.decree_no, now_);
    return answer_read_waits();
  }
  ready_.replies.push_back(ClientReply{m.token, m.decree_no, m.code, m.error});
}

// ---------------------------------------------------------------- president

void Priest::enqueue(Decree d, Waiter w) {
  auto seen = clients_.lookup(d.client, d.request);
  if (seen.seen == ClientTable::Seen::Passed) return answer(w, seen.decree_no);  // a retry
  if (seen.seen == ClientTable::Seen::Superseded)
    return answer(w, 0, Code::Superseded,
                  "request " + std::to_string(d.request) + " of client " +
                      std::to_string(d.client) + " is older than its last passed request " +
                      std::to_string(seen.last_request));
  // Bounded by count and by bytes (max_queued, max_queued_bytes), and in clients waiting on
  // one request.
  const uint64_t client = d.client, request = d.request;
  auto admitted = proposals_.admit(std::move(d), w, opt_.max_queued, opt_.max_queued_bytes);
  if (admitted == Proposals::Admitted::Full)
    answer(w, 0, Code::Overloaded,
           "president " + std::to_string(opt_.id) + " is overloaded (" +
               std::to_string(proposals_.queued()) + " proposals, " +
               std::to_string(proposals_.queued_bytes() >> 10) + " KiB queued); retry later");
  if (admitted == Proposals::Admitted::Crowded)
    answer(w, 0, Code::Overloaded,
           std::to_string(Proposals::kMaxJoined) + " copies of request " + std::to_string(request) +
               " of client " + std::to_string(client) + " already wait at president " +
               std::to_string(opt_.id) + "; wait for their answer, then retry");
}

void Priest::begin_ballots() {
  if (role_ != Role::President) return;
  if (era_end_ && next_no_ >= era_end_) return;  // the membership ends below: nothing more
  if (change_ && !change_->begun) {
    // Teaching a new priest, client decrees still pass. Once it is within one catch-up
    // chunk, new proposals wait; the change's decree begins alone once what is in flight
    // passed and the new priest holds the whole ledger (it learns it before it counts).
    uint64_t learner_len = peers_.len(change_->change.priest.id);
    if (change_->closing(learner_len, passed_len_, opt_.catch_up_chunk)) {
      if (change_->learner_ready(learner_len, passed_len_)) begin_change();
      return;
    }
  }
  // With max_open_ballots begin ballots still waiting for a majority, proposals gather into
  // the next one until one of those passes (or a whole batch is ready): fewer, larger
  // ballots, so every priest fdatasyncs once for more decrees.
  if (tallies_.open_ballots(passed_len_) >= opt_.max_open_ballots &&
      proposals_.queued() < opt_.max_batch_decrees)
    return;
  while (proposals_.queued() && tallies_.size() < opt_.max_in_flight &&
         tallies_.bytes() < opt_.max_in_flight_bytes) {
    std::vector<Entry> batch;
    size_t bytes = 0;
    while (proposals_.queued() && batch.size() < opt_.max_batch_decrees &&
           bytes < opt_.max_batch_bytes && tallies_.size() + batch.size() < opt_.max_in_flight &&
           tallies_.bytes() + bytes < opt_.max_in_flight_bytes) {
      Decree d = proposals_.take();
      uint64_t n = next_no_++;
      d.origin = ballot_;
      proposals_.began({d.client, d.request}, n);
      bytes += d.text.size();
      batch.push_back(Entry{n, ballot_, std::move(d)});
    }
    begin(std::move(batch));
  }
}

void Priest::begin(std::vector<Entry> entries) {
  if (entries.empty()) return;
  // What the safety argument relies on here (docs/SAFETY.md): B1, only the president of a
  // ballot begins it; a vote names a range, so a begin ballot's numbers are consecutive;
  // nothing is begun above a membership decree before it passed (its quorum is of the
  // membership in force below it); nothing already passed is begun again.
  if (role_ != Role::President || ballot_.priest != opt_.id)
    invariant_failed("B1: only the president of a ballot begins it");
  if (entries.back().decree_no - entries.front().decree_no + 1 != entries.size())
    invariant_failed("a begin ballot's decree numbers are consecutive");
  if (era_end_ && entries.back().decree_no >= era_end_)
    invariant_failed("membership: nothing is begun above a membership decree before it passed");
  Message bb = make(Kind::BeginBallot, 0);
  bb.ballot = ballot_;
  bb.commit_no = passed_len_;
  for (const auto& e : entries)
    if (e.decree_no <= passed_len_ || passed_ahead_.count(e.decree_no))
      invariant_failed("a president begins a decree at a number already passed");
  tallies_.begin(entries, now_);
  event(Event::Kind::Begin, ballot_, entries.front().decree_no, entries.back().decree_no);
  bb.entries = std::move(entries);
  commit_sent_ = passed_len_;
  // The ballot's quorum is asked to vote (the president always, its own vote counting); the
  // others are told the decrees only (Tallies, "the ballot's quorum"). A priest not heard
  // within an election timeout (stopped, cut off) would not read them soon: it is told
  // nothing, and asked only if the host has room (spare); it learns by catch-up once it
  // speaks again, and the resends ask it again.
  for (PriestId p : latest().ids()) {
    Message c = bb;
    c.to = p;
    c.quorum = p == opt_.id || tallies_.asks(p);
    if (!c.quorum && !reaches(p)) continue;
    c.spare = !reaches(p);
    send(std::move(c));
  }
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
  s.token = reads_.asking();
  send_others(s);
}

// Begins again, for the priests that have not voted, what was begun `stale` ticks ago: on
// every tick what the ballot's quorum left without a majority (unasked_only: asked of all
// once), and at each heartbeat whatever is two heartbeats old (a link dropped, a priest
// restarted: messages can be lost).
void Priest::resend_unvoted(uint64_t stale, bool unasked_only) {
  for (PriestId p : latest().ids()) {
    if (unasked_only && p == opt_.id) continue;  // it asked itself: its vote is on its way
    for (auto& run :
         tallies_.unvoted(p, now_, stale, opt_.max_batch_decrees, ballot_, unasked_only)) {
      Message bb = make(Kind::BeginBallot, p);
      bb.ballot = ballot_;
      bb.commit_no = passed_len_;
      bb.entries = std::move(run);
      // A repeat, or a first ask (unasked_only) of a priest not heard within an election
      // timeout: the host may drop it behind a backlog. A first ask of a priest that answers
      // is not: the ballot may need its vote.
      bb.spare = !unasked_only || !reaches(p);
      send(std::move(bb));
    }
  }
  tallies_.resent(now_, stale, unasked_only, opt_.id);
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
void Priest::learn_commit(const Message& m) {
  // Relied on: the word that numbers passed is believed only from the ballot's own priest
  // (step drops the rest), so only of its own tallies.
  if (m.from != m.ballot.priest)
    invariant_failed("B1: a commit is believed only from the president of its ballot");
  const Ballot& b = m.ballot;
  for (uint64_t n = passed_len_ + 1; n <= m.commit_no; ++n) {
    if (passed_ahead_.count(n)) continue;
    // Its vote in this ballot, or the decree this ballot's begin ballot told it without asking.
    const Entry* held = nullptr;
    if (auto v = votes_.find(n); v != votes_.end() && v->second.ballot == b)
      held = &v->second;
    else if (auto h = heard_.find(n); h != heard_.end() && h->second.ballot == b)
      held = &h->second;
    if (!held) break;  // a gap: catch-up fills it
    passed_ahead_[n] = *held;
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
    heard_.erase(n);
    e.ballot = e.decree.origin;  // the ledger records the ballot that proposed it
    if (e.decree.membership && n <= latest().decree_no) {
      // Known already: a joining priest was given the membership this decree set. Its host
      // records it once the ledger holding it is durable (a join is not always recorded:
      // Node::join), so that a later decree that removes this life retires it.
      if (n == latest().decree_no) ready_.membership = latest();
    } else if (e.decree.membership) {
      auto next = parse_membership_decree(e.decree.text, n);
      if (!next) invariant_failed("a membership decree passed that does not parse");
      if (next->revoked != membership_.revoked) revoked_at = n;
      membership_ = *next;
      ready_.membership = *next;
      new_era = true;
      note("decree " + std::to_string(n) + " sets the membership: priests " +
           id_list(next->ids()));
      if (change_ && already_applied(*next, change_->change)) end_change(n);
    } else if (!e.decree.olive_day) {
      RequestKey key{e.decree.client, e.decree.request};
      auto seen = clients_.passed(e.decree.client, e.decree.request, n);
      uint64_t answer_no = n;
      std::string error;
      Code code = Code::Ok;
      if (seen.seen != ClientTable::Seen::New) {
        // A retry that passed twice: the ledger keeps the first; this one becomes olive-day.
        answer_no = seen.decree_no;
        if (!answer_no) {
          code = Code::Superseded;
          error = "request superseded by a later request of the same client";
        }
        note("decree " + std::to_string(n) + " repeats request " +
             std::to_string(e.decree.request) + " of client " + std::to_string(e.decree.client) +
             "; recorded as olive-day");
        e.decree = Decree::olive(e.decree.origin);
      }
      for (auto& waiter : proposals_.passed(key)) answer(waiter, answer_no, code, error);
    }
    tallies_.passed(n);
    ready_.passed.push_back(std::move(e));
  }
  if (revoked_at) fail_queued("a revocation passed as decree " + std::to_string(revoked_at) +
                              ": propose again (a revoked client is refused)");
  if (new_era) era_changed();
  if (role_ == Role::Candidate && awaiting_len_ && passed_len_ >= awaiting_len_)
    restand("it now holds the ledger its quorum holds, up to decree " +
            std::to_string(awaiting_len_));
  if (reads_.waits()) answer_read_waits();
  if (role_ == Role::President && reads_.waiting()) confirm_reads();
}

}  // namespace parliament
