// Tallies: the president's decrees in flight and B2's count (proto/tallies.hpp).
#include "proto/tallies.hpp"

#include "proto/priest_internal.hpp"

namespace parliament {

using priest_detail::invariant_failed;

void Tallies::begin(const std::vector<Entry>& entries, uint64_t now) {
  for (const auto& e : entries) {
    bytes_ += e.decree.text.size();
    tallies_[e.decree_no] = Tally{e.decree, now, {}, quorum_.empty()};
  }
  if (!entries.empty()) open_.push_back(entries.back().decree_no);
}

size_t Tallies::open_ballots(uint64_t passed_len) {
  while (!open_.empty() && open_.front() <= passed_len) open_.pop_front();
  return open_.size();
}

const Tallies::Tally* Tallies::find(uint64_t n) const {
  auto it = tallies_.find(n);
  return it == tallies_.end() ? nullptr : &it->second;
}

std::vector<Entry> Tallies::vote(PriestId from, uint64_t lo, uint64_t hi, const Membership& members,
                                 const Ballot& ballot, PriestId president, uint64_t now) {
  std::vector<Entry> out;
  auto it = tallies_.lower_bound(lo);
  while (it != tallies_.end() && it->first <= hi) {
    it->second.yes.insert(from);
    if (it->second.yes.size() < members.quorum()) {
      ++it;
      continue;
    }
    // B2: a majority voted yes: passed. Relied on: every vote counted is of a member in force
    // (nothing is in flight across a membership decree, and a vote counts only from a voter).
    for (PriestId v : it->second.yes)
      if (!members.find(v)) invariant_failed("B2: a decree passes by a majority of the members");
    bytes_ -= it->second.decree.text.size();
    pass_ticks_ = now >= it->second.sent_tick ? now - it->second.sent_tick : 0;
    if (quorum_.empty()) {  // the first to answer: the next ballots ask them
      quorum_ = it->second.yes;
      // Without the president (asked always), leave out the one that answered last; but after
      // the quorum failed once, keep them all, so that a slow president is not waited for.
      if (thrifty_ && !quorum_.count(president)) quorum_.erase(from);
    }
    out.push_back(Entry{it->first, ballot, std::move(it->second.decree)});
    it = tallies_.erase(it);
  }
  return out;
}

void Tallies::passed(uint64_t n) {
  if (auto t = tallies_.find(n); t != tallies_.end()) {
    bytes_ -= t->second.decree.text.size();
    tallies_.erase(t);
  }
}

void Tallies::clear() {
  tallies_.clear();
  bytes_ = 0;
  open_.clear();
  quorum_.clear();
  thrifty_ = true;
  pass_ticks_ = 0;
}

std::vector<std::vector<Entry>> Tallies::unvoted(PriestId to, uint64_t now, uint64_t stale_after,
                                                 size_t max, const Ballot& ballot,
                                                 bool unasked_only) const {
  std::vector<std::vector<Entry>> runs(1);
  for (auto& [n, t] : tallies_) {
    auto& run = runs.back();
    bool due =
        now - t.sent_tick >= stale_after && !t.yes.count(to) && !(unasked_only && t.all_asked);
    // A vote's range must be consecutive numbers: a number not due, or one that passed in
    // between, ends the run.
    if (!run.empty() && (!due || run.back().decree_no + 1 != n || run.size() >= max))
      runs.emplace_back();
    if (!due) continue;
    runs.back().push_back(Entry{n, ballot, t.decree});
  }
  std::erase_if(runs, [](auto& r) { return r.empty(); });
  return runs;
}

void Tallies::resent(uint64_t now, uint64_t stale_after, bool unasked_only, PriestId president) {
  for (auto& [n, t] : tallies_)
    if (now - t.sent_tick >= stale_after && !(unasked_only && t.all_asked)) {
      if (!t.all_asked) {
        quorum_.clear();
        thrifty_ = t.yes.count(president) > 0;  // the president was not the one it waited for
      }
      t.sent_tick = now;
      t.all_asked = true;
    }
}

}  // namespace parliament
