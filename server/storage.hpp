// Storage: the durable files of one priest, all under its data directory.
//
//   ledger.csv       the passed decrees, decree-number order, header
//                    decree_no,ballot,kind,client,request,decree,crc32
//                    (kind is "decree", "olive-day" or "membership", whose decree is the
//                    membership it sets, as JSON: proto/membership.hpp; ballot is the decree's
//                    origin, the ballot that first proposed it). Append-only. Holds nothing but the
//                    agreed decrees, so the ledgers of all priests are byte-for-byte equal.
//   votes.csv        the promise and the votes, header
//                    record,decree_no,ballot,origin,kind,client,request,decree,synced,crc32
//                    record "promise": only ballot set; record "vote": ballot is the one
//                    voted in, origin the ballot that first proposed the decree; record
//                    "ledger_synced" (only in a compacted file, its first record): decree_no
//                    is the ledger length that was fdatasynced when compact() dropped the
//                    votes the ledger covers, so ledger.csv is relied on up to that decree.
//                    synced, in every record: a byte offset of votes.csv below which the
//                    file was known fdatasynced when the record was written (appended
//                    records: the end of the data at the last successful sync(); records of
//                    a compacted file: the compacted file's own length, since it became
//                    votes.csv only after its fdatasync).
//                    Append-only: records are written into space zero-filled ahead of
//                    them (4 MiB at a time), so its fdatasync needs no journal commit;
//                    the zeros after the last record are not data. Rewritten whole only
//                    by compact(), atomically.
//   incarnation      16 hex digits: which life of its priest this directory is. Drawn at
//                    random when the directory is first initialised (a blank directory is
//                    always a new incarnation); never changed.
//   format           "parliament-data N": the data format (check_data_format).
//   lock             empty; flock-ed by the priest that uses the directory (lock_data_dir).
//   ledger-synced    "BYTES INODE": the bytes of ledger.csv fdatasynced at the last clean
//                    stop or start, and its inode (see read_ledger_synced).
//   membership.json  {"decree_no", "priests"}: the membership in force, as the god
//                    bootstrapped it (decree_no 0) or as the ledger's latest membership
//                    decree set it. Rewritten atomically, only once the ledger holding that
//                    decree is fdatasynced: the ledger is the authority, this file follows.
//
// Durability contract (docs/OPERATIONS.md "Durability"): the host appends the promise and votes of
// ready() batches, and no last vote, vote or next ballot leaves before a VoteLog::sync()
// that follows every record written so far (group commit: one fdatasync for every batch
// of a drain). The ledger is appended after; its fdatasync may lag (a background thread
// calls LedgerFile::sync()), because a passed decree is already durable in a majority's
// votes. compact() drops the votes the ledger covers, so it requires the ledger synced.
//
// Recovery at open. Anything after the last write known synced may be torn by a crash in
// any way (a file system may keep the second half of a write and not the first, or zeros
// up to a page boundary before good records). So:
//   votes.csv: at the first bad record, at byte F, if some good record (before or after F)
//     says that bytes beyond F had been fdatasynced (its synced > F), the damage is in
//     synced data: corruption, refused, naming the file and F. Otherwise everything from F
//     on is a torn tail and is cut (one warning line). Damage to the last group commit
//     written before a crash, if nothing written after its sync survives, cannot be told
//     from a torn write, and is cut.
//   ledger.csv: a bad record at decree n > relied_on (the ledger_synced value from
//     votes.csv) is a torn tail: it and everything after it are cut (one warning line);
//     the decrees are learned again from votes.csv or the other priests. A bad record at
//     n <= relied_on, or a ledger shorter than relied_on, is corruption: refused.
//   A record before the first bad one that has a good checksum but a wrong content (a bad
//   field, a decree number out of order, an unknown record) is never a crash's doing: it is
//   corruption wherever it is.
// Any write or fdatasync error is returned and the file refuses further writes.
//
// Opening, in this order (the ledger's recovery needs what votes.csv says):
//   VoteLog::Loaded loaded;
//   auto votes  = VoteLog::open(dir + "/votes.csv", loaded);
//   auto ledger = LedgerFile::open(dir + "/ledger.csv", loaded.ledger_synced, each);
//   loaded.forget_passed(ledger->length());  // the votes for passed decrees no longer matter
//
// Threads: everything is called from the priest's single I/O thread, except
// LedgerFile::sync() and LedgerFile::synced_length(), which any thread may call at any time
// (a background syncer) while the I/O thread uses the same LedgerFile; such a thread must
// be stopped (joined) before the LedgerFile is destroyed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "proto/ballot.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "proto/message.hpp"
#include "proto/result.hpp"

