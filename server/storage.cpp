// Storage: ledger.csv, votes.csv and membership.json of one priest (see storage.hpp).
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

namespace parliament {

namespace {

// A ledger row records a passed decree in the ballot that first proposed it, so its ballot
// is also the decree's origin (the priest sets entry.ballot = decree.origin before passing).
// A vote's ballot is the ballot voted in, which may be later than the origin: votes.csv has
// an origin column of its own.
const std::vector<std::string> kLedgerColumns = {"decree_no", "ballot",  "kind",  "client",
                                                 "request",   "decree", "crc32"};
const std::vector<std::string> kVoteColumns = {"record", "decree_no", "ballot", "origin",
                                               "kind",   "client",    "request", "decree",
                                               "synced", "crc32"};
// votes.csv as written before records carried their synced offset: no longer read.
const std::vector<std::string> kOldVoteColumns = {"record", "decree_no", "ballot",  "origin", "kind",
                                                  "client", "request",   "decree", "crc32"};
constexpr size_t kLedgerFields = 6;  // decree_no .. decree
constexpr size_t kVoteFields = 9;    // record .. synced
constexpr size_t kSyncedField = 8;   // in a votes.csv record

std::string errno_text(int err) { return std::strerror(err); }

std::string fail_text(const char* what, const std::string& path, int err) {
  return std::string("cannot ") + what + " " + path + ": " + errno_text(err);
}

std::string dir_of(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// fsync of the directory makes a create or rename in it durable.
Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::failure(fail_text("open directory", dir, errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::failure(fail_text("fsync directory", dir, err));
  return ok_status();
}

Status write_fd(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::failure(fail_text("write to", path, errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return ok_status();
}

Status pread_all(int fd, char* buf, size_t len, uint64_t offset, const std::string& path) {
  while (len > 0) {
    ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::failure(fail_text("read", path, errno));
    }
    if (n == 0)
      return Status::failure("cannot read " + path + ": file ended early at byte " +
                             std::to_string(offset) + " (was it truncated by someone else?)");
    buf += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return ok_status();
}

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// The entry fields: decree_no, ballot, [origin,] kind, client, request, decree.
void append_entry_fields(std::vector<std::string>& f, const Entry& e, bool with_origin) {
  f.push_back(std::to_string(e.decree_no));
  f.push_back(to_string(e.ballot));
  if (with_origin) f.push_back(to_string(e.decree.origin));
  if (e.decree.olive_day) {
    f.insert(f.end(), {"olive-day", "", "", ""});
  } else if (e.decree.membership) {
    f.insert(f.end(), {"membership", "", "", e.decree.text});
  } else {
    f.insert(f.end(), {"decree", std::to_string(e.decree.client),
                       std::to_string(e.decree.request), e.decree.text});
  }
}

// Reads the entry fields starting at f[at]; the error says which field is wrong. Without an
// origin column the origin is the ballot (ledger rows).
Result<Entry> entry_from_fields(const std::vector<std::string>& f, size_t at, bool with_origin) {
  using R = Result<Entry>;
  Entry e;
  if (!parse_u64(f[at], e.decree_no) || e.decree_no == 0)
    return R::failure("decree_no \"" + f[at] + "\" is not a positive integer");
  auto b = parse_ballot(f[at + 1]);
  if (!b) return R::failure("ballot \"" + f[at + 1] + "\" is not ROUND.PRIEST");
  e.ballot = *b;
  Ballot origin = *b;
  if (with_origin) {
    auto o = parse_ballot(f[at + 2]);
    if (!o) return R::failure("origin \"" + f[at + 2] + "\" is not ROUND.PRIEST");
    origin = *o;
  }
  size_t k = at + (with_origin ? 3 : 2);  // kind
  const std::string& kind = f[k];
  if (kind == "olive-day") {
    if (!f[k + 1].empty() || !f[k + 2].empty() || !f[k + 3].empty())
      return R::failure("olive-day record with a client, request or text");
    e.decree = Decree::olive(origin);
  } else if (kind == "membership") {
    if (!f[k + 1].empty() || !f[k + 2].empty())
      return R::failure("membership record with a client or request");
    e.decree.membership = true;
    e.decree.text = f[k + 3];
    e.decree.origin = origin;
  } else if (kind == "decree") {
    if (!parse_u64(f[k + 1], e.decree.client) || !parse_u64(f[k + 2], e.decree.request))
      return R::failure("client/request are not integers");
    e.decree.text = f[k + 3];
    e.decree.origin = origin;
  } else {
    return R::failure("unknown kind \"" + kind + "\"");
  }
  return e;
}

// An open CSV file whose header has been checked (or written if new).
struct Opened {
  int fd = -1;
  size_t header_len = 0;
  uint64_t file_size = 0;  // up to the last byte that is not NUL (the data)
  uint64_t physical_size = 0;  // with the zero-filled tail (preallocated, or left by a crash)
};

// The offset just past the last byte of `fd` that is not NUL, reading back from `size`.
Result<uint64_t> data_end(int fd, uint64_t size, const std::string& path) {
  std::string block;
  while (size > 0) {
    uint64_t from = size > (64 << 10) ? size - (64 << 10) : 0;
    block.resize(static_cast<size_t>(size - from));
    if (auto s = pread_all(fd, block.data(), block.size(), from, path); !s)
      return Result<uint64_t>::failure(s.error());
    auto last = block.find_last_not_of('\0');
    if (last != std::string::npos) return from + last + 1;
    size = from;
  }
  return uint64_t{0};
}

// Opens `path` for reading and writing (O_APPEND if `append`), creating it with `columns` as
// header if missing or if it holds only a torn header (a crash while creating it). Reads
// only the header, and finds where the data ends before any zero-filled tail.
Result<Opened> open_csv(const std::string& path, const std::vector<std::string>& columns,
                        bool append,
                        const std::function<std::string(const std::vector<std::string>&)>& wrong_header) {
  using R = Result<Opened>;
  std::string header;
  append_header(header, columns);
  Opened o;
  o.fd = ::open(path.c_str(), O_RDWR | O_CREAT | (append ? O_APPEND : 0) | O_CLOEXEC, 0644);
  if (o.fd < 0) return R::failure(fail_text("open", path, errno));
  auto fail = [&](std::string why) {
    ::close(o.fd);
    return R::failure(std::move(why));
  };
  struct stat st;
  if (::fstat(o.fd, &st) != 0) return fail(fail_text("stat", path, errno));
  o.physical_size = static_cast<uint64_t>(st.st_size);
  auto end = data_end(o.fd, o.physical_size, path);
  if (!end) return fail(end.error());
  o.file_size = *end;
  std::string head(std::min<uint64_t>(o.file_size, header.size() + 1), '\0');
  if (auto s = pread_all(o.fd, head.data(), head.size(), 0, path); !s) return fail(s.error());

  if (head.size() < header.size() && header.compare(0, head.size(), head) == 0) {
    // New file, or the header itself was torn: (re)write it and make the file's entry durable.
    if (!head.empty()) spdlog::warn("{}: rewriting a torn header of {} bytes", path, head.size());
    if (::ftruncate(o.fd, 0) != 0) return fail(fail_text("truncate", path, errno));
    if (auto s = write_fd(o.fd, header, path); !s) return fail(s.error());
    if (::fdatasync(o.fd) != 0) return fail(fail_text("fdatasync", path, errno));
    if (auto s = sync_dir(dir_of(path)); !s) return fail(s.error());
    o.header_len = o.file_size = o.physical_size = header.size();
    return o;
  }
  std::vector<std::string> names;
  size_t hlen = parse_header(head, names);
  if (hlen == 0 || names != columns)
    return fail(path + " does not begin with the header \"" + header.substr(0, header.size() - 1) +
                "\": " + wrong_header(names));
  o.header_len = hlen;
  return o;
}

// Cuts the torn tail [valid_end, file_size) durably, so later appends never follow garbage.
// With `keep_allocation`, overwrites it with zeros instead of truncating (the file's
// preallocated tail stays). `what` is the one warning line that says what was cut and why.
Status cut_torn_tail(int fd, const std::string& path, uint64_t valid_end, uint64_t file_size,
                     const std::string& what, bool keep_allocation = false) {
  spdlog::warn("{}", what);
  if (keep_allocation) {
    std::string zeros(static_cast<size_t>(file_size - valid_end), '\0');
    if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(valid_end)) !=
        static_cast<ssize_t>(zeros.size()))
      return Status::failure(fail_text("write", path, errno));
  } else if (::ftruncate(fd, static_cast<off_t>(valid_end)) != 0) {
    return Status::failure(fail_text("truncate", path, errno));
  }
  if (::fdatasync(fd) != 0) return Status::failure(fail_text("fdatasync", path, errno));
  return ok_status();
}

// `hint` says what a person can do about it; it differs between the ledger and the votes.
std::string corrupt_text(const std::string& path, const std::string& why, const char* hint) {
  return path + " is corrupt: " + why + "; this is not a torn tail, so it is refused. " + hint;
}

// Once votes.csv has been compacted, the ledger is the priest's only record of its votes for
// the decrees it covers: a priest restarted without them could vote against what it voted.
const char* kLedgerHint =
    "Restore it from a backup; if there is none, do not move it aside and restart the priest: "
    "remove its data directory and have the operator replace it as a new member.";
const char* kVotesHint =
    "Restore it from a backup; do not delete it: a priest that forgets its promises and votes "
    "can let two different decrees pass.";

// The bytes [from, end) of a file, read a chunk at a time as a scan asks for more.
class Window {
 public:
  Window(int fd, const std::string& path, uint64_t from, uint64_t end)
      : fd_(fd), path_(path), base_(from), next_(from), end_(end) {}
  std::string_view data() const { return buf_; }
  uint64_t base() const { return base_; }  // the file offset of data()[0]
  bool at_end() const { return next_ == end_; }
  // Forgets the bytes before file offset `keep_from`, then reads the next chunk.
  Status more(uint64_t keep_from) {
    constexpr uint64_t kChunk = 1 << 20;
    buf_.erase(0, static_cast<size_t>(std::min<uint64_t>(keep_from - base_, buf_.size())));
    base_ = std::max(base_, keep_from);
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, end_ - next_));
    size_t had = buf_.size();
    buf_.resize(had + want);
    if (auto s = pread_all(fd_, buf_.data() + had, want, next_, path_); !s) return s;
    next_ += want;
    return ok_status();
  }

 private:
  int fd_;
  const std::string& path_;
  std::string buf_;
  uint64_t base_, next_, end_;
};

using EachRecord = std::function<Status(const std::vector<std::string>& fields, uint64_t offset)>;

// The first record in [from, end) that is not good: its offset (end if every record is
// good) and why.
struct FirstBad {
  uint64_t at = 0;
  std::string why;
};

// Reads the records in [from, end) in chunks, so memory stays small however long the file,
// and calls `each(fields, offset)` for every good record until the first that is not good.
// A record cut by a chunk boundary is completed from the next chunk. `verify(offset)` says
// whether to check the checksum of the record there (a long ledger skips most of them).
Result<FirstBad> scan_good(int fd, const std::string& path, uint64_t from, uint64_t end,
                           size_t fields, const std::function<bool(uint64_t)>& verify,
                           const EachRecord& each) {
  Window w(fd, path, from, end);
  uint64_t pos = from;
  while (pos < end) {
    RecordAt r = parse_record_at(w.data(), static_cast<size_t>(pos - w.base()), fields, verify(pos));
    if (r.state == RecordAt::State::Good) {
      if (auto s = each(r.fields, pos); !s) return Result<FirstBad>::failure(s.error());
      pos = w.base() + r.end;
    } else if (r.state == RecordAt::State::Incomplete && !w.at_end()) {
      if (auto s = w.more(pos); !s) return Result<FirstBad>::failure(s.error());
    } else {
      return FirstBad{pos, r.why};
    }
  }
  return FirstBad{end, ""};
}

// After a bad record at `bad_at`: tries every row start in (bad_at, end), skipping the
// inside of good records, and calls `found(fields, offset)` for each good record (checksum
// verified) until it returns false.
Status scan_after_bad(int fd, const std::string& path, uint64_t bad_at, uint64_t end,
                      size_t fields,
                      const std::function<bool(const std::vector<std::string>&, uint64_t)>& found) {
  Window w(fd, path, bad_at, end);
  uint64_t cursor = bad_at;  // the next "\n" to look for is at or after this offset
  while (true) {
    std::string_view d = w.data();
    size_t nl = d.find('\n', static_cast<size_t>(cursor - w.base()));
    if (nl == std::string_view::npos) {
      if (w.at_end()) return ok_status();
      cursor = w.base() + d.size();
      if (auto s = w.more(cursor); !s) return s;
      continue;
    }
    uint64_t start = w.base() + nl + 1;
    if (start >= end) return ok_status();
    RecordAt r = parse_record_at(d, nl + 1, fields, true);
    if (r.state == RecordAt::State::Good) {
      if (!found(r.fields, start)) return ok_status();
      cursor = w.base() + r.end - 1;  // its "\n": the next row starts after it
    } else if (r.state == RecordAt::State::Incomplete && !w.at_end()) {
      if (auto s = w.more(cursor); !s) return s;
    } else {
      cursor = start;
    }
  }
}

std::string refused_text(const std::string& path, const std::string& error) {
  return "refusing to write " + path + " after an earlier error (" + error +
         "); restart the priest once the cause is fixed";
}

std::string plural(uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

// ---------------------------------------------------------------------------------- ledger

// The ledger cannot say what of it was synced (its bytes must be the same on every priest),
// so votes.csv says it: `relied_on` decrees were fdatasynced before votes.csv dropped their
// votes. A bad record above them is a torn tail whatever follows it: those decrees are
// still in votes.csv or learned again from the other priests.
Result<std::unique_ptr<LedgerFile>> LedgerFile::open(
    const std::string& path, uint64_t relied_on, const std::function<void(const Entry&)>& each) {
  using R = Result<std::unique_ptr<LedgerFile>>;
  auto opened = open_csv(path, kLedgerColumns, true, [](const std::vector<std::string>&) {
    return std::string("is it the right file? Move it aside if it is not.");
  });
  if (!opened) return R::failure(opened.error());
  std::unique_ptr<LedgerFile> f(new LedgerFile());
  f->path_ = path;
  f->fd_ = opened->fd;  // closed by ~LedgerFile from here on
  auto record = [&](const std::vector<std::string>& fields, uint64_t offset) {
    auto corrupt = [&](const std::string& why) {
      return Status::failure(corrupt_text(
          path, "record at byte offset " + std::to_string(offset) + ": " + why, kLedgerHint));
    };
    auto e = entry_from_fields(fields, 0, false);
    if (!e) return corrupt(e.error());
    if (e->decree_no != f->offsets_.size() + 1)
      return corrupt("decree " + std::to_string(e->decree_no) + " where decree " +
                     std::to_string(f->offsets_.size() + 1) + " was expected");
    f->offsets_.push_back(offset);
    each(*e);
    return ok_status();
  };
  // Checksums are verified above the relied-on decrees (where a crash can tear a write) and
  // in the last kVerifiedTail bytes; below that, a priest with a long ledger would spend
  // most of its restart on them (LedgerFile::read verifies every record it serves, so a
  // rotten one never spreads).
  constexpr uint64_t kVerifiedTail = 8 << 20;
  const uint64_t data_end = opened->file_size;
  auto verify = [&](uint64_t offset) {
    return offset + kVerifiedTail >= data_end || f->offsets_.size() >= relied_on;
  };
  auto first = scan_good(f->fd_, path, opened->header_len, data_end, kLedgerFields, verify, record);
  if (!first) return R::failure(first.error());
  const uint64_t bad_at = first->at;
  const uint64_t next_no = f->offsets_.size() + 1;
  if (bad_at < data_end && next_no <= relied_on)
    return R::failure(corrupt_text(
        path,
        "bad record at byte offset " + std::to_string(bad_at) + " (" + first->why +
            ") where decree " + std::to_string(next_no) + " was expected; votes.csv relies on " +
            "decrees 1.." + std::to_string(relied_on) +
            " being intact (they were fdatasynced before it dropped their votes)",
        kLedgerHint));
  if (f->offsets_.size() < relied_on)
    return R::failure(corrupt_text(
        path,
        "it ends at byte offset " + std::to_string(data_end) + " after decree " +
            std::to_string(f->offsets_.size()) + ", but votes.csv relies on decrees 1.." +
            std::to_string(relied_on) +
            " (they were fdatasynced before it dropped their votes): durable decrees are missing",
        kLedgerHint));
  f->size_ = bad_at;
  if (bad_at < opened->physical_size) {
    std::string what;
    if (bad_at < data_end) {
      uint64_t intact = 0;
      auto count = [&](const std::vector<std::string>&, uint64_t) {
        ++intact;
        return true;
      };
      if (auto s = scan_after_bad(f->fd_, path, bad_at, data_end, kLedgerFields, count); !s)
        return R::failure(s.error());
      what = fmt::format(
          "{}: cutting {} bytes from byte offset {}, decree {} on ({} after the bad one): a torn "
          "tail ({}), written after the last fdatasync and torn by a crash; votes.csv relies "
          "only on decrees up to {}, and the priest learns the rest again",
          path, opened->physical_size - bad_at, bad_at, next_no, plural(intact, "intact record"),
          first->why, relied_on);
    } else {
      what = fmt::format("{}: cutting {} bytes of zeros after the last record, left by a crash "
                         "mid-write",
                         path, opened->physical_size - bad_at);
    }
    if (auto s = cut_torn_tail(f->fd_, path, bad_at, opened->physical_size, what); !s)
      return R::failure(s.error());
  } else if (::fdatasync(f->fd_) != 0) {  // what was read may be only in the page cache
    return R::failure(fail_text("fdatasync", path, errno));
  }
  f->written_.store(f->length(), std::memory_order_release);
  f->synced_.store(f->length(), std::memory_order_release);
  return f;
}

LedgerFile::~LedgerFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string LedgerFile::failed() const {
  std::lock_guard lock(error_mu_);
  return error_;
}

Status LedgerFile::fail(std::string why) {
  std::lock_guard lock(error_mu_);
  if (error_.empty()) error_ = why;
  return Status::failure(std::move(why));
}

Status LedgerFile::append(const std::vector<Entry>& entries) {
  if (auto e = failed(); !e.empty()) return Status::failure(refused_text(path_, e));
  std::string buf;
  std::vector<uint64_t> offsets;
  std::vector<std::string> fields;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].decree_no != length() + 1 + i)
      return Status::failure("ledger append out of order: decree " +
                             std::to_string(entries[i].decree_no) + " given where decree " +
                             std::to_string(length() + 1 + i) + " is next (a bug in the caller)");
    offsets.push_back(size_ + buf.size());
    if (entries[i].ballot != entries[i].decree.origin)
      return Status::failure("ledger append: decree " + std::to_string(entries[i].decree_no) +
                             " has ballot " + to_string(entries[i].ballot) + " but origin " +
                             to_string(entries[i].decree.origin) +
                             "; the ledger records the origin (a bug in the caller)");
    fields.clear();
    append_entry_fields(fields, entries[i], false);
    append_record(buf, fields);
  }
  if (auto s = write_fd(fd_, buf, path_); !s) return fail(s.error());
  size_ += buf.size();
  offsets_.insert(offsets_.end(), offsets.begin(), offsets.end());
  written_.store(length(), std::memory_order_release);
  return ok_status();
}

