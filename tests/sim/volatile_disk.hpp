// VolatileDisk: a priest's disk for the simulator and the explorer. What is written to
// votes.csv becomes durable only when a sync that began after it completes (complete_sync);
// until then a crash may lose it. The ledger is appended as the Clerk asks. Every durable
// vote, written promise and appended decree is reported to the Invariants.
//
// How a sync completes (at once, after a delay, or as a step of the explorer's) and what a
// crash keeps are the harness's: it sets `on_sync` and calls crash_keep().
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "proto/clerk.hpp"
#include "tests/sim/invariants.hpp"

namespace parliament::sim {

struct VolatileDisk : Disk {
  Invariants* inv = nullptr;
  PriestId id = 0;
  uint64_t incarnation = 0;  // a disk is one incarnation's: a blank disk is a new priest
  // durable
  Ballot next_bal;
  std::map<uint64_t, Entry> votes;
  std::vector<Entry> ledger;  // decree n at ledger[n-1]
  // written, not yet durable: a promise, or votes
  struct Write {
    std::optional<Ballot> promise;
    std::vector<Entry> votes;
  };
  std::vector<Write> unsynced;
  size_t syncing = 0;  // how many of `unsynced` the sync under way covers
  // Decides when a sync begun now completes: true if at once.
  std::function<bool()> on_sync;

  Status write_promise(const Ballot& b) override {
    inv->promise_written(id, incarnation, b);
    unsynced.push_back(Write{b, {}});
    return ok_status();
  }
  Status write_votes(const std::vector<Entry>& v) override {
    Ballot promise = next_bal;
    for (auto& w : unsynced)
      if (w.promise) promise = std::max(promise, *w.promise);
    for (auto& e : v)
      if (e.ballot > promise)
        inv->fail("priest " + std::to_string(id) + " votes in ballot " + to_string(e.ballot) +
                  " above its promise " + to_string(promise));
    unsynced.push_back(Write{std::nullopt, v});
    return ok_status();
  }
  std::optional<Status> sync_votes() override {
    syncing = unsynced.size();
    if (on_sync && on_sync()) {
      complete_sync();
      return ok_status();
    }
    return std::nullopt;
  }
  Status append_ledger(const std::vector<Entry>& passed) override {
    for (auto& e : passed) {
      if (e.decree_no != ledger.size() + 1) {
        inv->fail("priest " + std::to_string(id) + " appends decree " + std::to_string(e.decree_no) +
                  " out of order");
        return Status::failure("ledger append out of order");
      }
      ledger.push_back(e);
      inv->ledger_appended(id, e);
    }
    return ok_status();
  }
  Result<std::vector<Entry>> read_ledger(uint64_t from_no, uint64_t upto_no) override {
    std::vector<Entry> out;
    for (uint64_t n = from_no; n <= upto_no && n <= ledger.size(); ++n) out.push_back(ledger[n - 1]);
    return out;
  }

  // The sync under way is done: what it covered is durable.
  void complete_sync() {
    make_durable(syncing);
    syncing = 0;
  }
  // A crash: what was synced stays, and of what was not, the first `keep` writes (the order
  // the disk happened to write them back in; recovery cuts a torn tail at its first bad
  // record, so what survives is a prefix).
  void crash_keep(size_t keep) {
    make_durable(keep);
    unsynced.clear();
    syncing = 0;
  }

 private:
  void make_durable(size_t count) {
    count = std::min(count, unsynced.size());
    for (size_t i = 0; i < count; ++i) {
      if (unsynced[i].promise) next_bal = std::max(next_bal, *unsynced[i].promise);
      for (auto& v : unsynced[i].votes) {
        votes[v.decree_no] = v;
        inv->vote_durable(id, incarnation, v);
      }
    }
    unsynced.erase(unsynced.begin(), unsynced.begin() + count);
  }
};

}  // namespace parliament::sim
