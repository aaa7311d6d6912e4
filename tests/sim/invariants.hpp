// The safety invariants, checked by the simulator and the explorer after every step. A
// harness reports what happens (a vote made durable, a message sent, a decree appended to
// a ledger, a client told "passed", a priest restarted) and asks ok().
//
//   agreement      no two priests ever hold different decrees at one number, and no two
//                  decrees are chosen (voted durably by a majority in one ballot) at one
//                  number;
//   validity       every decree in a ledger is one a client proposed, with its text, or
//                  olive-day; a request passes at one number only;
//   acknowledged   a decree reported passed to a client is at that number in every ledger;
//   B3             a ballot above the one that chose a decree proposes that same decree;
//   no re-begin    no president begins a decree at a number it knows passed;
//   promise        a priest's promise never goes backwards, and a message that asserts a
//                  promise or a vote (next ballot, last vote, vote yes/no) leaves only once
//                  that promise or vote is durable, so that a restart never forgets it;
//   last vote      a last vote reports only votes that its priest cast.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "proto/message.hpp"

namespace parliament::sim {

class Invariants {
 public:
  explicit Invariants(size_t members = 0) : members_(members) {}

  bool ok() const { return failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void fail(const std::string& why) {
    if (failure_.empty()) failure_ = why;
  }

  void proposed(uint64_t client, uint64_t request, const std::string& text) {
    proposed_[{client, request}] = text;
  }
  void vote_durable(PriestId id, const Entry& v);
  void promise_written(PriestId id, const Ballot& b);  // written, not yet durable
  // A message leaves priest m.from, whose durable promise and ledger length are these.
  void sent(const Message& m, const Ballot& durable_promise, uint64_t ledger_len);
  void ledger_appended(PriestId id, const Entry& e);
  void acknowledged(uint64_t client, uint64_t request, uint64_t decree_no);
  void restarted(PriestId id, const Ballot& durable_promise);
  // The end: every acknowledged decree is at its number in this (converged) ledger.
  void check_final(const std::vector<Entry>& ledger);

  bool knows_chosen(uint64_t n) const { return chosen_.count(n) || chosen_votes_.count(n); }

 private:
  void check_acks_at(uint64_t n);
  bool cast(PriestId id, uint64_t n, const Ballot& b, const Ballot* origin) const;

  size_t members_;
  std::string failure_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> proposed_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> placed_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> acked_;
  std::map<uint64_t, Entry> chosen_;  // by the ledgers
  // by the votes: (decree_no, ballot) -> the decree and who voted for it durably
  std::map<std::pair<uint64_t, Ballot>, std::pair<Decree, std::set<PriestId>>> tallies_;
  std::map<uint64_t, std::pair<Ballot, Decree>> chosen_votes_;  // lowest ballot that chose it
  std::map<PriestId, std::set<std::tuple<uint64_t, Ballot, Ballot>>> cast_;  // (n, ballot, origin)
  std::map<PriestId, Ballot> asserted_;  // the highest promise a priest's messages asserted
  std::map<PriestId, Ballot> written_;   // the last promise a priest wrote
};

}  // namespace parliament::sim