// Syncs are serialised so that a failure one of them sees (reported by Linux to one
// fdatasync only) is recorded before any other sync can return: a later sync that finds
// nothing to report must not pass for a success.
Status LedgerFile::sync() {
  std::lock_guard lock(sync_mu_);
  if (auto e = failed(); !e.empty()) return Status::failure(refused_text(path_, e));
  uint64_t written = written_.load(std::memory_order_acquire);
  if (::fdatasync(fd_) != 0) return fail(fail_text("fdatasync", path_, errno));
  if (written > synced_.load(std::memory_order_relaxed))
    synced_.store(written, std::memory_order_release);
  return ok_status();
}

Result<std::vector<Entry>> LedgerFile::read(uint64_t from_no, size_t max_count,
                                            size_t max_bytes) const {
  using R = Result<std::vector<Entry>>;
  if (from_no == 0) return R::failure("ledger read from decree 0: decree numbers start at 1");
  std::vector<Entry> out;
  if (from_no > length()) return out;
  uint64_t last = std::min<uint64_t>(length(), from_no - 1 + max_count);  // inclusive
  auto end_of = [&](uint64_t n) { return n < length() ? offsets_[n] : size_; };  // of decree n
  size_t text_bytes = 0;
  // Read in chunks of about max_bytes of rows (at least one row), so memory stays bounded.
  const uint64_t chunk = std::max<uint64_t>(max_bytes, 64 * 1024);
  uint64_t n = from_no;
  while (n <= last) {
    uint64_t begin = offsets_[n - 1];
    uint64_t stop = n;  // last decree in this chunk
    while (stop < last && end_of(stop + 1) - begin <= chunk) ++stop;
    std::string buf(end_of(stop) - begin, '\0');
    if (auto s = pread_all(fd_, buf.data(), buf.size(), begin, path_); !s)
      return R::failure(s.error());
    ParsedRecords parsed = parse_records(buf, kLedgerFields, begin);
    if (!parsed.torn.empty() || !parsed.corrupt.empty() ||
        parsed.records.size() != stop - n + 1)
      return R::failure(path_ + " changed under the priest near byte " + std::to_string(begin) +
                        ": " + parsed.torn + parsed.corrupt);
    for (const auto& rec : parsed.records) {
      auto e = entry_from_fields(rec, 0, false);
      if (!e || e->decree_no != n)
        return R::failure(path_ + ": unexpected record where decree " + std::to_string(n) +
                          " was expected");
      if (!out.empty() && text_bytes + e->decree.text.size() > max_bytes) return out;
      text_bytes += e->decree.text.size();
      out.push_back(std::move(*e));
      ++n;
    }
  }
  return out;
}

