#include "tests/sim/invariants.hpp"

#include <algorithm>

namespace parliament::sim {

namespace {
std::string num(uint64_t n) { return std::to_string(n); }
}  // namespace

void Invariants::vote_durable(PriestId id, const Entry& v) {
  cast_[id].insert({v.decree_no, v.ballot, v.decree.origin});
  auto& tally = tallies_[{v.decree_no, v.ballot}];
  if (!tally.second.empty() && !(tally.first == v.decree))
    return fail("ballot " + to_string(v.ballot) + " has two decrees at " + num(v.decree_no));
  tally.first = v.decree;
  tally.second.insert(id);
  if (tally.second.size() * 2 <= members_) return;
  auto [it, fresh] = chosen_votes_.emplace(v.decree_no, std::pair{v.ballot, v.decree});
  if (!fresh && !(it->second.second == v.decree))
    return fail("two decrees chosen at " + num(v.decree_no) + ": by ballot " + to_string(it->second.first) +
                " and by ballot " + to_string(v.ballot));
  if (!fresh) it->second.first = std::min(it->second.first, v.ballot);
}

void Invariants::promise_written(PriestId id, const Ballot& b) {
  auto& w = written_[id];
  if (b <= w) fail("priest " + num(id) + "'s promise went backwards: " + to_string(b) + " after " + to_string(w));
  w = b;
}

bool Invariants::cast(PriestId id, uint64_t n, const Ballot& b, const Ballot* origin) const {
  auto c = cast_.find(id);
  if (c == cast_.end()) return false;
  if (origin) return c->second.count({n, b, *origin}) > 0;
  auto it = c->second.lower_bound({n, b, Ballot{}});
  return it != c->second.end() && std::get<0>(*it) == n && std::get<1>(*it) == b;
}

void Invariants::sent(const Message& m, const Ballot& durable_promise, uint64_t ledger_len) {
  // promise: what a message asserts is durable. (An empty vote yes is an acknowledgement.)
  bool empty_vote = m.kind == Kind::Voted && m.last_no < m.decree_no;
  Ballot asserted;
  if (m.kind == Kind::NextBallot || m.kind == Kind::LastVote || (m.kind == Kind::Voted && !empty_vote))
    asserted = m.ballot;
  if (m.kind == Kind::VoteNo) asserted = m.promised;
  if (asserted > durable_promise)
    fail("priest " + num(m.from) + " sent a " + name_of(m.kind) + " asserting promise " + to_string(asserted) +
         " before it was durable (durable " + to_string(durable_promise) + ")");
  auto& a = asserted_[m.from];
  a = std::max(a, asserted);

  if (m.kind == Kind::Voted && !empty_vote) {
    for (uint64_t k = m.decree_no; k <= m.last_no && k >= m.decree_no; ++k) {
      if (k <= ledger_len || cast(m.from, k, m.ballot, nullptr)) continue;
      // A priest that knows the decree passed votes for it without recording the vote.
      if (knows_chosen(k)) continue;
      return fail("priest " + num(m.from) + " sent vote yes for decree " + num(k) + " in ballot " +
                  to_string(m.ballot) + " before that vote was durable");
    }
  }
  if (m.kind == Kind::LastVote)
    for (auto& e : m.entries)
      if (!cast(m.from, e.decree_no, e.ballot, &e.decree.origin))
        return fail("priest " + num(m.from) + "'s last vote in ballot " + to_string(m.ballot) +
                    " reports a vote at decree " + num(e.decree_no) + " in ballot " + to_string(e.ballot) +
                    " that it never cast");
  if (m.kind == Kind::BeginBallot)
    for (auto& e : m.entries) {
      if (e.decree_no <= m.passed_len)
        return fail("president " + num(m.from) + " begins decree " + num(e.decree_no) + " in ballot " +
                    to_string(m.ballot) + " though it knows decrees up to " + num(m.passed_len) + " passed");
      auto c = chosen_votes_.find(e.decree_no);
      if (c != chosen_votes_.end() && c->second.first < m.ballot && !(c->second.second == e.decree))
        return fail("B3 broken: ballot " + to_string(m.ballot) + " proposes another decree at " +
                    num(e.decree_no) + " than the one chosen in ballot " + to_string(c->second.first));
    }
}

void Invariants::ledger_appended(PriestId id, const Entry& e) {
  if (e.ballot != e.decree.origin) return fail("ledger ballot is not the decree's origin");
  auto [it, fresh] = chosen_.emplace(e.decree_no, e);
  if (!fresh && !(it->second == e))
    return fail("priest " + num(id) + " and another disagree at decree " + num(e.decree_no));
  if (fresh && e.decree.from_client()) {
    std::pair key{e.decree.client, e.decree.request};
    auto p = proposed_.find(key);
    if (p == proposed_.end()) return fail("decree " + num(e.decree_no) + " is one no client proposed");
    if (p->second != e.decree.text) return fail("decree " + num(e.decree_no) + ": its text changed");
    if (auto pl = placed_.find(key); pl != placed_.end() && pl->second != e.decree_no)
      return fail("request passed twice: decrees " + num(pl->second) + " and " + num(e.decree_no));
    placed_[key] = e.decree_no;
  }
  check_acks_at(e.decree_no);
}

void Invariants::acknowledged(uint64_t client, uint64_t request, uint64_t decree_no) {
  std::pair key{client, request};
  if (auto a = acked_.find(key); a != acked_.end() && a->second != decree_no)
    return fail("client " + num(client) + " told two numbers for request " + num(request));
  acked_[key] = decree_no;
  check_acks_at(decree_no);
}

void Invariants::check_acks_at(uint64_t n) {
  auto c = chosen_.find(n);
  if (c == chosen_.end()) return;
  for (auto& [key, acked] : acked_)
    if (acked == n &&
        (c->second.decree.olive_day || std::pair{c->second.decree.client, c->second.decree.request} != key))
      fail("a client was told decree " + num(n) + " passed, but the ledger holds another");
}

void Invariants::restarted(PriestId id, const Ballot& durable_promise) {
  if (durable_promise < asserted_[id])
    fail("priest " + num(id) + " restarts with promise " + to_string(durable_promise) + " below the promise " +
         to_string(asserted_[id]) + " its messages asserted");
  written_[id] = durable_promise;
}

void Invariants::check_final(const std::vector<Entry>& ledger) {
  for (auto& [key, n] : acked_) {
    if (n > ledger.size()) return fail("acknowledged decree " + num(n) + " missing from the ledgers");
    const Entry& e = ledger[n - 1];
    if (e.decree.olive_day || e.decree.client != key.first || e.decree.request != key.second)
      return fail("acknowledged decree " + num(n) + " is not at its number");
  }
}

}  // namespace parliament::sim
