// Archive: one priest's durable files behind the Clerk's Disk interface (proto/clerk.hpp),
// with the two jobs that only real files have: the background fdatasync of ledger.csv and
// the compaction of votes.csv.
//
// Durability (docs/OPERATIONS.md "Durability"):
//   - write_promise / write_votes append to votes.csv; sync_votes() is one fdatasync of it,
//     run on the archive's syncer thread (the clerk holds back every message that relies on
//     those records until the outcome is posted back, and begins one sync at a time) or,
//     for a follower with nothing else to do, on the I/O thread; a compaction never
//     finishes while a sync is under way;
//   - append_ledger appends to ledger.csv; a background thread fdatasyncs it about every
//     100 ms while it grows (a passed decree is already durable in a majority's votes).
//     Its failure is sticky in LedgerFile: every later ledger append or sync fails, and the
//     host is told (halt) on its own thread;
//   - compact_if_large() starts a compaction once votes.csv is large: on the archive's
//     helper thread, the ledger is made durable (which fails if any earlier background sync
//     failed), and only then is the new votes file, without the votes the ledger now covers,
//     written and fdatasynced; while many records were appended meanwhile, the helper
//     writes and fdatasyncs them into the new file too (a few turns at most); back on the
//     I/O thread, the records appended since are added and fdatasynced, and the new file is
//     renamed over votes.csv and its directory fsynced before any later record relies on it
//     (VoteLog::begin_compaction). A failure halts the priest (`failed`).
//
// Called from the priest's I/O thread only. The helper thread touches only the ledger's
// sync (which LedgerFile makes safe), the compaction it was handed, and the descriptor of a
// replaced votes file, which it closes; the syncer thread only fdatasyncs the descriptor it
// was handed. Their outcomes come back through `post`.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "proto/clerk.hpp"
#include "proto/priest.hpp"
#include "server/metrics.hpp"
#include "server/storage.hpp"

namespace parliament {

class ArchiveHelper;

class Archive : public Disk {
 public:
  // Opens ledger.csv and votes.csv in dir (recovering torn tails) and fills `restored`.
  // `post` runs a function on the I/O thread (any thread may call it); there, `failed` is
  // called when a background ledger sync or a compaction fails, and `votes_synced` with the
  // outcome of each sync_votes() (for Clerk::votes_synced).
  static Result<std::unique_ptr<Archive>> open(const std::string& dir, Restored& restored,
                                               std::function<void(std::function<void()>)> post,
                                               std::function<void(std::string)> failed,
                                               size_t max_read_bytes,
                                               std::function<void(Status)> votes_synced);
  ~Archive() override;

  Status write_promise(const Ballot& b) override { return votes_->append_promise(b); }
  Status write_votes(const std::vector<Entry>& v) override { return votes_->append_votes(v); }
  // The fdatasync runs on the archive's syncer thread and its outcome is given to
  // `votes_synced` (see open) on the I/O thread; after stop(), or while syncing on the
  // calling thread (below), it runs on the calling thread and its outcome is returned.
  std::optional<Status> sync_votes() override;
  // Whether sync_votes() fdatasyncs on the calling thread (the I/O thread) from now on. The
  // host sets it before each flush: on for a priest that has nothing to do meanwhile but
  // wait for the same disk (a follower with no client waiting), which saves two thread
  // hand-offs per sync; off for a president, which goes on counting votes and beginning
  // ballots while its disk works. Taking effect only between syncs (the clerk's one-at-a-
  // time rule holds either way).
  void sync_on_calling_thread(bool on) {
    if (!sync_pending_) sync_inline_ = on;
  }
  Status append_ledger(const std::vector<Entry>& passed) override;
  Result<std::vector<Entry>> read_ledger(uint64_t from_no, uint64_t upto_no) override;

  // Reads for clients (paxos-client ledger).
  Result<std::vector<Entry>> read(uint64_t from_no, size_t max_count, size_t max_bytes) const {
    return ledger_->read(from_no, max_count, max_bytes);
  }
  uint64_t ledger_length() const { return ledger_->length(); }
  uint64_t votes_bytes() const { return votes_->bytes(); }
  // Each fdatasync of votes.csv is timed into `h` (on the thread that ran it); nullptr: none.
  void time_votes_syncs(Histogram* h) { votes_sync_seconds_ = h; }
  // Rewrites votes.csv to just the priest's promise and open votes once it is large, mostly
  // on the helper thread (see above); does nothing while a compaction is under way.
  Status compact_if_large(const Priest& priest);
  // For a file whose compaction kept `kept_bytes` (0: none yet) at this priest: it is
  // compacted once larger than `threshold`, and was zero-filled to `reserve` when made.
  struct CompactionSize {
    uint64_t threshold;
    uint64_t reserve;
  };
  static CompactionSize compaction_size(uint64_t kept_bytes, PriestId id);
  // A compaction is under way (begun, not yet finished on this thread).
  bool compacting() const { return compaction_ != nullptr; }
  // Synchronously, at shutdown; then records how far ledger.csv is durable (ledger-synced).
  Status sync_ledger() {
    if (auto s = ledger_->sync(); !s) return s;
    return save_ledger_synced(dir_, ledger_->bytes());
  }
  // Stops the helper thread (joins it); a compaction under way is abandoned, votes.csv intact.
  void stop();

 private:
  Archive() = default;
  std::unique_ptr<LedgerFile> ledger_;
  std::unique_ptr<VoteLog> votes_;
  // A compaction under way, between its turns on the helper and I/O threads.
  struct Compacting {
    std::shared_ptr<VoteLog::Compaction> c;
    std::chrono::steady_clock::time_point began;
    int catch_ups = 0;  // turns the helper took writing records appended meanwhile
  };
  void on_helper(const Compacting& step, std::function<void()> job);
  void compaction_turn(const Compacting& step);
  void finish_compaction(const Compacting& step);
  std::unique_ptr<ArchiveHelper> helper_;
  std::unique_ptr<ArchiveHelper> syncer_;  // vote fdatasyncs, one at a time (the clerk's rule)
  std::function<void(Status)> votes_synced_;
  bool sync_pending_ = false;
  bool sync_inline_ = false;  // sync_on_calling_thread
  std::function<void()> deferred_finish_;  // a compaction's turn, once the sync is done
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::shared_ptr<VoteLog::Compaction> compaction_;  // under way, on the helper thread
  uint64_t kept_bytes_ = 0;  // the bytes of the last compaction's snapshot (its open votes)
  std::function<void(std::string)> failed_;
  size_t max_read_bytes_ = 1 << 20;
  std::string dir_;  // the data directory
  Histogram* votes_sync_seconds_ = nullptr;
};

}  // namespace parliament