// -------------------------------------------------------------------------------- vote log

void VoteLog::Loaded::forget_passed(uint64_t ledger_length) {
  std::erase_if(votes, [&](const Entry& e) { return e.decree_no <= ledger_length; });
}

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
  uint64_t max_synced = 0, max_synced_at = 0;  // the largest claim of a good record, and where
  auto record = [&](const std::vector<std::string>& f, uint64_t offset) {
    auto corrupt = [&](const std::string& why) {
      return Status::failure(corrupt_text(
          path, "record at byte offset " + std::to_string(offset) + ": " + why, kVotesHint));
    };
    uint64_t synced = 0;
    if (!parse_u64(f[kSyncedField], synced))
      return corrupt("synced \"" + f[kSyncedField] + "\" is not an integer");
    if (synced > max_synced) {
      max_synced = synced;
      max_synced_at = offset;
    }
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
  };
  const uint64_t data_end = opened->file_size;
  auto first = scan_good(v->fd_, path, opened->header_len, data_end, kVoteFields,
                         [](uint64_t) { return true; }, record);
  if (!first) return R::failure(first.error());
  const uint64_t bad_at = first->at;
  uint64_t intact = 0;  // good records after the bad one
  if (bad_at < data_end) {
    auto found = [&](const std::vector<std::string>& f, uint64_t offset) {
      ++intact;
      uint64_t synced = 0;
      if (parse_u64(f[kSyncedField], synced) && synced > max_synced) {
        max_synced = synced;
        max_synced_at = offset;
      }
      return max_synced <= bad_at;  // stop at the first proof of corruption
    };
    if (auto s = scan_after_bad(v->fd_, path, bad_at, data_end, kVoteFields, found); !s)
      return R::failure(s.error());
  }
  if (max_synced > bad_at) {
    std::string damage = bad_at < data_end
                             ? "bad record at byte offset " + std::to_string(bad_at) + " (" +
                                   first->why + ")"
                             : "the data ends at byte offset " + std::to_string(bad_at);
    return R::failure(corrupt_text(
        path,
        damage + ", but the record at byte offset " + std::to_string(max_synced_at) +
            " was written when its first " + std::to_string(max_synced) +
            " bytes had been fdatasynced",
        kVotesHint));
  }
  if (bad_at < data_end) {
    std::string what = fmt::format(
        "{}: cutting {} bytes from byte offset {} ({} after the bad one): a torn tail ({}), "
        "written after the last fdatasync and torn by a crash; no later record says any of it "
        "had been made durable",
        path, data_end - bad_at, bad_at, plural(intact, "intact record"), first->why);
    if (auto s = cut_torn_tail(v->fd_, path, bad_at, data_end, what, true); !s)
      return R::failure(s.error());
  } else if (::fdatasync(v->fd_) != 0) {  // what was read may be only in the page cache
    return R::failure(fail_text("fdatasync", path, errno));
  }
  v->size_ = v->synced_ = bad_at;
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
  std::string_view rest = bytes;
  uint64_t at = size_;
  while (!rest.empty()) {
    ssize_t w = ::pwrite(fd_, rest.data(), rest.size(), static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return fail(fail_text("write", path_, w < 0 ? errno : ENOSPC));
    rest.remove_prefix(static_cast<size_t>(w));
    at += static_cast<uint64_t>(w);
  }
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
  auto c = begin_compaction(next_bal, votes, ledger.length(), 0);
  if (auto s = c->prepare(ledger); !s) {
    compacting_ = false;
    appended_.clear();
    // The ledger not synced is the caller's bug and harms nothing: the log stays usable.
    if (ledger.synced_length() < c->ledger_length_) return s;
    return poison(s.error());
  }
  return finish_compaction(*c);
}

