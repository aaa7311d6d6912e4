// Clerk: carries out what a Priest decided (its Ready), in the one order that keeps Paxos
// safe across crashes. It is the host's half of the contract in proto/priest.hpp, written
// once: paxos-priest (server/, real files and TCP) and the simulator and explorer
// (tests/sim/, a simulated disk and network) all drive their priests through it, so the
// tests exercise the very code that production runs.
//
// The order (docs/OPERATIONS.md "Durability", docs/SAFETY.md):
//   1. a Ready's promise and votes are written (Disk::write_promise / write_votes);
//   2. messages that assert something about this priest's disk (next ballot, last vote,
//      vote yes, vote no: waits_for_disk) wait until a Disk::sync_votes() that began after
//      those writes has completed; they then leave in the order they were made. The others
//      (begin ballot, successful and failed ballot, catch-up, forward, answer) leave at once,
//      so they may overtake waiting ones. Messages to this priest itself are stepped into
//      it, in the same order and under the same rule. What was sent is written out
//      (Messenger::write_out) before step 3, and again after released messages and catch-up;
//   3. passed decrees are appended to the ledger (Disk::append_ledger), then a membership
//      they set is handed to the host (Messenger::membership);
//   4. clients are answered and catch-up is read from the ledger and sent.
// One sync covers every write made before it began (group commit). A failed write, sync,
// append or ledger read halts the clerk for good: nothing of that Ready or any later one
// is sent, and on_halt says why.
//
// Pure: no I/O of its own. Single-threaded, like the Priest it serves.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "proto/message.hpp"
#include "proto/priest.hpp"
#include "proto/result.hpp"

namespace parliament {

// A priest's durable files as the clerk uses them. Implemented by server/archive (files)
// and by the simulator (a disk that loses what was not synced when its priest crashes).
class Disk {
 public:
  virtual ~Disk() = default;
  // votes.csv: written now, durable only once a sync_votes() begun after them completes.
  virtual Status write_promise(const Ballot& next_bal) = 0;
  virtual Status write_votes(const std::vector<Entry>& votes) = 0;
  // Begins making every write so far durable. Returns the outcome if that finished at once;
  // nullopt if it finishes later, when the host calls Clerk::votes_synced with the outcome.
  virtual std::optional<Status> sync_votes() = 0;
  // ledger.csv: decrees length()+1.. in order. Durable later (see docs/OPERATIONS.md "Durability").
  virtual Status append_ledger(const std::vector<Entry>& passed) = 0;
  // Passed decrees from_no..upto_no (fewer if they would make too large a message).
  virtual Result<std::vector<Entry>> read_ledger(uint64_t from_no, uint64_t upto_no) = 0;
};

// A priest's transport to the other priests and to its own clients.
class Messenger {
 public:
  virtual ~Messenger() = default;
  // Carries m to priest m.to (never this priest). False if it could not even be queued
  // (no link, or the link's queue is full): the message is lost, as on any network.
  virtual bool send(const Message& m) = 0;
  // Answers a client of this priest, waiting under r.token.
  virtual void reply(const ClientReply& r) = 0;
  // The messages sent so far are to leave now. A host may hold what it is sent until its
  // turn ends, to write each link once; the clerk calls this after each Ready's messages, its
  // catch-up, and the messages a sync released, so that none waits behind the ledger or the
  // next sync (the simulator fails a run in which a message sent is not written out before
  // the clerk appends to the ledger, begins a sync or ends its flush).
  virtual void write_out() {}
  // A sentence for the log (what the priest says happened).
  virtual void note(const std::string& line) = 0;
  // What the priest did, for the ballot timeline (Ready::events), in order.
  virtual void events(const std::vector<Event>&) {}
  // The priests to keep links to changed (Ready::peers); called before the Ready's messages.
  virtual void peers(const std::vector<PriestAddress>&) {}
  // A membership decree passed and is appended to the ledger (Ready::membership). The Node
  // (proto/node.hpp), the clerk's messenger, records it in membership.json once that ledger
  // is durable, then passes this call on to its host, which hears that it is recorded.
  virtual void membership(const Membership&) {}
};

// Messages that assert something about their sender's disk, and so wait for its sync:
// next ballot (its own promise), last vote (a promise and its votes), vote yes (a vote),
// vote no (a promise).
bool waits_for_disk(Kind k);

class Clerk {
 public:
  Clerk(Priest& priest, Disk& disk, Messenger& messenger,
        std::function<void(const std::string&)> on_halt);
  // A copy of `other`'s state serving another (copied) priest, disk and messenger: the
  // explorer copies whole parliaments to try each next step from the same state.
  Clerk(const Clerk& other, Priest& priest, Disk& disk, Messenger& messenger,
        std::function<void(const std::string&)> on_halt);

  // Carries out every Ready of the priest until it is quiet. Call after tick(), step() and
  // propose(). Does nothing once halted.
  void flush();
  // The outcome of a sync_votes() that returned nullopt; releases what waited for it.
  void votes_synced(const Status& s);

  bool halted() const { return !halted_.empty(); }
  const std::string& why_halted() const { return halted_; }
  // The clerk's own state as text (the explorer's state hashing).
  std::string fingerprint() const;

 private:
  void carry_out(Ready& r);
  void dispatch(Message& m);
  void deliver(const Message& m);  // to itself or to a peer
  void catch_up(const CatchUp& c);
  void release();
  void halt(const std::string& why);

  Priest& priest_;
  Disk& disk_;
  Messenger& messenger_;
  std::function<void(const std::string&)> on_halt_;
  // Write generations: written_ counts Ready batches that wrote to votes.csv; a sync that
  // began when written_ was g makes generations up to g durable.
  uint64_t written_ = 0;
  uint64_t synced_ = 0;
  uint64_t syncing_ = 0;  // the generation the sync under way covers; 0: none
  struct Gated {
    uint64_t generation;
    Message m;
  };
  std::deque<Gated> gated_;
  bool flushing_ = false;
  std::string halted_;
};

}  // namespace parliament
