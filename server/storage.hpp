// Storage: the durable files of one priest, all under its data directory.
//
//   ledger.csv       the passed decrees, decree-number order, header
//                    decree_no,ballot,kind,client,request,decree,crc32
//                    (kind is "decree" or "olive-day"; ballot is the decree's origin, the
//                    ballot that first proposed it). Append-only.
//   votes.csv        the promise and the votes, header
//                    record,decree_no,ballot,origin,kind,client,request,decree,crc32
//                    (record "promise": only ballot set; record "vote": ballot is the one
//                    voted in, origin the ballot that first proposed the decree).
//                    Append-only: records are written into space zero-filled ahead of
//                    them (4 MiB at a time), so its fdatasync needs no journal commit;
//                    the zeros after the last record are not data. Rewritten whole only
//                    by compact(), atomically.
//   membership.json  the membership the god bootstrapped, written once, atomically.
//
// Durability contract (README "Durability"): the host appends the promise and votes of
// ready() batches, and no last vote, vote or next ballot leaves before a VoteLog::sync()
// that follows every record written so far (group commit: one fdatasync for every batch
// of a drain). The ledger is appended after; its
// fdatasync may lag, because a passed decree is already durable in a majority's votes.
// Before compact(), which drops the votes the ledger now covers, the host syncs the ledger.
//
// A torn last record (crash mid-write) is detected by its checksum or missing newline,
// logged, and cut off at open; a bad record before good ones is corruption: open fails.
// Any write or fdatasync error is returned and the file refuses further writes.
//
// Called from the priest's single I/O thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proto/ballot.hpp"
#include "proto/config.hpp"
#include "proto/message.hpp"
#include "proto/result.hpp"

namespace parliament {

class LedgerFile {
 public:
  // Opens (creating it with its header if missing) and recovers a torn tail. Calls
  // `each` with every decree in order, so the caller can rebuild what it derives.
  static Result<std::unique_ptr<LedgerFile>> open(const std::string& path,
                                                  const std::function<void(const Entry&)>& each);
  ~LedgerFile();

  uint64_t length() const { return offsets_.size(); }  // decrees 1..length()
  // Appends; entries[0].decree_no must be length()+1 and the numbers consecutive.
  Status append(const std::vector<Entry>& entries);
  Status sync();
  // Up to max_count decrees from from_no (1-based), stopping early past max_bytes of text.
  Result<std::vector<Entry>> read(uint64_t from_no, size_t max_count, size_t max_bytes) const;
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }  // for a background fdatasync only

 private:
  LedgerFile() = default;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;              // bytes in the file
  std::vector<uint64_t> offsets_;  // offsets_[n-1]: byte offset of decree n
  std::string error_;              // set after a failed write: no more writes
};

class VoteLog {
 public:
  struct Loaded {
    Ballot next_bal;
    std::vector<Entry> votes;  // in file order; a later vote for a number replaces an earlier
  };
  // Keeps only the votes for decree numbers above `above` (the ledger's length: the
  // decrees up to it have passed and their votes no longer matter).
  static Result<std::unique_ptr<VoteLog>> open(const std::string& path, Loaded& loaded,
                                               uint64_t above = 0);
  ~VoteLog();

  Status append_promise(const Ballot& b);
  Status append_votes(const std::vector<Entry>& votes);
  Status sync();
  // Atomically replaces the file by one holding just this promise and these votes
  // (write temp, fdatasync, rename, fsync the directory).
  Status compact(const Ballot& next_bal, const std::vector<Entry>& votes);
  uint64_t bytes() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  VoteLog() = default;
  Status write_all(const std::string& bytes);
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;       // bytes of records (the header included)
  uint64_t allocated_ = 0;  // bytes in the file: records, then zeros written ahead
  std::string error_;
};

// membership.json in `dir`: nullopt-like empty vector if absent; error if unreadable.
Result<std::vector<PriestAddress>> load_membership(const std::string& dir);
Status save_membership(const std::string& dir, const std::vector<PriestAddress>& priests);

// Creates the directory and its parents if missing.
Status ensure_dir(const std::string& dir);

}  // namespace parliament