std::shared_ptr<VoteLog::Compaction> VoteLog::begin_compaction(const Ballot& next_bal,
                                                               std::vector<Entry> votes,
                                                               uint64_t ledger_length,
                                                               uint64_t reserve) {
  auto c = std::make_shared<Compaction>();
  c->path_ = path_;
  c->next_bal_ = next_bal;
  c->votes_ = std::move(votes);
  c->ledger_length_ = ledger_length;
  c->reserve_ = reserve;
  compacting_ = true;
  appended_.clear();
  return c;
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
  while (allocated_ < reserve_) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), reserve_ - allocated_));
    ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(allocated_));
    if (w <= 0) return done(Status::failure(fail_text("preallocate", tmp, w < 0 ? errno : ENOSPC)));
    allocated_ += static_cast<uint64_t>(w);
  }
  if (::fdatasync(fd_) != 0) return done(Status::failure(fail_text("fdatasync", tmp, errno)));
  return done(ok_status());
}

// The records appended since begin_compaction go after the snapshot, claiming the new file's
// whole length synced (it is, before the rename); then the rename, made durable by an fsync
// of the directory before any record relies on the new file.
Status VoteLog::finish_compaction(Compaction& c, int* old_fd) {
  compacting_ = false;
  std::vector<Appended> appended = std::move(appended_);
  appended_.clear();
  if (!error_.empty()) return Status::failure(refused_text(path_, error_));
  if (!c.prepared_) return poison("compacting " + path_ + ": finished before it was prepared (a bug)");
  if (!*c.prepared_) return poison(c.prepared_->error());
  const std::string tmp = path_ + ".tmp";
  std::string tail = render_claiming_end(c.data_, [&](std::string& out, const std::string& synced) {
    for (const auto& a : appended) {
      if (a.promise) append_promise_row(out, *a.promise, synced);
      append_vote_rows(out, a.votes, synced);
    }
  });
  if (!tail.empty()) {
    std::string_view rest = tail;
    for (uint64_t at = c.data_; !rest.empty();) {
      ssize_t w = ::pwrite(c.fd_, rest.data(), rest.size(), static_cast<off_t>(at));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return poison(fail_text("write", tmp, w < 0 ? errno : ENOSPC));
      rest.remove_prefix(static_cast<size_t>(w));
      at += static_cast<uint64_t>(w);
    }
    if (::fdatasync(c.fd_) != 0) return poison(fail_text("fdatasync", tmp, errno));
  }
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
  size_ = synced_ = c.data_ + tail.size();
  allocated_ = std::max(c.allocated_, size_);
  return ok_status();
}

