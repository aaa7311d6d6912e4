// The safety invariants, checked by the simulator and the explorer after every step. A
// harness reports what happens (a vote made durable, a message sent, a decree appended to
// a ledger, a client or the god told "passed", a priest restarted) and asks ok().
//
// A priest is named by its id *and* its incarnation (a priest whose disk was lost comes
// back as a new incarnation, blank): every record of votes, promises and messages below is
// kept per (id, incarnation), and a vote counts only for the incarnation that cast it.
//
// The membership in force at decree number n, era(n), is the rule of proto/membership.hpp:
// the one set by the last membership decree below n in the agreed ledger (or the
// bootstrap). It is known once the ledgers hold every decree below n; until then, what
// depends on it at n is checked as soon as it becomes known.
//
//   agreement      no two priests ever hold different decrees at one number, and no two
//                  decrees are chosen at one number, where "chosen at n" means voted
//                  durably in one ballot by a majority of era(n), each voter with the
//                  incarnation era(n) names;
//   quorum         (membership) every decree a ledger holds at n was chosen so: some
//                  ballot's durable votes for it at n, from voters of era(n) with the
//                  incarnations named there, are a majority of era(n). Since every ballot
//                  that passes a decree at n must count a majority of that one membership,
//                  any two of them intersect; a president that counted a stranger (an old
//                  incarnation, a removed priest, a learner) or the quorum of another
//                  membership breaks this one;
//   validity       every decree in a ledger is one a client proposed, with its text, or
//                  olive-day, or a membership decree that applies one change the god asked
//                  for to era(n); a request passes at one number only;
//   acknowledged   a decree reported passed to a client is at that number in every ledger;
//                  a change reported passed to the god is in force from that decree on;
//   B3             a ballot above the one that chose a decree proposes that same decree, and
//                  no ballot begins two decrees at one number;
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
#include <vector>

#include "proto/membership.hpp"
#include "proto/message.hpp"

namespace parliament::sim {

using Voter = std::pair<PriestId, uint64_t>;  // (id, incarnation)

class Invariants {
 public:
  Invariants() : Invariants(Membership{}) {}
  // The bootstrap membership: in force from decree 1 until a membership decree changes it.
  explicit Invariants(Membership bootstrap);

  bool ok() const { return failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void fail(const std::string& why) {
    if (failure_.empty()) failure_ = why;
  }

  void proposed(uint64_t client, uint64_t request, const std::string& text) {
    proposed_[{client, request}] = text;
  }
  void change_requested(const Change& c) { changes_.insert(change_to_json(c).dump()); }
  void vote_durable(PriestId id, uint64_t incarnation, const Entry& v);
  void promise_written(PriestId id, uint64_t incarnation, const Ballot& b);  // not yet durable
  // A message leaves priest m.from (incarnation m.incarnation), whose durable promise and
  // ledger length are these.
  void sent(const Message& m, const Ballot& durable_promise, uint64_t ledger_len);
  void ledger_appended(PriestId id, const Entry& e);
  void acknowledged(uint64_t client, uint64_t request, uint64_t decree_no);
  void change_acknowledged(const Change& c, uint64_t decree_no);
  void restarted(PriestId id, uint64_t incarnation, const Ballot& durable_promise);
  // The end: every acknowledged decree is at its number in this (converged) ledger.
  void check_final(const std::vector<Entry>& ledger);

  bool knows_chosen(uint64_t n) const { return chosen_.count(n) || chosen_votes_.count(n); }
  // Decrees 1..known_len() are in some ledger; era(n) is known for n <= known_len() + 1.
  uint64_t known_len() const { return known_len_; }
  const Membership& era(uint64_t n) const;

 private:
  struct Tally {
    Decree decree;
    std::set<Voter> voters;  // durable votes for it in one ballot at one number
  };
  void check_acks_at(uint64_t n);
  void check_change_acks_at(uint64_t n);
  void check_quorum_at(uint64_t n, const Entry& e);
  void check_membership_decree(uint64_t n, const Entry& e);
  void evaluate(uint64_t n);
  void check_unrecorded(uint64_t n);
  void evaluate_tally(uint64_t n, const Ballot& b, const Tally& t);
  void check_b3_at(uint64_t n);
  bool cast(const Voter& v, uint64_t n, const Ballot& b, const Ballot* origin) const;

  std::string failure_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> proposed_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> placed_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> acked_;
  std::set<std::string> changes_;                            // what the god asked for
  std::vector<std::pair<Change, uint64_t>> change_acks_;     // what the god was told
  std::map<uint64_t, Entry> chosen_;  // by the ledgers
  uint64_t known_len_ = 0;            // chosen_ holds 1..known_len_
  std::map<uint64_t, Membership> eras_;  // first decree number in force -> membership
  // by the votes: (decree_no, ballot) -> the decree and who voted for it durably
  std::map<std::pair<uint64_t, Ballot>, Tally> tallies_;
  std::map<uint64_t, std::pair<Ballot, Decree>> chosen_votes_;  // lowest ballot that chose it
  std::map<std::pair<uint64_t, Ballot>, Decree> begins_;        // what each ballot began
  std::map<Voter, std::set<std::tuple<uint64_t, Ballot, Ballot>>> cast_;  // (n, ballot, origin)
  std::map<Voter, Ballot> asserted_;  // the highest promise a priest's messages asserted
  std::map<Voter, Ballot> written_;   // the last promise a priest wrote
  // Votes yes sent at a number the sender did not record, before era(n) was known: the
  // tallies at n when they were sent. They are sound if n was chosen by then.
  struct Unrecorded {
    std::string what;
    std::vector<std::set<Voter>> tallies;
  };
  std::multimap<uint64_t, Unrecorded> unrecorded_;
};

}  // namespace parliament::sim