namespace parliament {

class LedgerFile {
 public:
  // Opens (creating it with its header if missing), recovers a torn tail (see above) and
  // fdatasyncs it. `relied_on` is VoteLog::Loaded::ledger_synced: the decrees up to it must
  // be intact. Calls `each` with every decree kept, in order, so the caller can rebuild
  // what it derives.
  // `known_synced`: bytes of the file fdatasynced at the last clean stop or start
  // (read_ledger_synced); damage below it is named as the disk corrupting durable data.
  static Result<std::unique_ptr<LedgerFile>> open(const std::string& path, uint64_t relied_on,
                                                  const std::function<void(const Entry&)>& each,
                                                  uint64_t known_synced = 0);
  ~LedgerFile();

  uint64_t length() const { return offsets_.size(); }  // decrees 1..length()
  uint64_t bytes() const { return size_; }  // of records, the header included (I/O thread)
  // Appends; entries[0].decree_no must be length()+1 and the numbers consecutive.
  Status append(const std::vector<Entry>& entries);
  // One fdatasync; on success the decrees appended before the call are durable.
  // Thread-safe: may run on another thread concurrently with append(), read() and another
  // sync() (syncs are serialised). A failure is sticky: once any fdatasync of the ledger
  // failed (Linux reports a writeback error only once), this and every later sync() and
  // append(), from any thread, fail with it.
  Status sync();
  // The decrees made durable by the last successful sync() (or by open). Thread-safe.
  uint64_t synced_length() const { return synced_.load(std::memory_order_acquire); }
  // Up to max_count decrees from from_no (1-based), stopping early past max_bytes of text.
  Result<std::vector<Entry>> read(uint64_t from_no, size_t max_count, size_t max_bytes) const;
  const std::string& path() const { return path_; }

 private:
  LedgerFile() = default;
  std::string failed() const;  // the sticky error, empty if none
  Status fail(std::string why);  // makes `why` the sticky error (if it is the first)
  std::string path_;
  int fd_ = -1;                    // fixed from open to the destructor
  uint64_t size_ = 0;              // bytes in the file (I/O thread)
  std::vector<uint64_t> offsets_;  // offsets_[n-1]: byte offset of decree n (I/O thread)
  std::atomic<uint64_t> written_{0};  // decrees whose write() has returned
  std::atomic<uint64_t> synced_{0};   // decrees made durable (see synced_length())
  std::mutex sync_mu_;                // one fdatasync at a time
  mutable std::mutex error_mu_;       // guards error_
  std::string error_;                 // set after a failed write or fdatasync: sticky
};

class VoteLog {
 public:
  struct Loaded {
    Ballot next_bal;
    std::vector<Entry> votes;  // in file order; a later vote for a number replaces an earlier
    uint64_t ledger_synced = 0;  // LedgerFile::open's relied_on (0 if never compacted)
    // Drops the votes for decrees 1..ledger_length (passed: their votes no longer matter).
    void forget_passed(uint64_t ledger_length);
  };
  // Opens (creating it if missing), recovers a torn tail (see above), fdatasyncs it, and
  // fills `loaded` with every promise and vote in it.
  static Result<std::unique_ptr<VoteLog>> open(const std::string& path, Loaded& loaded);
  ~VoteLog();