// ------------------------------------------------------------------------------ membership

namespace {

std::string membership_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "membership.json").string();
}

}  // namespace

namespace {

Result<std::string> read_small_file(const std::string& path, bool& absent) {
  using R = Result<std::string>;
  absent = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      absent = true;
      return std::string();
    }
    return R::failure(fail_text("open", path, errno));
  }
  std::string text;
  char chunk[4096];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return R::failure(fail_text("read", path, err));
    }
    if (n == 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// Writes `text` to dir/name atomically: a temporary file, fsync, rename, directory fsync.
Status replace_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::path(dir) / name).string();
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::failure(fail_text("create", tmp, errno));
  Status s = write_fd(fd, text, tmp);
  if (s && ::fsync(fd) != 0) s = Status::failure(fail_text("fsync", tmp, errno));
  ::close(fd);
  if (s && ::rename(tmp.c_str(), path.c_str()) != 0)
    s = Status::failure("cannot rename " + tmp + " to " + path + ": " + errno_text(errno));
  if (!s) {
    ::unlink(tmp.c_str());
    return s;
  }
  return sync_dir(dir);
}

}  // namespace

Result<std::optional<Membership>> load_membership(const std::string& dir) {
  using R = Result<std::optional<Membership>>;
  const std::string path = membership_path(dir);
  bool absent = false;
  auto text = read_small_file(path, absent);
  if (!text) return R::failure(text.error());
  if (absent) return std::optional<Membership>{};
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("priests"))
    return R::failure(path + ": not a JSON object with \"priests\"; restore it from another "
                             "priest's membership.json");
  if (!j.contains("decree_no"))
    return R::failure(path + ": written by an older version (no decree_no, no incarnations); "
                             "this version cannot use that data directory");
  auto m = parse_membership(j, path);
  if (!m) return R::failure(m.error());
  return std::optional<Membership>(std::move(*m));
}

