// The vote log: votes.csv of one priest, its promise and votes, and its compaction (see
// storage.hpp, VoteLog).
//
// Every record is one checksummed CSV row (proto/record). Appends are one write() per batch
// on an O_APPEND descriptor; durability is fdatasync, called by the host (group commit).
// After any failed write or fdatasync the file refuses further writes (no fsync retry: the
// kernel may have dropped the dirty pages, so a retry that succeeds proves nothing).
#include "server/storage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <random>

#include <spdlog/spdlog.h>

#include "proto/record.hpp"
#include "server/csv_file.hpp"

namespace parliament {

using namespace csv;

// -------------------------------------------------------------------------------- vote log

void VoteLog::Loaded::forget_passed(uint64_t ledger_length) {
  std::erase_if(votes, [&](const Entry& e) { return e.decree_no <= ledger_length; });
}

namespace {

// The largest synced offset a good record claims, and where that record is.
struct SyncClaim {
  uint64_t synced = 0, at = 0;
  void saw(uint64_t s, uint64_t offset) {
    if (s > synced) synced = s, at = offset;
  }
};

// One good record of votes.csv at byte `offset`, into `out`.
Status load_vote_record(const std::vector<std::string>& f, uint64_t offset, const std::string& path,
                        VoteLog::Loaded& out, SyncClaim& claim) {
  auto corrupt = [&](const std::string& why) {
    return Status::failure(corrupt_text(
        path, "record at byte offset " + std::to_string(offset) + ": " + why, kVotesHint));
  };
  uint64_t synced = 0;
  if (!parse_u64(f[kSyncedField], synced))
    return corrupt("synced \"" + f[kSyncedField] + "\" is not an integer");
  claim.saw(synced, offset);
  if (f[0] == "promise") {
    auto b = parse_ballot(f[2]);
    if (!b) return corrupt("ballot \"" + f[2] + "\" is malformed");
    for (size_t k : {1, 3, 4, 5, 6, 7})
      if (!f[k].empty()) return corrupt("promise with a " + kVoteColumns[k]);
    out.next_bal = std::max(out.next_bal, *b);  // promises only rise; take the max anyway
  } else if (f[0] == "vote") {
    auto e = entry_from_fields(f, 1, true);
    if (!e) return corrupt(e.error());
    out.votes.push_back(std::move(*e));
  } else if (f[0] == "ledger_synced") {
    uint64_t n = 0;
    if (!parse_u64(f[1], n)) return corrupt("decree_no \"" + f[1] + "\" is not an integer");
    for (size_t k : {2, 3, 4, 5, 6, 7})
      if (!f[k].empty()) return corrupt("ledger_synced with a " + kVoteColumns[k]);
    out.ledger_synced = std::max(out.ledger_synced, n);
  } else {
    return corrupt("unknown record \"" + f[0] + "\"");
  }
  return ok_status();
}

// What follows the first bad record (at bad_at; data_end if none): corruption if a good
// record says any of it was made durable, else a torn tail, cut off. With no bad record,
// what was read is made durable (it may be only in the page cache).
Status settle_tail(int fd, const std::string& path, uint64_t bad_at, uint64_t data_end,
                   const std::string& why, SyncClaim claim) {
  uint64_t intact = 0;  // good records after the bad one
  if (bad_at < data_end) {
    auto found = [&](const std::vector<std::string>& f, uint64_t offset) {
      ++intact;
      uint64_t synced = 0;
      if (parse_u64(f[kSyncedField], synced)) claim.saw(synced, offset);
      return claim.synced <= bad_at;  // stop at the first proof of corruption
    };
    if (auto s = scan_after_bad(fd, path, bad_at, data_end, kVoteFields, found); !s) return s;
  }
  if (claim.synced > bad_at) {
    std::string damage =
        bad_at < data_end ? "bad record at byte offset " + std::to_string(bad_at) + " (" + why + ")"
                          : "the data ends at byte offset " + std::to_string(bad_at);
    return Status::failure(
        corrupt_text(path,
                     damage + ", but the record at byte offset " + std::to_string(claim.at) +
                         " was written when its first " + std::to_string(claim.synced) +
                         " bytes had been fdatasynced",
                     kVotesHint));
  }
  if (bad_at < data_end) {
    std::string what = fmt::format(
        "{}: cutting {} bytes from byte offset {} ({} after the bad one): a torn tail ({}), "
        "written after the last fdatasync and torn by a crash; no later record says any of it "
        "had been made durable",
        path, data_end - bad_at, bad_at, plural(intact, "intact record"), why);
    return cut_torn_tail(fd, path, bad_at, data_end, what, true);
  }
  if (::fdatasync(fd) != 0) return Status::failure(fail_text("fdatasync", path, errno));
  return ok_status();
}

}  // namespace

// Each record says how much of the file was fdatasynced when it was written (its synced
// field). At the first bad record, at byte F: if any good record says more than F bytes
// were synced, F is in durable data and the damage is corruption; if none does, nothing
// from F on was ever known durable, and it is a torn tail. The same holds with F at the end
// of the data: a record claiming more than there is means durable bytes went missing.
Result<std::unique_ptr<VoteLog>> VoteLog::open(const std::string& path, Loaded& loaded) {
  using R = Result<std::unique_ptr<VoteLog>>;
  ::unlink((path + ".tmp").c_str());  // left over from a compact() cut short by a crash
  auto opened = open_csv(path, kVoteColumns, false, [](const std::vector<std::string>& names) {
    if (names == kOldVoteColumns)
      return std::string(
          "it was written by an older paxos-priest (its records carry no synced offset), which "
          "this version cannot read: run the older version on it, or replace the priest as a new "
          "member with an empty data directory.");
    return std::string("is it the right file? ") + kVotesHint;
  });
  if (!opened) return R::failure(opened.error());
  std::unique_ptr<VoteLog> v(new VoteLog());
  v->path_ = path;
  v->fd_ = opened->fd;
  v->allocated_ = opened->physical_size;
  Loaded out;
  SyncClaim claim;
  auto record = [&](const std::vector<std::string>& f, uint64_t offset) {
    return load_vote_record(f, offset, path, out, claim);
  };
  const uint64_t data_end = opened->file_size;
  auto first = scan_good(v->fd_, path, opened->header_len, data_end, kVoteFields,
                         [](uint64_t) { return true; }, record);
  if (!first) return R::failure(first.error());
  if (auto s = settle_tail(v->fd_, path, first->at, data_end, first->why, claim); !s)
    return R::failure(s.error());
  v->size_ = v->synced_ = first->at;
  loaded = std::move(out);
  return v;
}

VoteLog::~VoteLog() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

void append_promise_row(std::string& buf, const Ballot& b, const std::string& synced) {
  append_record(buf, {"promise", "", to_string(b), "", "", "", "", "", synced});
}

void append_vote_rows(std::string& buf, const std::vector<Entry>& votes,
                      const std::string& synced) {
  std::vector<std::string> fields;
  for (const auto& e : votes) {
    fields.assign({"vote"});
    append_entry_fields(fields, e, true);
    fields.push_back(synced);
    append_record(buf, fields);
  }
}

}  // namespace