  // One write() each; durable after the next sync().
  Status append_promise(const Ballot& b);
  Status append_votes(const std::vector<Entry>& votes);
  // One fdatasync: every record appended before the call is durable once it returns.
  Status sync();
  // The same in two steps, so that the fdatasync may run on another thread while this log
  // goes on taking records: begin_sync() (I/O thread) says which descriptor to fdatasync and
  // how far that covers; end_sync() (I/O thread) takes the outcome of ::fdatasync(fd).
  // Between the two, no compaction may finish (the descriptor must stay votes.csv's).
  struct SyncTicket {
    int fd = -1;
    uint64_t covers = 0;  // bytes of records written when the sync began
    uint64_t file = 0;    // which votes.csv: each finished compaction makes a new one
  };
  Result<SyncTicket> begin_sync();
  Status end_sync(const SyncTicket& t, int fdatasync_errno);
  // Atomically replaces the file by one holding the ledger's synced length (as its
  // ledger_synced record), this promise and these votes (write temp, fdatasync, rename,
  // fsync the directory). The ledger must be synced up to its end first (call
  // ledger.sync()): refused, as a bug in the caller, if ledger.synced_length() < length().
  // compact() is begin_compaction, Compaction::prepare and finish_compaction in a row.
  Status compact(const Ballot& next_bal, const std::vector<Entry>& votes,
                 const LedgerFile& ledger);

  // The same in three steps, so that its slow part (writing and fdatasyncing the new file,
  // zero-filling it ahead) runs on another thread while this log goes on taking records:
  //   auto c = log.begin_compaction(next_bal, votes, ledger.length(), reserve_for); // I/O thread
  //   ledger.sync(); c->prepare(ledger);    // any one thread, alone
  //   log.finish_compaction(*c, &old_fd);   // I/O thread, after prepare returned
  // begin_compaction snapshots the promise and open votes (the records it drops are the votes
  // at numbers up to the ledger's `ledger_length`, which must be durable by prepare: refused
  // otherwise). prepare writes the snapshot to votes.csv.tmp, zero-fills it up to
  // reserve_for(the snapshot's bytes), and fdatasyncs it. finish_compaction appends the records
  // written to this log since begin_compaction (or since hand_over_appended, below), fdatasyncs
  // them, renames the file over votes.csv and fsyncs the directory; from then on every record
  // goes to the new file, which holds everything the old one held that matters. A failure in
  // any step poisons this log, as a failed append does. One compaction at a time. The
  // replaced file's descriptor is handed to the caller in `old_fd` (closing it frees the old
  // file's blocks, which takes milliseconds), or closed here if `old_fd` is null.
  class Compaction;
  std::shared_ptr<Compaction> begin_compaction(const Ballot& next_bal, std::vector<Entry> votes,
                                               uint64_t ledger_length,
                                               std::function<uint64_t(uint64_t)> reserve_for);
  Status finish_compaction(Compaction& c, int* old_fd = nullptr);
  // Optional, between prepare and finish_compaction, any number of times (I/O thread):
  // hands the records appended so far to the compaction, whose catch_up() then writes and
  // fdatasyncs them into the new file on another thread, so that finish_compaction has only
  // what is appended after the last hand-over left to write on the I/O thread.
  void hand_over_appended(Compaction& c);
  // The bytes appended to this log since the compaction began or was last handed records.
  uint64_t appended_bytes() const { return compacting_ ? size_ - handed_at_ : 0; }
  // Forgets a compaction that will not be finished (the priest is stopping).
  void abandon_compaction() {
    compacting_ = false;
    appended_.clear();
  }
  bool compacting() const { return compacting_; }

  uint64_t bytes() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  VoteLog() = default;
  Status write_all(const std::string& bytes);
  Status poison(std::string why);
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;       // bytes of records (the header included)
  uint64_t synced_ = 0;     // bytes known fdatasynced (written into every record)
  uint64_t allocated_ = 0;  // bytes in the file: records, then zeros written ahead
  uint64_t file_ = 0;       // counts the files this log has been (compactions finished)
  std::string error_;
  // While a compaction is under way: the records appended since it began, in order
  // (a promise has no votes; a batch of votes has no promise).
  struct Appended {
    std::optional<Ballot> promise;
    std::vector<Entry> votes;
  };
  bool compacting_ = false;
  std::vector<Appended> appended_;
  uint64_t handed_at_ = 0;  // size_ when the compaction began or was last handed records
};

// One compaction of a VoteLog (see VoteLog::begin_compaction). prepare() may run on any
// thread; nothing else touches the object until it returns.
class VoteLog::Compaction {
 public:
  ~Compaction();  // closes the new file; removes it if it never became votes.csv
  Status prepare(const LedgerFile& ledger);
  // Instead of prepare, when the caller could not make the ledger durable: finish fails.
  void abandon(std::string why) { prepared_ = Status::failure(std::move(why)); }
  // After prepare and VoteLog::hand_over_appended, on any one thread alone: writes the
  // records handed over after those the new file holds, and fdatasyncs them. A failure
  // makes finish_compaction fail, as a failed prepare does.
  Status catch_up();
  // prepare or a catch-up failed (or abandon was called): finish_compaction will fail.
  bool failed() const { return prepared_ && !*prepared_; }
  uint64_t bytes() const { return data_; }  // the snapshot's bytes, once prepared

