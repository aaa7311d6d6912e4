// Storage: ledger.csv, votes.csv and membership.json of one priest (see storage.hpp).
//
// Every record is one checksummed CSV row (proto/record). Appends are one write() per batch
// on an O_APPEND descriptor; durability is fdatasync, called by the host (group commit).
// After any failed write or fdatasync the file refuses further writes (no fsync retry: the
// kernel may have dropped the dirty pages, so a retry that succeeds proves nothing).
#include "server/storage.hpp"

#include "proto/version.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <spdlog/spdlog.h>

#include "proto/record.hpp"
#include "server/csv_file.hpp"

namespace parliament {

using namespace csv;

// ---------------------------------------------------------------------------------- ledger

namespace {

// What follows the last good record of the ledger (at bad_at): a torn tail (decree next_no
// on, above what votes.csv relies on), or zeros a crash left, is cut; with nothing after it,
// what was read is made durable (it may be only in the page cache).
Status settle_ledger_tail(int fd, const std::string& path, uint64_t bad_at, uint64_t data_end,
                          uint64_t physical_size, uint64_t next_no, const std::string& why,
                          uint64_t relied_on, uint64_t known_synced) {
  if (bad_at >= physical_size) {
    if (::fdatasync(fd) != 0) return Status::failure(fail_text("fdatasync", path, errno));
    return ok_status();
  }
  std::string what;
  if (bad_at < data_end) {
    uint64_t intact = 0;
    auto count = [&](const std::vector<std::string>&, uint64_t) {
      ++intact;
      return true;
    };
    if (auto s = scan_after_bad(fd, path, bad_at, data_end, kLedgerFields, count); !s) return s;
    if (bad_at < known_synced) {
      // Below what was fdatasynced at the last clean stop or start: no crash tore it.
      spdlog::error(
          "{}: the disk corrupted data it had made durable: decree {} at byte offset {} is "
          "damaged ({}), below byte {}, which was fdatasynced when the priest last stopped "
          "cleanly or started, and {} follow it. The ledger is cut there and the priest learns "
          "decree {} on again from the others (safe: they are durable in a majority); check "
          "this disk",
          path, next_no, bad_at, why, known_synced, plural(intact, "intact record"), next_no);
      return cut_torn_tail(fd, path, bad_at, physical_size,
                           fmt::format("{}: cutting {} bytes from byte offset {}", path,
                                       physical_size - bad_at, bad_at));
    }
    what = fmt::format(
        "{}: cutting {} bytes from byte offset {}, decree {} on ({} after the bad one): a torn "
        "tail ({}), written after the last fdatasync and torn by a crash; votes.csv relies "
        "only on decrees up to {}, and the priest learns the rest again",
        path, physical_size - bad_at, bad_at, next_no, plural(intact, "intact record"), why,
        relied_on);
  } else {
    what = fmt::format("{}: cutting {} bytes of zeros after the last record, left by a crash "
                       "mid-write",
                       path, physical_size - bad_at);
  }
  return cut_torn_tail(fd, path, bad_at, physical_size, what);
}

}  // namespace

// The ledger cannot say what of it was synced (its bytes must be the same on every priest),
// so votes.csv says it: `relied_on` decrees were fdatasynced before votes.csv dropped their
// votes. A bad record above them is a torn tail whatever follows it: those decrees are
// still in votes.csv or learned again from the other priests.
Result<std::unique_ptr<LedgerFile>> LedgerFile::open(const std::string& path, uint64_t relied_on,
                                                     const std::function<void(const Entry&)>& each,
                                                     uint64_t known_synced) {
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
  if (auto s = settle_ledger_tail(f->fd_, path, bad_at, data_end, opened->physical_size, next_no,
                                  first->why, relied_on, known_synced);
      !s)
    return R::failure(s.error());
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
    return Result<std::string>::failure(
        path + ": not a parliament id (16 hex digits); this data directory is damaged");
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

// --------------------------------------------------------------------------- ledger-synced

namespace {

std::string ledger_synced_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "ledger-synced").string();
}

// The inode of `dir`'s ledger.csv (0 if it cannot be read): ledger-synced speaks only of the
// file it was written for, not of one put in its place since.
uint64_t ledger_inode(const std::string& dir) {
  struct stat st {};
  if (::stat((std::filesystem::path(dir) / "ledger.csv").c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace

uint64_t read_ledger_synced(const std::string& dir) {
  std::ifstream in(ledger_synced_path(dir));
  uint64_t bytes = 0, inode = 0;
  if (!(in >> bytes >> inode) || inode == 0 || inode != ledger_inode(dir)) return 0;
  return bytes;
}

Status save_ledger_synced(const std::string& dir, uint64_t bytes) {
  return replace_file(dir, "ledger-synced",
                      std::to_string(bytes) + " " + std::to_string(ledger_inode(dir)) + "\n");
}

// ------------------------------------------------------------------------------------ lock

namespace {

Result<int> lock_at(const std::string& dir, int flags) {
  const std::string path = (std::filesystem::path(dir) / "lock").string();
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) return Result<int>::failure(fail_text("open", path, errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK)
      return Result<int>::failure(dir + " is in use: another process holds " + path +
                                  " (a paxos-priest running on it)");
    return Result<int>::failure(fail_text("flock", path, e));
  }
  return fd;
}

}  // namespace

Result<int> lock_data_dir(const std::string& dir) {
  if (auto s = ensure_dir(dir); !s) return Result<int>::failure(s.error());
  return lock_at(dir, O_RDWR | O_CREAT);
}

Result<std::optional<int>> try_lock_data_dir(const std::string& dir) {
  using R = Result<std::optional<int>>;
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(dir) / "lock", ec))
    return std::optional<int>();
  auto fd = lock_at(dir, O_RDONLY);
  if (!fd) return R::failure(fd.error());
  return std::optional<int>(*fd);
}

// ---------------------------------------------------------------------------------- format

Status check_data_format(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "format").string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec)
    return replace_file(dir, "format", "parliament-data " + std::to_string(kDataFormat) + "\n");
  std::ifstream in(path);
  if (!in) return Status::failure(fail_text("open", path, errno));
  std::string word;
  uint64_t n = 0;
  if (!(in >> word >> n) || word != "parliament-data")
    return Status::failure(path + " does not say \"parliament-data N\": is this a priest's "
                                  "data directory?");
  if (n < kOldestDataFormat || n > kDataFormat)
    return Status::failure(dir + " holds data format " + std::to_string(n) +
                           ", and this paxos-priest reads formats " +
                           std::to_string(kOldestDataFormat) + " to " +
                           std::to_string(kDataFormat) +
                           ": run a program that reads it (or restore a snapshot into a new "
                           "directory)");
  return ok_status();
}

}  // namespace parliament