// Writes at the end of the data, inside space already zero-filled: an fdatasync then only
// flushes data blocks, without the journal commit that a growing file costs on ext4 (five
// priests on one disk serialise on those commits). The space grows kPreallocate at a time.
Status VoteLog::write_all(const std::string& bytes) {
  if (!error_.empty()) return Status::failure(refused_text(path_, error_));
  constexpr uint64_t kPreallocate = 4 << 20;
  auto fail = [&](std::string why) {
    error_ = why;
    return Status::failure(std::move(why));
  };
  if (size_ + bytes.size() > allocated_) {
    uint64_t want = (size_ + bytes.size() + kPreallocate) / kPreallocate * kPreallocate;
    static const std::string zeros(1 << 20, '\0');
    for (uint64_t at = allocated_; at < want;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), want - at));
      ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(at));
      if (w <= 0) return fail(fail_text("preallocate", path_, w < 0 ? errno : ENOSPC));
      at += static_cast<uint64_t>(w);
    }
    allocated_ = want;
  }
  if (auto s = pwrite_all(fd_, bytes, size_, path_); !s) return fail(s.error());
  size_ += bytes.size();
  return ok_status();
}

// Every record carries synced_, the end of the data at the last successful sync: what a
// crash may tear starts at or after it, so no record a crash can leave behind claims more.
Status VoteLog::append_promise(const Ballot& b) {
  std::string buf;
  append_promise_row(buf, b, std::to_string(synced_));
  auto s = write_all(buf);
  if (s && compacting_) appended_.push_back(Appended{b, {}});
  return s;
}

