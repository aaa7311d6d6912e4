// The CSV files' shared primitives (see csv_file.hpp).
#include "server/csv_file.hpp"

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
#include "server/storage.hpp"

namespace parliament::csv {

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
const std::vector<std::string> kOldVoteColumns = {"record", "decree_no", "ballot", "origin", "kind",
                                                  "client", "request",   "decree", "crc32"};

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

Status pwrite_all(int fd, std::string_view bytes, uint64_t offset, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t w = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Status::failure(fail_text("write", path, w < 0 ? errno : ENOSPC));
    bytes.remove_prefix(static_cast<size_t>(w));
    offset += static_cast<uint64_t>(w);
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
Result<Opened> open_csv(
    const std::string& path, const std::vector<std::string>& columns, bool append,
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
                     const std::string& what, bool keep_allocation) {
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
    RecordAt r =
        parse_record_at(w.data(), static_cast<size_t>(pos - w.base()), fields, verify(pos));
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

}  // namespace parliament::csv
