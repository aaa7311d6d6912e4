#include "tests/sim/invariants.hpp"

#include <algorithm>

namespace parliament::sim {

namespace {
std::string num(uint64_t n) { return std::to_string(n); }
// "3/9f2c": a priest and the last hex digits of its incarnation.
std::string who(const Voter& v) { return num(v.first) + "/" + incarnation_text(v.second).substr(12); }
std::string who(const Membership& m) {
  std::string s;
  for (auto& p : m.priests) s += (s.empty() ? "" : ", ") + who(Voter{p.id, p.incarnation});
  return s;
}
// The decree a ledger records at a number is the one voted for, but for a client's retry
// that passed twice, which the ledger keeps as olive-day (Priest::apply_passed); the
// decree's origin ballot names the proposal either way.
bool same_proposal(const Decree& voted, const Decree& recorded) {
  if (voted == recorded) return true;
  return recorded.olive_day && voted.from_client() && voted.origin == recorded.origin;
}
}  // namespace

Invariants::Invariants(Membership bootstrap) {
  uint64_t first = bootstrap.decree_no + 1;
  eras_[first] = std::move(bootstrap);
  known_len_ = first - 1;
}

const Membership& Invariants::era(uint64_t n) const {
  auto it = eras_.upper_bound(n);
  if (it != eras_.begin()) --it;
  return it->second;
}

void Invariants::vote_durable(PriestId id, uint64_t incarnation, const Entry& v) {
  cast_[{id, incarnation}].insert({v.decree_no, v.ballot, v.decree.origin});
  auto& tally = tallies_[{v.decree_no, v.ballot}];
  if (!tally.voters.empty() && !(tally.decree == v.decree))
    return fail("ballot " + to_string(v.ballot) + " has two decrees at " + num(v.decree_no));
  tally.decree = v.decree;
  tally.voters.insert({id, incarnation});
  if (v.decree_no <= known_len_ + 1) evaluate_tally(v.decree_no, v.ballot, tally);
}

// Chosen at n: durable votes in one ballot from a majority of era(n), counting each voter
// only with the incarnation era(n) names.
void Invariants::evaluate_tally(uint64_t n, const Ballot& b, const Tally& t) {
  const Membership& m = era(n);
  size_t yes = 0;
  for (auto& v : t.voters) yes += m.voter(v.first, v.second);
  if (yes < m.quorum()) return;
  auto [it, fresh] = chosen_votes_.emplace(n, std::pair{b, t.decree});
  if (!fresh && !(it->second.second == t.decree))
    return fail("two decrees chosen at " + num(n) + " by majorities of its membership (" + who(m) +
                "): by ballot " + to_string(it->second.first) + " and by ballot " + to_string(b));
  if (fresh || b < it->second.first) {
    it->second.first = b;
    check_b3_at(n);
  }
}

void Invariants::check_unrecorded(uint64_t n) {
  auto range = unrecorded_.equal_range(n);
  const Membership& m = era(n);
  for (auto it = range.first; it != range.second; ++it) {
    bool chosen = false;
    for (auto& voters : it->second.tallies) {
      size_t yes = 0;
      for (auto& v : voters) yes += m.voter(v.first, v.second);
      chosen |= yes >= m.quorum();
    }
    if (!chosen) return fail(it->second.what);
  }
  unrecorded_.erase(range.first, range.second);
}

void Invariants::evaluate(uint64_t n) {
  for (auto it = tallies_.lower_bound({n, Ballot{}}); it != tallies_.end() && it->first.first == n; ++it)
    evaluate_tally(n, it->first.second, it->second);
}

void Invariants::check_b3_at(uint64_t n) {
  auto c = chosen_votes_.find(n);
  if (c == chosen_votes_.end()) return;
  for (auto it = begins_.upper_bound({n, c->second.first}); it != begins_.end() && it->first.first == n; ++it)
    if (!(it->second == c->second.second))
      return fail("B3 broken: ballot " + to_string(it->first.second) + " proposes another decree at " + num(n) +
                  " than the one chosen in ballot " + to_string(c->second.first));
}

void Invariants::promise_written(PriestId id, uint64_t incarnation, const Ballot& b) {
  auto& w = written_[{id, incarnation}];
  if (b <= w) fail("priest " + num(id) + "'s promise went backwards: " + to_string(b) + " after " + to_string(w));
  w = b;
}

bool Invariants::cast(const Voter& v, uint64_t n, const Ballot& b, const Ballot* origin) const {
  auto c = cast_.find(v);
  if (c == cast_.end()) return false;
  if (origin) return c->second.count({n, b, *origin}) > 0;
  auto it = c->second.lower_bound({n, b, Ballot{}});
  return it != c->second.end() && std::get<0>(*it) == n && std::get<1>(*it) == b;
}

void Invariants::sent(const Message& m, const Ballot& durable_promise, uint64_t ledger_len) {
  const Voter from{m.from, m.incarnation};
  // promise: what a message asserts is durable. (An empty vote yes is an acknowledgement.)
  bool empty_vote = m.kind == Kind::Voted && m.last_no < m.decree_no;
  Ballot asserted;
  if (m.kind == Kind::NextBallot || m.kind == Kind::LastVote || (m.kind == Kind::Voted && !empty_vote))
    asserted = m.ballot;
  if (m.kind == Kind::VoteNo) asserted = m.promised;
  if (asserted > durable_promise)
    fail("priest " + num(m.from) + " sent a " + name_of(m.kind) + " asserting promise " + to_string(asserted) +
         " before it was durable (durable " + to_string(durable_promise) + ")");
  auto& a = asserted_[from];
  a = std::max(a, asserted);

  if (m.kind == Kind::Voted && !empty_vote) {
    for (uint64_t k = m.decree_no; k <= m.last_no && k >= m.decree_no; ++k) {
      if (k <= ledger_len || cast(from, k, m.ballot, nullptr)) continue;
      // A priest that knows the decree passed votes for it without recording the vote.
      if (knows_chosen(k)) continue;
      std::string what = "priest " + num(m.from) + " sent vote yes for decree " + num(k) + " in ballot " +
                         to_string(m.ballot) + " before that vote was durable";
      if (k <= known_len_ + 1) return fail(what);
      // (A resent begin ballot may skip a number that passed meanwhile, and the vote's
      // range then spans it.) Whether k was chosen depends on the membership in force at
      // k, not known yet: decided with the votes cast by now once it is (check_unrecorded).
      Unrecorded u{what, {}};
      for (auto it = tallies_.lower_bound({k, Ballot{}}); it != tallies_.end() && it->first.first == k; ++it)
        u.tallies.push_back(it->second.voters);
      unrecorded_.emplace(k, std::move(u));
    }
  }
  if (m.kind == Kind::LastVote)
    for (auto& e : m.entries)
      if (!cast(from, e.decree_no, e.ballot, &e.decree.origin))
        return fail("priest " + num(m.from) + "'s last vote in ballot " + to_string(m.ballot) +
                    " reports a vote at decree " + num(e.decree_no) + " in ballot " + to_string(e.ballot) +
                    " that it never cast");
  if (m.kind == Kind::BeginBallot)
    for (auto& e : m.entries) {
      if (e.decree_no <= m.passed_len)
        return fail("president " + num(m.from) + " begins decree " + num(e.decree_no) + " in ballot " +
                    to_string(m.ballot) + " though it knows decrees up to " + num(m.passed_len) + " passed");
      auto [b, fresh] = begins_.emplace(std::pair{e.decree_no, m.ballot}, e.decree);
      if (!fresh && !(b->second == e.decree))
        return fail("ballot " + to_string(m.ballot) + " begins two decrees at " + num(e.decree_no));
      auto c = chosen_votes_.find(e.decree_no);
      if (c != chosen_votes_.end() && c->second.first < m.ballot && !(c->second.second == e.decree))
        return fail("B3 broken: ballot " + to_string(m.ballot) + " proposes another decree at " +
                    num(e.decree_no) + " than the one chosen in ballot " + to_string(c->second.first));
    }
}

void Invariants::ledger_appended(PriestId id, const Entry& e) {
  const uint64_t n = e.decree_no;
  if (e.ballot != e.decree.origin) return fail("ledger ballot is not the decree's origin");
  auto [it, fresh] = chosen_.emplace(n, e);
  if (!fresh && !(it->second == e))
    return fail("priest " + num(id) + " and another disagree at decree " + num(n));
  if (fresh) {
    // A ledger is appended in order, so every lower number is already in some ledger.
    if (n > known_len_ + 1)
      return fail("priest " + num(id) + " records decree " + num(n) + " though no ledger holds decree " +
                  num(known_len_ + 1));
    check_quorum_at(n, e);
    if (e.decree.from_client()) {
      std::pair key{e.decree.client, e.decree.request};
      auto p = proposed_.find(key);
      if (p == proposed_.end()) return fail("decree " + num(n) + " is one no client proposed");
      if (p->second != e.decree.text) return fail("decree " + num(n) + ": its text changed");
      if (auto pl = placed_.find(key); pl != placed_.end() && pl->second != n)
        return fail("request passed twice: decrees " + num(pl->second) + " and " + num(n));
      placed_[key] = n;
    }
    if (e.decree.membership) check_membership_decree(n, e);
    // Extend the known prefix; the membership in force is now known one number further.
    while (chosen_.count(known_len_ + 1)) {
      const Entry& k = chosen_.at(++known_len_);
      if (k.decree.membership)
        if (auto next = parse_membership_decree(k.decree.text, k.decree_no)) eras_[known_len_ + 1] = *next;
      evaluate(known_len_ + 1);
      check_unrecorded(known_len_ + 1);
    }
  }
  check_acks_at(n);
  check_change_acks_at(n);
}

// quorum: the decree at n was chosen by a majority of era(n) (see invariants.hpp).
void Invariants::check_quorum_at(uint64_t n, const Entry& e) {
  const Membership& m = era(n);
  size_t best = 0;
  Ballot best_ballot;
  std::string best_voters;
  for (auto it = tallies_.lower_bound({n, Ballot{}}); it != tallies_.end() && it->first.first == n; ++it) {
    if (!same_proposal(it->second.decree, e.decree)) continue;
    size_t yes = 0;
    std::string voters;
    for (auto& v : it->second.voters) {
      voters += (voters.empty() ? "" : ", ") + who(v);
      yes += m.voter(v.first, v.second);
    }
    if (yes >= m.quorum()) return;
    if (yes >= best) best = yes, best_ballot = it->first.second, best_voters = voters;
  }
  fail("decree " + num(n) + " passed without the votes of a majority of the membership in force there (set by decree " +
       num(m.decree_no) + ": " + who(m) + "); the most any ballot had: " + num(best) + " of them" +
       (best_voters.empty() ? "" : " in ballot " + to_string(best_ballot) + ", whose voters were " + best_voters));
}

// validity of a membership decree: one change the god asked for, applied to era(n).
void Invariants::check_membership_decree(uint64_t n, const Entry& e) {
  auto next = parse_membership_decree(e.decree.text, n);
  if (!next) return fail("membership decree " + num(n) + " does not parse: " + next.error());
  const Membership& m = era(n);
  for (auto& text : changes_) {
    auto c = parse_change(nlohmann::json::parse(text));
    if (!c) continue;
    auto applied = apply_change(m, *c);
    if (applied && applied->priests == next->priests) return;
  }
  fail("membership decree " + num(n) + " sets " + who(*next) + ", which is no change the god asked for applied to " +
       who(m));
}

void Invariants::acknowledged(uint64_t client, uint64_t request, uint64_t decree_no) {
  std::pair key{client, request};
  if (auto a = acked_.find(key); a != acked_.end() && a->second != decree_no)
    return fail("client " + num(client) + " told two numbers for request " + num(request));
  acked_[key] = decree_no;
  check_acks_at(decree_no);
}

void Invariants::change_acknowledged(const Change& c, uint64_t decree_no) {
  change_acks_.push_back({c, decree_no});
  check_change_acks_at(decree_no);
}

void Invariants::check_acks_at(uint64_t n) {
  auto c = chosen_.find(n);
  if (c == chosen_.end()) return;
  for (auto& [key, acked] : acked_)
    if (acked == n &&
        (!c->second.decree.from_client() || std::pair{c->second.decree.client, c->second.decree.request} != key))
      fail("a client was told decree " + num(n) + " passed, but the ledger holds another");
}

// The god told "passed as decree n": decree n is a membership decree (or the bootstrap)
// and the membership it sets has the change in force.
void Invariants::check_change_acks_at(uint64_t n) {
  for (auto& [c, acked] : change_acks_) {
    if (acked != n) continue;
    Membership set;
    if (n == 0) {
      set = eras_.begin()->second;
    } else {
      auto e = chosen_.find(n);
      if (e == chosen_.end()) continue;
      if (!e->second.decree.membership)
        return fail("the god was told that " + describe(c) + " passed as decree " + num(n) +
                    ", which is no membership decree");
      auto m = parse_membership_decree(e->second.decree.text, n);
      if (!m) return;  // reported by check_membership_decree
      set = *m;
    }
    if (!already_applied(set, c))
      fail("the god was told that " + describe(c) + " passed as decree " + num(n) + ", but that decree sets " +
           who(set));
  }
}

void Invariants::restarted(PriestId id, uint64_t incarnation, const Ballot& durable_promise) {
  const Voter v{id, incarnation};
  if (durable_promise < asserted_[v])
    fail("priest " + num(id) + " restarts with promise " + to_string(durable_promise) + " below the promise " +
         to_string(asserted_[v]) + " its messages asserted");
  written_[v] = durable_promise;
}

void Invariants::check_final(const std::vector<Entry>& ledger) {
  for (auto& [key, n] : acked_) {
    if (n > ledger.size()) return fail("acknowledged decree " + num(n) + " missing from the ledgers");
    const Entry& e = ledger[n - 1];
    if (!e.decree.from_client() || e.decree.client != key.first || e.decree.request != key.second)
      return fail("acknowledged decree " + num(n) + " is not at its number");
  }
  for (auto& [c, n] : change_acks_)
    if (n > ledger.size()) return fail("the change acknowledged as decree " + num(n) + " is missing from the ledgers");
}

}  // namespace parliament::sim