Status VoteLog::append_votes(const std::vector<Entry>& votes) {
  std::string buf;
  append_vote_rows(buf, votes, std::to_string(synced_));
  auto s = write_all(buf);
  if (s && compacting_) appended_.push_back(Appended{std::nullopt, votes});
  return s;
}

Status VoteLog::sync() {
  auto t = begin_sync();
  if (!t) return Status::failure(t.error());
  return end_sync(*t, ::fdatasync(t->fd) == 0 ? 0 : errno);
}

Result<VoteLog::SyncTicket> VoteLog::begin_sync() {
  if (!error_.empty()) return Result<SyncTicket>::failure(refused_text(path_, error_));
  return SyncTicket{fd_, size_, file_};
}

Status VoteLog::end_sync(const SyncTicket& t, int fdatasync_errno) {
  if (!error_.empty()) return Status::failure(refused_text(path_, error_));
  if (t.file != file_) return poison("fdatasync of a replaced " + path_ + " (a bug)");
  if (fdatasync_errno != 0) return poison(fail_text("fdatasync", path_, fdatasync_errno));
  synced_ = std::max(synced_, t.covers);
  return ok_status();
}

Status VoteLog::poison(std::string why) {
  if (error_.empty()) error_ = why;
  return Status::failure(std::move(why));
}

Status VoteLog::compact(const Ballot& next_bal, const std::vector<Entry>& votes,
                        const LedgerFile& ledger) {
  if (!error_.empty()) return Status::failure(refused_text(path_, error_));
  auto c = begin_compaction(next_bal, votes, ledger.length(), [](uint64_t) { return 0; });
  if (auto s = c->prepare(ledger); !s) {
    compacting_ = false;
    appended_.clear();
    // The ledger not synced is the caller's bug and harms nothing: the log stays usable.
    if (ledger.synced_length() < c->ledger_length_) return s;
    return poison(s.error());
  }
  return finish_compaction(*c);
}

std::shared_ptr<VoteLog::Compaction> VoteLog::begin_compaction(
    const Ballot& next_bal, std::vector<Entry> votes, uint64_t ledger_length,
    std::function<uint64_t(uint64_t)> reserve_for) {
  auto c = std::make_shared<Compaction>();
  c->path_ = path_;
  c->next_bal_ = next_bal;
  c->votes_ = std::move(votes);
  c->ledger_length_ = ledger_length;
  c->reserve_for_ = std::move(reserve_for);
  compacting_ = true;
  appended_.clear();
  handed_at_ = size_;
  return c;
}

void VoteLog::hand_over_appended(Compaction& c) {
  c.handed_.insert(c.handed_.end(), std::make_move_iterator(appended_.begin()),
                   std::make_move_iterator(appended_.end()));
  appended_.clear();
  handed_at_ = size_;
}

VoteLog::Compaction::~Compaction() {
  if (fd_ >= 0) ::close(fd_);
  if (!installed_ && prepared_) ::unlink((path_ + ".tmp").c_str());
}

namespace {

// Renders records whose synced field claims the offset at which the rendering ends, when it
// starts at `start`: the digits of the claim change its length, so iterate to a fixed point
// (a few rounds at most).
std::string render_claiming_end(uint64_t start,
                                const std::function<void(std::string&, const std::string&)>& rows) {
  std::string buf;
  for (uint64_t claim = 0;;) {
    buf.clear();
    rows(buf, std::to_string(claim));
    if (start + buf.size() == claim) return buf;
    claim = start + buf.size();
  }
}

}  // namespace

