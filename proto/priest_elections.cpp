// The priest's elections: pre-ballots, the lease, standing for president (next ballot and
// last votes), becoming president (B3), stepping down and following (see priest.hpp).
#include "proto/priest.hpp"

#include <algorithm>

#include "proto/priest_internal.hpp"

namespace parliament {

using namespace priest_detail;

// ---------------------------------------------------------------- elections

void Priest::reset_election_timer() {
  election_.reset_timer(now_, opt_.election_timeout_ticks, rng_());
}

bool Priest::promise(const Ballot& b) {
  if (b < next_bal_) return false;
  if (b > next_bal_) {
    next_bal_ = b;
    ready_.promise = b;  // durable before the last vote / vote that relies on it leaves
    event(Event::Kind::Promised, b, 0, 0, b.priest);
  }
  election_.saw_round(b.round);
  return true;
}

// Before it raises its durable promise and stands, a priest asks whether a majority would
// promise its ballot (a pre-ballot; nothing is promised or persisted by anyone). A priest
// that cannot hear a majority, or whose majority still hears a live president, stays as it
// is: its promise does not climb while it is cut off, so when the network heals it deposes
// nobody.
//
// For the first election timeout of an outage it asks again every heartbeat or two, then
// once per timeout: the priests that said nothing may hold a lease that runs out a few ticks
// after its own did (they heard the president last a little later: over TCP a one-way cut
// stalls each connection at its own moment), and waiting another whole timeout for that
// would double the outage.
void Priest::pre_ballot() {
  if (role_ == Role::President) return;
  reset_election_timer();  // asks again after another timeout if no majority says yes
  if (!voter()) return remind_members();  // a priest the membership does not name never stands
  const Ballot b{std::max(election_.max_round(), next_bal_.round) + 1, opt_.id};
  auto soon = [&] { return now_ - election_.asking_since() < opt_.election_timeout_ticks; };
  bool first = election_.ask(b, now_, election_.asking() && soon());  // one line per outage
  if (soon()) election_.reset_timer(now_, opt_.heartbeat_ticks, rng_());
  event(Event::Kind::PreBallot, b);
  if (first)
    note("priest " + std::to_string(opt_.id) +
         " hears no president; asks whether a majority would promise ballot " + to_string(b));
  if (election_.grants() >= latest().quorum()) return stand_for_president();
  Message pb = make(Kind::PreBallot, 0);
  pb.ballot = b;
  send_others(pb);
}

// A priest its membership does not name as a voter, hearing no president for an election
// timeout: it may be one a replace or add made a voter by a decree it missed, whose
// presidents since are priests it does not know. It tells the members it knows how far its
// ledger has got (an empty catch-up); those that hold it as a member and hold more send it
// the difference (maybe_catch_up), and it learns the decree that names it.
void Priest::remind_members() {
  for (PriestId p : latest().ids())
    if (p != opt_.id) send(make(Kind::CatchUp, p));
}

bool Priest::lease_held(PriestId from) const {
  if (from == opt_.id) return false;
  if (role_ == Role::President) return reachable().size() >= latest().quorum();
  return president_ && *president_ != from && election_.leased(now_);
}

bool Priest::pre_ballot_refused(PriestId from) const {
  if (from == opt_.id) return false;
  if (role_ == Role::President) return lease_held(from);
  return election_.leased(now_) && election_.lease_holder() != from;
}

void Priest::on_pre_ballot(const Message& m) {
  if (m.ballot.priest != m.from || !latest().voter(m.from, m.incarnation)) return;
  if (pre_ballot_refused(m.from)) return;  // it hears a live president, or a candidate: no
  Message yes = make(Kind::PreVote, m.from);
  yes.ballot = m.ballot;
  yes.promised = next_bal_;  // so that the ballot it stands with is above this promise
  send(std::move(yes));
}

void Priest::on_pre_vote(const Message& m) {
  const auto& asking = election_.asking();
  if (role_ == Role::President || !asking || m.ballot != *asking) return;
  if (!latest().voter(m.from, m.incarnation)) return;
  election_.saw_round(m.promised.round);
  if (election_.granted(m.from) >= latest().quorum()) stand_for_president();
}

void Priest::stand_for_president() {
  election_.stop_asking();
  if (role_ == Role::President) return;
  if (!voter()) {  // a priest the membership does not name (yet, or any more) never stands
    reset_election_timer();
    return;
  }
  // B1: a round above every ballot this priest has seen; the ballot is unique because it
  // carries this priest's id, and promised durably (ready.promise) before next ballot leaves.
  election_.saw_round(next_bal_.round);
  Ballot b{election_.max_round() + 1, opt_.id};
  role_ = Role::Candidate;
  ballot_ = b;
  set_president(std::nullopt);
  last_votes_.clear();
  awaiting_len_ = 0;
  promise(b);
  election_.renew_lease(now_ + opt_.election_timeout_ticks, opt_.id);  // no rival meanwhile
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
  std::sort(quorum.begin(), quorum.end(), [](const LastVoteReport* a, const LastVoteReport* b) {
    return a->passed_len < b->passed_len;
  });
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
  std::map<uint64_t, Entry> chosen = chosen_above(quorum, max_len);
  uint64_t last = chosen.empty() ? max_len : std::max(max_len, chosen.rbegin()->first);
  // Decrees it knows passed beyond a gap are never begun again, but new ones begin above
  // them; the numbers between with no vote reported get olive-day decrees (no decree can
  // have passed there in a ballot below this one: some priest of the quorum would report it).
  if (!passed_ahead_.empty()) last = std::max(last, passed_ahead_.rbegin()->first);
  last = end_era(max_len, last, chosen);
  take_office(max_len, last);

  std::vector<Entry> entries;
  size_t olive = 0;
  for (uint64_t n = max_len + 1; n <= last; ++n) {
    if (passed_ahead_.count(n)) continue;  // known passed: never begun again
    auto it = chosen.find(n);
    Entry e{n, ballot_, it != chosen.end() ? it->second.decree : Decree::olive(ballot_)};
    if (it == chosen.end()) ++olive;
    if (!e.decree.olive_day) proposals_.began({e.decree.client, e.decree.request}, n);
    entries.push_back(std::move(e));
  }
  event(Event::Kind::President, ballot_);
  note("priest " + std::to_string(opt_.id) + " is president in ballot " + to_string(ballot_) +
       ": decrees 1.." + std::to_string(max_len) + " passed, re-proposing " +
       std::to_string(entries.size() - olive) + " and filling " + std::to_string(olive) +
       " gaps with olive-day decrees");
  begin_in_batches(std::move(entries));
  heartbeat();
}

// B3: at every open decree number above max_len, the decree of the highest-ballot vote any
// priest of the quorum reports.
std::map<uint64_t, Entry> Priest::chosen_above(const std::vector<const LastVoteReport*>& quorum,
                                               uint64_t max_len) const {
  std::map<uint64_t, Entry> chosen;
  for (auto* r : quorum)
    for (auto& v : r->votes) {
      if (v.decree_no <= max_len) continue;
      auto it = chosen.find(v.decree_no);
      if (it == chosen.end() || v.ballot > it->second.ballot) chosen[v.decree_no] = v;
    }
  return chosen;
}

// Its quorum is one of the membership in force above its ledger. The first membership
// decree above (one it knows passed, or one it must re-propose) ends that membership:
// nothing above it is begun in this ballot (docs/SAFETY.md, "Membership"). Returns the last
// decree number this ballot begins; sets era_end_.
uint64_t Priest::end_era(uint64_t max_len, uint64_t last, const std::map<uint64_t, Entry>& chosen) {
  era_end_ = 0;
  for (uint64_t n = max_len + 1; n <= last; ++n) {
    auto a = passed_ahead_.find(n);
    auto c = chosen.find(n);
    if ((a != passed_ahead_.end() && a->second.decree.membership) ||
        (a == passed_ahead_.end() && c != chosen.end() && c->second.decree.membership)) {
      era_end_ = n + 1;
      return n;
    }
  }
  return last;
}

// The president's state, fresh: decrees up to `max_len` passed, `last` the highest it will
// begin again.
void Priest::take_office(uint64_t max_len, uint64_t last) {
  role_ = Role::President;
  set_president(opt_.id, ballot_);
  election_.stop_asking();  // (it may have begun asking again while it learned decrees)
  became_president_tick_ = now_;
  gap_len_ = passed_len_;
  gap_since_ = now_;
  tallies_.clear();
  proposals_.forget_begun();
  commit_sent_ = 0;
  last_votes_.clear();
  awaiting_len_ = 0;
  next_no_ = last + 1;
  settled_no_ = last;
  reads_.new_ballot();
  first_open_ = max_len + 1;
}

// Begins the decrees it re-proposes in batches; the window limits apply to new proposals,
// not to these. A begin ballot's numbers are consecutive (a vote names a range).
void Priest::begin_in_batches(std::vector<Entry> entries) {
  std::vector<Entry> batch;
  size_t bytes = 0;
  for (auto& e : entries) {
    if (!batch.empty() && batch.back().decree_no + 1 != e.decree_no) {
      begin(std::move(batch));
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
  for (auto& a : proposals_.abandon())
    answer(a.waiter, 0, outcome_unknown && a.begun ? Code::OutcomeUnknown : Code::Abandoned,
           "ballot " + to_string(ballot_) + " abandoned: " + why);
  tallies_.clear();
  era_end_ = 0;
  if (change_)
    end_change(0, Code::Abandoned,
               "ballot " + to_string(ballot_) + " abandoned: " + why +
                   (change_->begun ? " (the change may still pass; run it again)" : ""));
  role_ = Role::Follower;
  set_president(std::nullopt);
  election_.end_lease();
  last_votes_.clear();
  reset_election_timer();
}

void Priest::follow(const Ballot& b) {
  if (b.priest == opt_.id) return;
  if (role_ != Role::Follower && b > ballot_)
    step_down("priest " + std::to_string(b.priest) + " leads ballot " + to_string(b), true);
  if (role_ != Role::Follower) return;
  // A late message of an earlier ballot than the one followed (a president since replaced,
  // whose frames were slow) neither changes the president followed nor renews its lease:
  // before, it gave up what was forwarded to the later one and sent new requests to the old.
  if (b < following_) return;
  election_.stop_asking();
  election_.renew_lease(now_ + opt_.election_timeout_ticks, b.priest);  // the president's, renewed
  const bool changed = president_ != b.priest;
  if (changed || following_ < b) set_president(b.priest, b);  // (or its later ballot)
  if (changed) {
    note("priest " + std::to_string(opt_.id) + " follows president " + std::to_string(b.priest) +
         " in ballot " + to_string(b));
  }
  reset_election_timer();
}

}  // namespace parliament