Status save_membership(const std::string& dir, const Membership& m) {
  return replace_file(dir, "membership.json", membership_to_json(m).dump(2) + "\n");
}

Result<uint64_t> load_or_create_incarnation(const std::string& dir) {
  using R = Result<uint64_t>;
  const std::string path = (std::filesystem::path(dir) / "incarnation").string();
  bool absent = false;
  auto text = read_small_file(path, absent);
  if (!text) return R::failure(text.error());
  if (!absent) {
    std::string t = *text;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    auto v = parse_incarnation(t);
    if (!v) return R::failure(path + ": not 16 hex digits; this data directory is damaged");
    return *v;
  }
  for (const char* f : {"ledger.csv", "votes.csv", "membership.json"}) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(dir) / f, ec))
      return R::failure(dir + " holds " + f + " but no incarnation file: it was written by an "
                        "older version, or the file was lost; this version cannot use it");
  }
  std::random_device rd;
  uint64_t v = 0;
  while (v == 0) v = (uint64_t{rd()} << 32) ^ rd();
  if (auto s = replace_file(dir, "incarnation", incarnation_text(v) + "\n"); !s)
    return R::failure(s.error());
  return v;
}

Status mark_removed(const std::string& dir, const std::string& why) {
  return replace_file(dir, "removed", why + "\n");
}

Result<std::string> read_removed(const std::string& dir) {
  bool absent = false;
  auto text = read_small_file((std::filesystem::path(dir) / "removed").string(), absent);
  if (absent) return std::string();
  if (!text) return Result<std::string>::failure(text.error());
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t.empty() ? "removed" : t;
}

Status save_parliament_id(const std::string& dir, const std::string& id) {
  return replace_file(dir, "parliament", id + "\n");
}

Result<std::string> read_parliament_id(const std::string& dir) {
  bool absent = false;
  const std::string path = (std::filesystem::path(dir) / "parliament").string();
  auto text = read_small_file(path, absent);
  if (absent) return std::string();
  if (!text) return Result<std::string>::failure(text.error());
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  if (t.size() != 16 || t.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Result<std::string>::failure(path + ": not a parliament id (16 hex digits); this data directory is damaged");
  return t;
}

Status ensure_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::failure("cannot create directory " + dir + ": " + ec.message());
  if (!std::filesystem::is_directory(dir, ec))
    return Status::failure(dir + " exists but is not a directory");
  return ok_status();
}

}  // namespace parliament