// The new file becomes votes.csv only once all of it is durable, so every record in it
// claims the whole of what prepare wrote as synced.
Status VoteLog::Compaction::prepare(const LedgerFile& ledger) {
  auto done = [&](Status s) {
    prepared_ = s;
    return s;
  };
  if (ledger.synced_length() < ledger_length_)
    return done(Status::failure("compacting " + path_ + " while " + ledger.path() +
                                " is synced to decree " + std::to_string(ledger.synced_length()) +
                                " of " + std::to_string(ledger_length_) +
                                ": sync the ledger first (a bug in the caller)"));
  const std::string relied_on = std::to_string(ledger_length_);
  std::string buf = render_claiming_end(0, [&](std::string& out, const std::string& synced) {
    append_header(out, kVoteColumns);
    append_record(out, {"ledger_synced", relied_on, "", "", "", "", "", "", synced});
    append_promise_row(out, next_bal_, synced);
    append_vote_rows(out, votes_, synced);
  });
  const std::string tmp = path_ + ".tmp";
  fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return done(Status::failure(fail_text("create", tmp, errno)));
  if (auto s = write_fd(fd_, buf, tmp); !s) return done(s);
  data_ = allocated_ = buf.size();
  // Zeros ahead of the records, written now rather than on the path of a vote (see write_all).
  static const std::string zeros(1 << 20, '\0');
  const uint64_t reserve = reserve_for_(data_);
  while (allocated_ < reserve) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), reserve - allocated_));
    ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(allocated_));
    if (w <= 0) return done(Status::failure(fail_text("preallocate", tmp, w < 0 ? errno : ENOSPC)));
    allocated_ += static_cast<uint64_t>(w);
  }
  if (::fdatasync(fd_) != 0) return done(Status::failure(fail_text("fdatasync", tmp, errno)));
  written_ = data_;
  return done(ok_status());
}

Status VoteLog::Compaction::catch_up() {
  if (!prepared_ || failed()) return Status::failure("catching up a compaction not prepared");
  std::vector<Appended> records = std::move(handed_);
  handed_.clear();
  auto s = append(records);
  if (!s) prepared_ = s;
  return s;
}

Status VoteLog::Compaction::append(const std::vector<Appended>& records) {
  const std::string tmp = path_ + ".tmp";
  std::string buf = render_claiming_end(written_, [&](std::string& out, const std::string& synced) {
    for (const auto& a : records) {
      if (a.promise) append_promise_row(out, *a.promise, synced);
      append_vote_rows(out, a.votes, synced);
    }
  });
  if (buf.empty()) return ok_status();
  if (auto s = pwrite_all(fd_, buf, written_, tmp); !s) return s;
  if (::fdatasync(fd_) != 0) return Status::failure(fail_text("fdatasync", tmp, errno));
  written_ += buf.size();
  allocated_ = std::max(allocated_, written_);
  return ok_status();
}

// The records appended since begin_compaction (or the last hand-over) go after those the new
// file holds, claiming its whole length synced (it is, before the rename); then the rename,
// made durable by an fsync of the directory before any record relies on the new file.
Status VoteLog::finish_compaction(Compaction& c, int* old_fd) {
  compacting_ = false;
  std::vector<Appended> appended = std::move(appended_);
  appended_.clear();
  if (!error_.empty()) return Status::failure(refused_text(path_, error_));
  if (!c.prepared_)
    return poison("compacting " + path_ + ": finished before it was prepared (a bug)");
  if (!*c.prepared_) return poison(c.prepared_->error());
  if (!c.handed_.empty())
    return poison("compacting " + path_ + ": finished with records not caught up (a bug)");
  if (auto s = c.append(appended); !s) return poison(s.error());
  const std::string tmp = path_ + ".tmp";
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    return poison("cannot rename " + tmp + " to " + path_ + ": " + errno_text(err));
  }
  c.installed_ = true;
  if (auto d = sync_dir(dir_of(path_)); !d) return poison(d.error());
  // The compaction's descriptor was opened write-only; reopen read-write as open() does.
  int nfd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (nfd < 0) return poison(fail_text("reopen", path_, errno));
  if (old_fd) *old_fd = fd_; else ::close(fd_);
  fd_ = nfd;
  ++file_;
  size_ = synced_ = c.written_;
  allocated_ = std::max(c.allocated_, size_);
  return ok_status();
}

}  // namespace parliament
