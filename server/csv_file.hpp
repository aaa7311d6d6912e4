// The CSV files of server/storage*.cpp: their columns, and the primitives the ledger file and
// the vote log share (whole writes, reads, fdatasync of a directory, rows of entries, the
// scan that tells a torn tail from corruption). Internal to server/storage.cpp and
// server/vote_log.cpp; nothing else includes it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/message.hpp"
#include "proto/result.hpp"

namespace parliament::csv {

// A ledger row records a passed decree in the ballot that first proposed it, so its ballot
// is also the decree's origin (the priest sets entry.ballot = decree.origin before passing).
// A vote's ballot is the ballot voted in, which may be later than the origin: votes.csv has
// an origin column of its own.
extern const std::vector<std::string> kLedgerColumns;
extern const std::vector<std::string> kVoteColumns;
// votes.csv as written before records carried their synced offset: no longer read.
extern const std::vector<std::string> kOldVoteColumns;
constexpr size_t kLedgerFields = 6;  // decree_no .. decree
constexpr size_t kVoteFields = 9;    // record .. synced
constexpr size_t kSyncedField = 8;   // in a votes.csv record

// What a corrupt file's error tells the operator to do.
extern const char* kLedgerHint;
extern const char* kVotesHint;

// An open CSV file whose header has been checked (or written if new).
struct Opened {
  int fd = -1;
  size_t header_len = 0;
  uint64_t file_size = 0;  // up to the last byte that is not NUL (the data)
  uint64_t physical_size = 0;  // with the zero-filled tail (preallocated, or left by a crash)
};

using EachRecord = std::function<Status(const std::vector<std::string>& fields, uint64_t offset)>;

// The first record in [from, end) that is not good: its offset (end if every record is
// good) and why.
struct FirstBad {
  uint64_t at = 0;
  std::string why;
};

std::string errno_text(int err);
std::string fail_text(const char* what, const std::string& path, int err);
std::string dir_of(const std::string& path);
Status sync_dir(const std::string& dir);
Status write_fd(int fd, std::string_view bytes, const std::string& path);
Status pread_all(int fd, char* buf, size_t len, uint64_t offset, const std::string& path);
// All of `bytes` written at `offset` (pwrite, retried on EINTR); a write of nothing is ENOSPC.
Status pwrite_all(int fd, std::string_view bytes, uint64_t offset, const std::string& path);
bool parse_u64(const std::string& s, uint64_t& out);
void append_entry_fields(std::vector<std::string>& f, const Entry& e, bool with_origin);
Result<Entry> entry_from_fields(const std::vector<std::string>& f, size_t at, bool with_origin);
Result<uint64_t> data_end(int fd, uint64_t size, const std::string& path);
Result<Opened> open_csv(
    const std::string& path, const std::vector<std::string>& columns, bool append,
    const std::function<std::string(const std::vector<std::string>&)>& wrong_header);
Status cut_torn_tail(int fd, const std::string& path, uint64_t valid_end, uint64_t file_size,
                     const std::string& what, bool keep_allocation = false);
std::string corrupt_text(const std::string& path, const std::string& why, const char* hint);
Result<FirstBad> scan_good(int fd, const std::string& path, uint64_t from, uint64_t end,
                           size_t fields, const std::function<bool(uint64_t)>& verify,
                           const EachRecord& each);
Status scan_after_bad(int fd, const std::string& path, uint64_t bad_at, uint64_t end,
                      size_t fields,
                      const std::function<bool(const std::vector<std::string>&, uint64_t)>& found);
std::string refused_text(const std::string& path, const std::string& error);
std::string plural(uint64_t n, const char* word);

}  // namespace parliament::csv