 private:
  friend class VoteLog;
  // Writes `records` after those the new file holds, each claiming the new end synced (it
  // will be, before the file becomes votes.csv), and fdatasyncs them.
  Status append(const std::vector<Appended>& records);
  std::string path_;  // votes.csv; the new file is path_ + ".tmp"
  Ballot next_bal_;
  std::vector<Entry> votes_;
  uint64_t ledger_length_ = 0;
  std::function<uint64_t(uint64_t)> reserve_for_;
  int fd_ = -1;
  uint64_t data_ = 0;       // bytes of records written by prepare (the snapshot)
  uint64_t written_ = 0;    // bytes of records in the new file: the snapshot, then caught up
  uint64_t allocated_ = 0;  // bytes in the new file
  std::vector<Appended> handed_;  // records handed over, for catch_up
  std::optional<Status> prepared_;
  bool installed_ = false;
};

// membership.json in `dir`: nullopt if absent; an error if unreadable or of an older version.
Result<std::optional<Membership>> load_membership(const std::string& dir);
Status save_membership(const std::string& dir, const Membership& m);

// incarnation in `dir`: read it, or, in a blank directory (no ledger.csv, votes.csv or
// membership.json), draw a new random one and write it durably before anything else. A
// directory with those files and no incarnation is refused.
Result<uint64_t> load_or_create_incarnation(const std::string& dir);

// removed in `dir`: written (durably) when a membership decree removed or replaced this
// priest, holding why; read_removed gives that sentence, "" when there is no such file, or
// an error when it cannot be read.
// A priest whose directory holds it never starts again (server/transport.hpp, kExitRemoved).
Status mark_removed(const std::string& dir, const std::string& why);
Result<std::string> read_removed(const std::string& dir);

// parliament in `dir`: the id of the parliament this data directory belongs to
// (tls::parliament_id), written at bootstrap or join. read_parliament_id gives "" when the
// file is absent, an error when it is unreadable or not 16 hex digits.
Status save_parliament_id(const std::string& dir, const std::string& id);
Result<std::string> read_parliament_id(const std::string& dir);

// ledger-synced in `dir`: the length in bytes of ledger.csv known fdatasynced when the priest
// last stopped cleanly or started, with that file's inode (0 when absent, unreadable, or
// written for another ledger.csv than the one there now). The ledger is append-only,
// so damage below it was not torn by a crash: it is named as corruption of durable data.
uint64_t read_ledger_synced(const std::string& dir);
Status save_ledger_synced(const std::string& dir, uint64_t bytes);

// lock in `dir`: held (flock, exclusive) by the one process that uses the directory, from its
// start to its exit; the kernel drops it when the process dies. lock_data_dir creates the
// directory and the file if missing and returns the descriptor that holds the lock (keep it
// open), or an error saying another process holds it. try_lock_data_dir is the same for a
// tool that must not touch a directory a priest uses: nullopt if the directory has no lock
// file (no priest of this version ever started there).
Result<int> lock_data_dir(const std::string& dir);
Result<std::optional<int>> try_lock_data_dir(const std::string& dir);

// format in `dir`: "parliament-data N", the data format of the directory's files
// (proto/version.hpp). Written when missing (a new directory, or one older than the file:
// format 1); a format this program does not read is refused, naming it and what to do.
Status check_data_format(const std::string& dir);

// Creates the directory and its parents if missing.
Status ensure_dir(const std::string& dir);

}  // namespace parliament
