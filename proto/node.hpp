// Node: one priest as a host runs it. It owns the Priest and its Clerk, and keeps the host's
// rules about the priest's own records, written once for paxos-priest (server/, real files
// and TCP), the simulator and the explorer (tests/sim/, a simulated disk and network):
//
//   - what a data directory held at start becomes the priest's Restored (Recovery);
//   - membership.json against the ledger at start: the ledger's last membership decree wins
//     where membership.json is behind it (a crash between the two); a membership.json set by a
//     decree the ledger lost, of which this life is a voter, refuses to start;
//   - membership.json follows the ledger: a membership a passed decree set is recorded only
//     once the ledger holding that decree is durable (Records::sync_ledger first);
//   - a life no longer a voter of the membership it recorded retires (NodeHost::retire);
//   - who may bootstrap or join this priest, and when a join is taken again (Priest::rejoin);
//   - the configuration's bounds on a frame become the priest's bounds on a batch.
//
// Who may call it: its host, on the one thread that runs the priest. Pure: the records,
// the clerk's disk and the network are the host's, behind Records, Disk and NodeHost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/clerk.hpp"
#include "proto/membership.hpp"
#include "proto/priest.hpp"
#include "proto/result.hpp"

namespace parliament {

// The priest's records besides those the Clerk writes (Disk): the ledger's sync, and
// membership.json.
class Records {
 public:
  virtual ~Records() = default;
  // Every decree appended to the ledger so far is durable once this returns ok.
  virtual Status sync_ledger() = 0;
  // membership.json holds `m`, durably. `first`: this disk's first membership (the god's
  // bootstrap or join), before which the host writes what marks the disk as this
  // parliament's.
  virtual Status save_membership(const Membership& m, bool first) = 0;
};

// What a node tells its host besides messages and answers.
class NodeHost : public Messenger {
 public:
  // Messenger::membership(m) is called once membership.json holds m.
  // This life of the priest was removed or replaced by decree: it stops for good.
  virtual void retire(const std::string& why) = 0;
  // The clerk stopped (a failed write, sync or read): nothing more leaves this priest.
  virtual void halt(const std::string& why) = 0;
};

// Builds a priest's Restored from what its files hold, in file order.
class Recovery {
 public:
  void promise(const Ballot& next_bal) { r_.next_bal = next_bal; }
  void vote(const Entry& e) { votes_.push_back(e); }
  void passed(const Entry& e);  // ledger rows 1, 2, ...
  // What the priest starts from: the votes the ledger does not already hold.
  Restored done();

 private:
  Restored r_;
  std::vector<Entry> votes_;
};

// The configuration's tuning of a priest (tests use their own): a batch and the decrees in
// flight must fit in a frame.
PriestOptions priest_tuning(uint32_t heartbeat_ticks, uint32_t election_timeout_ticks,
                            size_t max_decree_bytes, size_t max_frame_bytes);

class Node : private Messenger {
 public:
  // `tuning`: the PriestOptions' bounds and timing; id, incarnation and membership are the
  // node's.
  Node(PriestId id, uint64_t incarnation, PriestOptions tuning, Disk& disk, Records& records,
       NodeHost& host);
  // A copy of `other` (its priest, clerk and records) serving another disk, records and host:
  // the explorer copies whole parliaments.
  Node(const Node& other, Disk& disk, Records& records, NodeHost& host);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // At start, what the files held: the priest's Restored and membership.json's membership
  // (none: not bootstrapped). An error: this priest must not start (it says why and what
  // to do). Retires (NodeHost::retire) where the ledger removed this life.
  Status restore(Restored restored, std::optional<Membership> recorded);
  // Starts the priest, if restore() found a membership. Its first Ready names its peers.
  void begin();

  // The god's bootstrap: the parliament's first membership. True if it already held it.
  Result<bool> bootstrap(const Membership& m);
  // The god's join before an add or replace: the membership in force, to learn the ledger
  // of. True if nothing was to be done (a voter, or as new a membership already).
  Result<bool> join(const Membership& m);

  // A promise or a decree on this disk: it may not be bootstrapped or joined afresh.
  bool begun() const;
  bool running() const { return priest_.has_value(); }
  Priest& priest() { return *priest_; }
  const Priest& priest() const { return *priest_; }
  Clerk& clerk() { return *clerk_; }
  const Clerk& clerk() const { return *clerk_; }
  // membership.json's membership; none: not bootstrapped or joined.
  const std::optional<Membership>& recorded() const { return recorded_; }
  bool voter() const { return recorded_ && recorded_->voter(id_, incarnation_); }
  // The promise on disk at start, or the running priest's.
  Ballot promise() const { return priest_ ? priest_->next_bal() : restored_.next_bal; }

  // The clerk carries out every Ready (Clerk::flush), if the priest runs.
  void flush();

 private:
  bool send(const Message& m) override { return host_.send(m); }
  void reply(const ClientReply& r) override { host_.reply(r); }
  void write_out() override { host_.write_out(); }
  void note(const std::string& line) override { host_.note(line); }
  void events(const std::vector<Event>& e) override { host_.events(e); }
  void peers(const std::vector<PriestAddress>& p) override { host_.peers(p); }
  void membership(const Membership& m) override;
  Status record_first(const Membership& m);
  std::string retired_by(const Membership& m) const;

  PriestId id_;
  uint64_t incarnation_;
  PriestOptions tuning_;
  Disk& disk_;
  Records& records_;
  NodeHost& host_;
  Restored restored_;                   // what the files held, until the priest starts
  std::optional<Membership> recorded_;  // membership.json's
  std::optional<Priest> priest_;
  std::optional<Clerk> clerk_;
};

}  // namespace parliament
