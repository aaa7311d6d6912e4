// Storage: ledger, vote log and membership files in a fresh temporary directory per test.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "server/storage.hpp"
#include "tests/common/temp_dir.hpp"

using namespace parliament;
namespace fs = std::filesystem;

namespace {

// Captures what storage logs (instead of printing it) while in scope.
struct LogCapture {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  std::shared_ptr<spdlog::logger> old = spdlog::default_logger();
  LogCapture() { spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink)); }
  ~LogCapture() { spdlog::set_default_logger(old); }
  std::vector<std::string> lines() { return sink->last_formatted(); }
  // True if some line holds every one of `words`.
  bool logged(std::initializer_list<std::string> words) {
    for (const auto& line : lines()) {
      bool all = true;
      for (const auto& w : words) all = all && line.find(w) != std::string::npos;
      if (all) return true;
    }
    return false;
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The file's bytes without the zero-filled space a vote log writes ahead of its records.
std::string data_of(const std::string& path) {
  std::string d = slurp(path);
  d.erase(d.find_last_not_of('\0') + 1);
  return d;
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A ledger entry: its ballot is the decree's origin.
Entry decree(uint64_t no, std::string text, uint64_t client = 7, Ballot b = {3, 2}) {
  return Entry{no, b, Decree{false, client, no, std::move(text), b}};
}

// A vote in ballot `b` for a decree first proposed in ballot `origin`.
Entry vote(uint64_t no, std::string text, Ballot b, Ballot origin) {
  return Entry{no, b, Decree{false, 8, no, std::move(text), origin}};
}

std::vector<Entry> nasty_ledger() {
  return {decree(1, "a,b"),
          decree(2, "say \"aye\""),
          Entry{3, {4, 1}, Decree::olive({4, 1})},
          decree(4, "line one\nline two\r\nline three\rend"),
          decree(5, ""),
          decree(6, "Παξός — olive oil ≠ wine 🫒"),
          decree(7, std::string(10 * 1024, 'y') + ",\"\n")};
}

// What a file system that drops unsynced data leaves where part of a write was lost: zeros
// over [from, to), the file's size unchanged.
void zero_range(const std::string& path, size_t from, size_t to) {
  std::string d = slurp(path);
  REQUIRE(from <= to);
  REQUIRE(to <= d.size());
  std::fill(d.begin() + static_cast<long>(from), d.begin() + static_cast<long>(to), '\0');
  spit(path, d);
}

// Replaces the byte at `at`, the file's size unchanged.
void set_byte(const std::string& path, size_t at, char c) {
  std::string d = slurp(path);
  REQUIRE(at < d.size());
  REQUIRE(d[at] != c);
  d[at] = c;
  spit(path, d);
}

// The offset where the row holding byte `at` begins (rows here have no newline inside).
size_t row_start(const std::string& data, size_t at) {
  size_t nl = data.rfind('\n', at - 1);
  return nl == std::string::npos ? 0 : nl + 1;
}

// This process's descriptor open on `path`, or -1.
int fd_of(const std::string& path) {
  auto want = fs::canonical(path);
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = fs::read_symlink(e.path(), ec);
    if (!ec && target == want) return std::stoi(e.path().filename().string());
  }
  return -1;
}

std::unique_ptr<LedgerFile> open_ledger(const std::string& path, std::vector<Entry>* seen,
                                        uint64_t relied_on = 0) {
  auto r = LedgerFile::open(path, relied_on, [&](const Entry& e) {
    if (seen) seen->push_back(e);
  });
  INFO((r.ok() ? "" : r.error()));
  REQUIRE(r.ok());
  return std::move(*r);
}

// A priest's two files opened as the host opens them (storage.hpp): votes.csv first, for
// the ledger length it relies on, then ledger.csv.
struct Files {
  std::unique_ptr<VoteLog> votes;
  std::unique_ptr<LedgerFile> ledger;
  VoteLog::Loaded loaded;
  std::vector<Entry> decrees;  // as LedgerFile::open passed them
  std::string error;
};

// Decrees 1..n, "decree number N".
std::vector<Entry> numbered_decrees(uint64_t n) {
  std::vector<Entry> all;
  for (uint64_t i = 1; i <= n; ++i) all.push_back(decree(i, "decree number " + std::to_string(i)));
  return all;
}

Files open_files(const TempDir& dir) {
  Files f;
  auto v = VoteLog::open(dir.file("votes.csv"), f.loaded);
  if (!v) {
    f.error = v.error();
    return f;
  }
  f.votes = std::move(*v);
  auto l = LedgerFile::open(dir.file("ledger.csv"), f.loaded.ledger_synced,
                            [&](const Entry& e) { f.decrees.push_back(e); },
                            read_ledger_synced(dir.path.string()));
  if (!l) {
    f.error = l.error();
    return f;
  }
  f.ledger = std::move(*l);
  f.loaded.forget_passed(f.ledger->length());
  return f;
}

// Opens (or creates) the vote log at `path`; the test stops if it cannot.
std::unique_ptr<VoteLog> open_votes(const std::string& path, VoteLog::Loaded& loaded) {
  auto v = VoteLog::open(path, loaded);
  REQUIRE(v.ok());
  return std::move(*v);
}

}  // namespace

TEST_CASE("ledger: append, reopen, same decrees", "[storage]") {
  TempDir dir;
  auto path = dir.file("ledger.csv");
  auto all = nasty_ledger();
  {
    std::vector<Entry> seen;
    auto l = open_ledger(path, &seen);
    CHECK(seen.empty());
    CHECK(l->length() == 0);
    CHECK(slurp(path) == "decree_no,ballot,kind,client,request,decree,crc32\n");
    REQUIRE(l->append({all.begin(), all.begin() + 3}).ok());
    REQUIRE(l->append({all.begin() + 3, all.end()}).ok());
    REQUIRE(l->sync().ok());
    CHECK(l->length() == all.size());
  }
  std::vector<Entry> seen;
  auto l = open_ledger(path, &seen);
  CHECK(seen == all);
  CHECK(l->length() == all.size());
  auto r = l->read(1, 100, 1 << 20);
  REQUIRE(r.ok());
  CHECK(*r == all);
  // Appending continues after a reopen.
  REQUIRE(l->append({decree(8, "eight")}).ok());
  auto eight = l->read(8, 1, 100);
  REQUIRE(eight.ok());
  REQUIRE(eight->size() == 1);
  CHECK((*eight)[0] == decree(8, "eight"));
}

TEST_CASE("ledger: appends out of order or with ballot != origin are refused", "[storage]") {
  TempDir dir;
  auto l = open_ledger(dir.file("ledger.csv"), nullptr);
  CHECK_FALSE(l->append({decree(2, "two")}).ok());
  CHECK_FALSE(l->append({decree(1, "one"), decree(3, "three")}).ok());
  CHECK_FALSE(l->append({vote(1, "one", {5, 1}, {4, 1})}).ok());
  CHECK(l->length() == 0);
  CHECK(l->append({decree(1, "one"), decree(2, "two")}).ok());
  CHECK(l->length() == 2);
}

TEST_CASE("ledger: read ranges and byte limits", "[storage]") {
  TempDir dir;
  auto l = open_ledger(dir.file("ledger.csv"), nullptr);
  std::vector<Entry> all;
  for (uint64_t n = 1; n <= 10; ++n) all.push_back(decree(n, std::string(100, char('a' + n))));
  REQUIRE(l->append(all).ok());

  auto numbers = [](const Result<std::vector<Entry>>& r) {
    std::vector<uint64_t> out;
    for (const auto& e : *r) out.push_back(e.decree_no);
    return out;
  };
  auto r = l->read(1, 3, 1 << 20);
  REQUIRE(r.ok());
  CHECK(numbers(r) == std::vector<uint64_t>{1, 2, 3});
  CHECK((*r)[2] == all[2]);
  r = l->read(8, 10, 1 << 20);
  REQUIRE(r.ok());
  CHECK(numbers(r) == std::vector<uint64_t>{8, 9, 10});
  r = l->read(10, 1, 1 << 20);
  REQUIRE(r.ok());
  CHECK(numbers(r) == std::vector<uint64_t>{10});
  r = l->read(11, 5, 1 << 20);
  REQUIRE(r.ok());
  CHECK(r->empty());
  r = l->read(3, 0, 1 << 20);
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK_FALSE(l->read(0, 5, 1 << 20).ok());
  r = l->read(1, 10, 250);  // 100 + 100 fits, a third would not
  REQUIRE(r.ok());
  CHECK(numbers(r) == std::vector<uint64_t>{1, 2});
  r = l->read(4, 10, 50);  // the first decree always comes, however long
  REQUIRE(r.ok());
  CHECK(numbers(r) == std::vector<uint64_t>{4});
}

TEST_CASE("ledger: reads cross read chunks", "[storage]") {
  TempDir dir;
  auto l = open_ledger(dir.file("ledger.csv"), nullptr);
  std::vector<Entry> all;
  for (uint64_t n = 1; n <= 200; ++n) all.push_back(decree(n, std::string(2000, 'q') + "\n,"));
  REQUIRE(l->append(all).ok());
  auto r = l->read(1, 1000, 10 << 20);
  REQUIRE(r.ok());
  CHECK(*r == all);
  r = l->read(50, 1000, 100 * 2002);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 100);
  CHECK(r->front() == all[49]);
  CHECK(r->back() == all[148]);
}

TEST_CASE("ledger: a long ledger reopens across read chunks, its torn tail still cut", "[storage]") {
  TempDir dir;
  auto path = dir.file("ledger.csv");
  std::vector<Entry> all;
  {
    auto l = open_ledger(path, nullptr);
    // ~12 MiB: several 1 MiB chunks, checksums skipped before the last 8 MiB; records with
    // newlines and commas straddle the chunk boundaries.
    for (uint64_t n = 1; n <= 6000; ++n)
      all.push_back(decree(n, std::string(1000 + n % 1500, 'a' + n % 26) + "\n,\"" + std::to_string(n)));
    REQUIRE(l->append(all).ok());
  }
  std::string bytes = slurp(path);
  spit(path, bytes + "6001,3.2,decree,7,6001,torn");  // a crash mid-append
  LogCapture log;
  std::vector<Entry> seen;
  auto l = open_ledger(path, &seen);
  CHECK(seen == all);
  CHECK(log.logged({path, "cutting"}));
  CHECK(slurp(path) == bytes);
  REQUIRE(l->append({decree(6001, "after")}).ok());
}

TEST_CASE("ledger: a torn tail is cut on reopen and appends continue", "[storage]") {
  TempDir dir;
  auto path = dir.file("ledger.csv");
  std::vector<Entry> three = {decree(1, "one, \"1\""), decree(2, "two\ntwo"),
                              decree(3, "three\r\n3")};
  {
    auto l = open_ledger(path, nullptr);
    REQUIRE(l->append(three).ok());
  }
  const std::string full = slurp(path);
  const std::string header = "decree_no,ballot,kind,client,request,decree,crc32\n";
  // Where decree 3 begins: the size of a ledger with two decrees.
  size_t two_end = 0;
  {
    TempDir d2;
    auto p = d2.file("ledger.csv");
    auto l = open_ledger(p, nullptr);
    REQUIRE(l->append({three[0], three[1]}).ok());
    two_end = slurp(p).size();
  }
  REQUIRE(two_end > header.size());
  REQUIRE(two_end < full.size());

  for (const std::string& garbage :
       {std::string(), std::string(5, '\0'), std::string("zz\n\"\n,")}) {
    for (size_t cut = two_end; cut < full.size(); ++cut) {
      INFO("cut at " << cut << " of " << full.size() << ", garbage of " << garbage.size());
      spit(path, full.substr(0, cut) + garbage);
      LogCapture logs;
      std::vector<Entry> seen;
      auto l = open_ledger(path, &seen);
      size_t cut_bytes = cut + garbage.size() - two_end;
      if (cut_bytes == 0) {
        CHECK(logs.lines().empty());
      } else {
        CHECK(logs.logged({"[warning]", path, "cutting " + std::to_string(cut_bytes) + " bytes"}));
      }
      CHECK(seen == std::vector<Entry>{three[0], three[1]});
      CHECK(l->length() == 2);
      CHECK(fs::file_size(path) == two_end);
      REQUIRE(l->append({decree(3, "three again")}).ok());
      l.reset();
      seen.clear();
      l = open_ledger(path, &seen);
      REQUIRE(seen.size() == 3);
      CHECK(seen[2] == decree(3, "three again"));
    }
  }
  // A cut inside the first decree leaves an empty ledger.
  LogCapture logs;
  spit(path, full.substr(0, header.size() + 5));
  auto l = open_ledger(path, nullptr);
  CHECK(l->length() == 0);
  CHECK(fs::file_size(path) == header.size());
  // A torn header (crash while creating the file) is rewritten.
  l.reset();
  spit(path, header.substr(0, 10));
  l = open_ledger(path, nullptr);
  CHECK(l->length() == 0);
  CHECK(slurp(path) == header);
}

TEST_CASE("ledger: corruption before good records is refused, naming the file", "[storage]") {
  TempDir dir;
  auto path = dir.file("ledger.csv");
  {
    auto l = open_ledger(path, nullptr);
    REQUIRE(l->append({decree(1, "one"), decree(2, "two"), decree(3, "three")}).ok());
  }
  const std::string full = slurp(path);
  size_t pos = full.find("two");
  REQUIRE(pos != std::string::npos);

  uint64_t relied_on = 3;  // as if votes.csv had been compacted with these three synced
  std::string offset;       // where the error must say the damage is
  SECTION("a flipped byte in the middle") {
    std::string bad = full;
    bad[pos] = 'T';
    spit(path, bad);
    offset = "byte offset " + std::to_string(full.rfind('\n', pos) + 1);
  }
  SECTION("a gap in the decree numbers") {
    TempDir d2;
    auto p2 = d2.file("ledger.csv");
    {
      auto l = open_ledger(p2, nullptr);
      REQUIRE(l->append({decree(1, "one"), decree(2, "two"), decree(3, "three")}).ok());
    }
    // Drop decree 2's row: every row still has a good checksum.
    std::string s = slurp(p2);
    size_t row2 = s.rfind('\n', pos - 1) + 1;
    size_t row3 = s.find('\n', pos) + 1;
    spit(path, s.substr(0, row2) + s.substr(row3));
    offset = "byte offset " + std::to_string(row2);
    relied_on = 0;  // a good checksum on a wrong record is no crash's doing: refused anyway
  }
  SECTION("a wrong header") {
    spit(path, "decree,ballot\n" + full.substr(full.find('\n') + 1));
  }
  auto r = LedgerFile::open(path, relied_on, [](const Entry&) {});
  REQUIRE_FALSE(r.ok());
  INFO(r.error());
  CHECK(r.error().find(path) != std::string::npos);
  CHECK(r.error().find(offset) != std::string::npos);
}

TEST_CASE("ledger: errors name the file; after a failed write no more writes", "[storage]") {
  SECTION("a full disk while creating the file") {
    if (!fs::exists("/dev/full")) {
      WARN("no /dev/full: skipping");
      return;
    }
    auto r = LedgerFile::open("/dev/full", 0, [](const Entry&) {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("/dev/full") != std::string::npos);
  }
  SECTION("a file size limit mid-append") {
    TempDir dir;
    auto path = dir.file("ledger.csv");
    auto l = open_ledger(path, nullptr);
    REQUIRE(l->append({decree(1, "fits")}).ok());
    const auto size_before = fs::file_size(path);
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto old_handler = signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = size_before + 100;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    auto s = l->append({decree(2, std::string(1000, 'z'))});
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    REQUIRE_FALSE(s.ok());
    INFO(s.error());
    CHECK(s.error().find(path) != std::string::npos);
    CHECK(l->length() == 1);
    auto again = l->append({decree(2, "small")});
    CHECK_FALSE(again.ok());
    CHECK(again.error().find("refusing") != std::string::npos);
    CHECK_FALSE(l->sync().ok());
    // The partial record is a torn tail for the next open.
    LogCapture logs;
    l.reset();
    std::vector<Entry> seen;
    l = open_ledger(path, &seen);
    CHECK(seen == std::vector<Entry>{decree(1, "fits")});
  }
}

TEST_CASE("ledger: a standard CSV reader reads the same fields", "[storage]") {
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) {
    WARN("python3 not found: the ledger was NOT checked against a standard CSV reader");
    return;
  }
  TempDir dir;
  auto path = dir.file("ledger.csv");
  auto all = nasty_ledger();
  {
    auto l = open_ledger(path, nullptr);
    REQUIRE(l->append(all).ok());
  }
  std::string cmd =
      "python3 -c 'import csv, json, sys; "
      "print(json.dumps(list(csv.reader(open(sys.argv[1], newline=\"\", encoding=\"utf-8\")))))' " +
      path;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  REQUIRE(pclose(p) == 0);
  auto rows = nlohmann::json::parse(out, nullptr, false);
  REQUIRE_FALSE(rows.is_discarded());
  REQUIRE(rows.size() == all.size() + 1);
  CHECK(rows[0] == nlohmann::json::array(
                       {"decree_no", "ballot", "kind", "client", "request", "decree", "crc32"}));
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& e = all[i];
    const auto& row = rows[i + 1];
    INFO("decree " << e.decree_no);
    REQUIRE(row.size() == 7);
    CHECK(row[0] == std::to_string(e.decree_no));
    CHECK(row[1] == to_string(e.ballot));
    CHECK(row[2] == (e.decree.olive_day ? "olive-day" : "decree"));
    CHECK(row[3] == (e.decree.olive_day ? "" : std::to_string(e.decree.client)));
    CHECK(row[4] == (e.decree.olive_day ? "" : std::to_string(e.decree.request)));
    CHECK(row[5] == e.decree.text);
    CHECK(row[6].get<std::string>().size() == 8);
  }
}

TEST_CASE("vote log: promises and votes reload; compact replaces the file", "[storage]") {
  TempDir dir;
  auto path = dir.file("votes.csv");
  std::vector<Entry> votes = {vote(5, "five, \"5\"", {2, 1}, {2, 1}),
                              Entry{6, {2, 1}, Decree::olive({1, 3})},
                              vote(5, "five\nagain", {3, 2}, {1, 3})};
  {
    VoteLog::Loaded loaded;
    auto r = VoteLog::open(path, loaded);
    REQUIRE(r.ok());
    auto& v = *r;
    CHECK(loaded.next_bal.is_zero());
    CHECK(loaded.votes.empty());
    REQUIRE(v->append_promise({2, 1}).ok());
    REQUIRE(v->append_votes({votes[0], votes[1]}).ok());
    REQUIRE(v->append_promise({3, 2}).ok());
    REQUIRE(v->append_promise({2, 5}).ok());  // lower: never happens, the max still wins
    REQUIRE(v->append_votes({votes[2]}).ok());
    REQUIRE(v->sync().ok());
    CHECK(v->bytes() == data_of(path).size());
  }
  VoteLog::Loaded loaded;
  auto r = VoteLog::open(path, loaded);
  REQUIRE(r.ok());
  CHECK(loaded.next_bal == Ballot{3, 2});
  CHECK(loaded.votes == votes);

  CHECK(loaded.ledger_synced == 0);  // never compacted

  auto& v = *r;
  std::vector<Entry> kept = {votes[2]};
  auto ledger = open_ledger(dir.file("ledger.csv"), nullptr);
  REQUIRE(ledger->append({decree(1, "one"), decree(2, "two")}).ok());
  REQUIRE(ledger->sync().ok());
  REQUIRE(v->compact({4, 1}, kept, *ledger).ok());
  CHECK_FALSE(fs::exists(path + ".tmp"));
  CHECK(v->bytes() == data_of(path).size());
  REQUIRE(v->append_votes({vote(7, "after compact", {4, 1}, {2, 2})}).ok());
  REQUIRE(v->sync().ok());
  CHECK(v->bytes() == data_of(path).size());
  r = VoteLog::open(path, loaded);
  REQUIRE(r.ok());
  CHECK(loaded.next_bal == Ballot{4, 1});
  CHECK(loaded.votes == std::vector<Entry>{votes[2], vote(7, "after compact", {4, 1}, {2, 2})});
  CHECK(loaded.ledger_synced == 2);  // what the ledger held, synced, when votes were dropped
}

TEST_CASE("vote log: torn tail cut, corruption refused, stale temp file ignored", "[storage]") {
  TempDir dir;
  auto path = dir.file("votes.csv");
  {
    VoteLog::Loaded loaded;
    auto r = VoteLog::open(path, loaded);
    REQUIRE(r.ok());
    REQUIRE((*r)->append_promise({1, 1}).ok());
    REQUIRE((*r)->sync().ok());
    REQUIRE((*r)->append_votes({decree(1, "one")}).ok());
    REQUIRE((*r)->sync().ok());
    REQUIRE((*r)->append_promise({9, 3}).ok());  // not synced: a crash may tear it
  }
  const std::string full = data_of(path);
  const size_t last_row = full.rfind('\n', full.size() - 2) + 1;

  // Torn last promise: the earlier promise and vote survive.
  LogCapture logs;
  spit(path, full.substr(0, full.size() - 3));
  spit(path + ".tmp", "half a compaction");
  VoteLog::Loaded loaded;
  auto r = VoteLog::open(path, loaded);
  REQUIRE(r.ok());
  CHECK(loaded.next_bal == Ballot{1, 1});
  CHECK(loaded.votes == std::vector<Entry>{decree(1, "one")});
  CHECK(data_of(path).size() == last_row);
  CHECK(logs.logged(
      {"[warning]", path, "cutting " + std::to_string(full.size() - 3 - last_row) + " bytes"}));
  CHECK_FALSE(fs::exists(path + ".tmp"));
  // Appends go where the torn record was (now zeros), and reload with the rest.
  REQUIRE((*r)->append_votes({decree(2, "two")}).ok());
  REQUIRE((*r)->sync().ok());
  r = VoteLog::open(path, loaded);
  REQUIRE(r.ok());
  CHECK(loaded.votes == std::vector<Entry>{decree(1, "one"), decree(2, "two")});
  r = Result<std::unique_ptr<VoteLog>>::failure("closed");

  // A flipped byte in the synced vote, followed by a promise written after that sync:
  // refused, naming the file and where the vote begins.
  std::string bad = full;
  bad[bad.find("one")] = 'O';
  spit(path, bad);
  r = VoteLog::open(path, loaded);
  REQUIRE_FALSE(r.ok());
  INFO(r.error());
  CHECK(r.error().find(path) != std::string::npos);
  CHECK(r.error().find("byte offset " + std::to_string(bad.rfind('\n', bad.find("One")) + 1)) !=
        std::string::npos);
}

TEST_CASE("vote log: a group commit torn by a crash is cut, what was synced kept", "[storage]") {
  TempDir dir;
  auto path = dir.file("votes.csv");
  const Entry one = vote(1, "one", {1, 1}, {1, 1});
  size_t synced_end = 0, promise_end = 0;
  {
    VoteLog::Loaded loaded;
    auto r = VoteLog::open(path, loaded);
    REQUIRE(r.ok());
    auto& v = *r;
    REQUIRE(v->append_promise({1, 1}).ok());
    REQUIRE(v->append_votes({one}).ok());
    REQUIRE(v->sync().ok());
    synced_end = v->bytes();
    // One group commit that a crash stops before its fdatasync: a promise, then five votes
    // in one write.
    REQUIRE(v->append_promise({2, 1}).ok());
    promise_end = v->bytes();
    std::vector<Entry> five;
    for (uint64_t n = 2; n <= 6; ++n) five.push_back(vote(n, std::string(100, char('a' + n)), {2, 1}, {2, 1}));
    REQUIRE(v->append_votes(five).ok());
  }
  const std::string synced = data_of(path).substr(0, synced_end);
  const size_t end = data_of(path).size();
  std::string intact;
  SECTION("the first half of the group lost, the second half on disk") {
    zero_range(path, synced_end, synced_end + (end - synced_end) / 2);
  }
  SECTION("its first write (the promise) lost, its second (five votes) on disk") {
    zero_range(path, synced_end, promise_end);
    intact = "4 intact records";  // the zeros run into the first vote's row: one bad row
  }
  LogCapture logs;
  VoteLog::Loaded loaded;
  auto r = VoteLog::open(path, loaded);
  INFO((r.ok() ? "" : r.error()));
  REQUIRE(r.ok());
  CHECK(loaded.next_bal == Ballot{1, 1});
  CHECK(loaded.votes == std::vector<Entry>{one});
  CHECK(data_of(path) == synced);
  // One line says what was cut, from which file, where.
  CHECK(logs.lines().size() == 1);
  INFO((logs.lines().empty() ? "" : logs.lines()[0]));
  CHECK(logs.logged({"[warning]", path, "cutting " + std::to_string(end - synced_end) + " bytes",
                     "byte offset " + std::to_string(synced_end), intact}));
  // Appends continue where the torn group was.
  REQUIRE((*r)->append_promise({3, 1}).ok());
  REQUIRE((*r)->sync().ok());
  r = VoteLog::open(path, loaded);
  REQUIRE(r.ok());
  CHECK(loaded.next_bal == Ballot{3, 1});
  CHECK(loaded.votes == std::vector<Entry>{one});
}

TEST_CASE("torn tail: zeros up to a 4096-byte page boundary, then good records, are cut",
          "[storage]") {
  TempDir dir;
  const std::string votes_path = dir.file("votes.csv"), ledger_path = dir.file("ledger.csv");
  std::vector<Entry> ledger_synced = {decree(1, "one"), decree(2, "two")};
  size_t votes_synced = 0, ledger_synced_end = 0;
  {
    Files f = open_files(dir);
    REQUIRE(f.error.empty());
    REQUIRE(f.ledger->append(ledger_synced).ok());
    REQUIRE(f.ledger->sync().ok());
    REQUIRE(f.votes->compact({1, 1}, {}, *f.ledger).ok());  // relies on decrees 1..2
    REQUIRE(f.votes->append_promise({2, 1}).ok());
    REQUIRE(f.votes->sync().ok());
    votes_synced = f.votes->bytes();
    ledger_synced_end = fs::file_size(ledger_path);
    // One write each, about 8 KiB, never synced: the page holding its start is lost.
    std::vector<Entry> votes, decrees;
    for (uint64_t n = 3; n <= 22; ++n) {
      votes.push_back(vote(n, std::string(400, 'v'), {2, 1}, {2, 1}));
      decrees.push_back(decree(n, std::string(400, 'd')));
    }
    REQUIRE(f.votes->append_votes(votes).ok());
    REQUIRE(f.ledger->append(decrees).ok());
  }
  REQUIRE(votes_synced < 4096);
  REQUIRE(ledger_synced_end < 4096);
  const size_t votes_end = data_of(votes_path).size(), ledger_end = fs::file_size(ledger_path);
  REQUIRE(votes_end > 4096 + 1000);
  REQUIRE(ledger_end > 4096 + 1000);
  zero_range(votes_path, votes_synced, 4096);
  zero_range(ledger_path, ledger_synced_end, 4096);

  LogCapture logs;
  Files f = open_files(dir);
  INFO(f.error);
  REQUIRE(f.error.empty());
  CHECK(f.loaded.next_bal == Ballot{2, 1});
  CHECK(f.loaded.votes.empty());
  CHECK(f.loaded.ledger_synced == 2);
  CHECK(data_of(votes_path).size() == votes_synced);
  CHECK(f.decrees == ledger_synced);
  CHECK(f.ledger->length() == 2);
  CHECK(fs::file_size(ledger_path) == ledger_synced_end);
  CHECK(logs.lines().size() == 2);  // one per file
  CHECK(logs.logged({"[warning]", votes_path,
                     "cutting " + std::to_string(votes_end - votes_synced) + " bytes",
                     "byte offset " + std::to_string(votes_synced)}));
  CHECK(logs.logged({"[warning]", ledger_path,
                     "cutting " + std::to_string(ledger_end - ledger_synced_end) + " bytes",
                     "byte offset " + std::to_string(ledger_synced_end), "decree 3 on"}));
}

TEST_CASE("vote log: damage to records known synced is refused, naming the file and offset",
          "[storage]") {
  TempDir dir;
  auto path = dir.file("votes.csv");
  std::string expect;  // in the error
  SECTION("a flipped byte in a record in the middle") {
    {
      VoteLog::Loaded loaded;
      auto r = VoteLog::open(path, loaded);
      REQUIRE(r.ok());
      auto& v = *r;
      REQUIRE(v->append_promise({1, 1}).ok());
      REQUIRE(v->sync().ok());
      REQUIRE(v->append_votes({vote(1, "first", {1, 1}, {1, 1}), vote(2, "second", {1, 1}, {1, 1}),
                               vote(3, "third", {1, 1}, {1, 1})})
                  .ok());
      REQUIRE(v->sync().ok());
      REQUIRE(v->append_promise({2, 1}).ok());
      REQUIRE(v->sync().ok());
      REQUIRE(v->append_votes({vote(4, "fourth", {2, 1}, {2, 1})}).ok());
      REQUIRE(v->sync().ok());
    }
    std::string d = data_of(path);
    size_t at = d.find("second");
    set_byte(path, at, 'S');
    expect = "byte offset " + std::to_string(row_start(d, at));
  }
  // A compacted votes.csv holding one vote, "only".
  auto compact_one = [&] {
    VoteLog::Loaded loaded;
    auto r = VoteLog::open(path, loaded);
    REQUIRE(r.ok());
    auto ledger = open_ledger(dir.file("ledger.csv"), nullptr);
    REQUIRE((*r)->compact({5, 2}, {vote(1, "only", {5, 2}, {4, 1})}, *ledger).ok());
  };
  SECTION("a flipped byte in the last record of a compacted file, nothing after it") {
    compact_one();
    std::string d = data_of(path);
    size_t at = d.find("only");
    set_byte(path, at, 'O');
    expect = "byte offset " + std::to_string(row_start(d, at));
  }
  SECTION("a compacted file whose last record is lost") {
    compact_one();
    std::string d = data_of(path);
    size_t last = row_start(d, d.size() - 1);
    zero_range(path, last, d.size());
    expect = "the data ends at byte offset " + std::to_string(last);
  }
  SECTION("a flipped byte in a record appended while a compaction was under way") {
    // Those records were fdatasynced into the new file before it became votes.csv, so they
    // claim it whole: damage to one, with a later one intact, is corruption, not a torn tail.
    VoteLog::Loaded loaded;
    auto r = VoteLog::open(path, loaded);
    REQUIRE(r.ok());
    auto ledger = open_ledger(dir.file("ledger.csv"), nullptr);
    auto c = (*r)->begin_compaction({5, 2}, {vote(1, "snapshot", {5, 2}, {4, 1})}, 0,
                                    [](uint64_t) { return uint64_t{1} << 16; });
    REQUIRE((*r)->append_votes({vote(2, "meanwhile", {5, 2}, {5, 2})}).ok());
    REQUIRE((*r)->append_promise({6, 1}).ok());
    REQUIRE((*r)->sync().ok());
    REQUIRE(c->prepare(*ledger).ok());
    REQUIRE((*r)->finish_compaction(*c).ok());
    std::string d = data_of(path);
    size_t at = d.find("meanwhile");
    set_byte(path, at, 'M');
    expect = "byte offset " + std::to_string(row_start(d, at));
  }
  SECTION("a flipped byte in a record the helper caught up, a later one after it") {
    VoteLog::Loaded loaded;
    auto r = VoteLog::open(path, loaded);
    REQUIRE(r.ok());
    auto ledger = open_ledger(dir.file("ledger.csv"), nullptr);
    auto c = (*r)->begin_compaction({5, 2}, {}, 0, [](uint64_t) { return uint64_t{1} << 16; });
    REQUIRE(c->prepare(*ledger).ok());
    REQUIRE((*r)->append_votes({vote(2, "caught", {5, 2}, {5, 2})}).ok());
    (*r)->hand_over_appended(*c);
    REQUIRE(c->catch_up().ok());
    REQUIRE((*r)->append_votes({vote(3, "last", {5, 2}, {5, 2})}).ok());
    REQUIRE((*r)->finish_compaction(*c).ok());
    std::string d = data_of(path);
    size_t at = d.find("caught");
    set_byte(path, at, 'C');
    expect = "byte offset " + std::to_string(row_start(d, at));
  }
  LogCapture logs;
  VoteLog::Loaded loaded;
  auto r = VoteLog::open(path, loaded);
  REQUIRE_FALSE(r.ok());
  INFO(r.error());
  CHECK(r.error().find(path + " is corrupt") != std::string::npos);
  CHECK(r.error().find(expect) != std::string::npos);
  CHECK(r.error().find("do not delete it") != std::string::npos);
  CHECK(logs.lines().empty());  // nothing was cut
}

TEST_CASE("ledger: damage at or below the length votes.csv relies on is refused, above it cut",
          "[storage]") {
  TempDir dir;
  const std::string path = dir.file("ledger.csv");
  const std::vector<Entry> all = numbered_decrees(8);
  {
    Files f = open_files(dir);
    REQUIRE(f.error.empty());
    REQUIRE(f.ledger->append({all.begin(), all.begin() + 3}).ok());
    REQUIRE(f.ledger->sync().ok());
    // Votes for 1..3 dropped: the ledger is now relied on up to decree 3.
    REQUIRE(f.votes->compact({3, 1}, {vote(4, "decree number 4", {3, 1}, {3, 2})}, *f.ledger).ok());
    REQUIRE(f.ledger->append({all.begin() + 3, all.end()}).ok());  // one write, not synced
  }
  const std::string full = slurp(path);
  auto start_of = [&](uint64_t n) { return row_start(full, full.find("decree number " + std::to_string(n))); };
  const size_t end3 = start_of(4);

  SECTION("refused") {
    std::string expect;
    SECTION("a flipped byte in decree 2, good records after it") {
      set_byte(path, full.find("number 2"), 'N');
      expect = "byte offset " + std::to_string(start_of(2));
    }
    SECTION("a flipped byte in decree 3, the last relied on, nothing after it") {
      fs::resize_file(path, end3);  // decrees 4.. never reached the disk
      set_byte(path, full.find("number 3"), 'N');
      expect = "byte offset " + std::to_string(start_of(3));
    }
    SECTION("the ledger ends before the decrees relied on") {
      fs::resize_file(path, start_of(3));
      expect = "byte offset " + std::to_string(start_of(3));
    }
    LogCapture logs;
    Files f = open_files(dir);
    REQUIRE_FALSE(f.error.empty());
    INFO(f.error);
    CHECK(f.error.find(path + " is corrupt") != std::string::npos);
    CHECK(f.error.find(expect) != std::string::npos);
    CHECK(f.error.find("decrees 1..3") != std::string::npos);
    // The hint says only what is safe once votes.csv has been compacted.
    CHECK(f.error.find("Restore it from a backup") != std::string::npos);
    CHECK(f.error.find("replace it as a new member") != std::string::npos);
    CHECK(f.error.find("let the priest learn the decrees again") == std::string::npos);
    CHECK(logs.lines().empty());
    CHECK(slurp(path).size() == fs::file_size(path));  // nothing was cut
  }
  SECTION("cut") {
    size_t bad = 0;
    std::string intact;
    SECTION("a flipped byte in decree 5, above the relied-on 3, good records after it") {
      set_byte(path, full.find("number 5"), 'N');
      bad = start_of(5);
      intact = "(3 intact records after the bad one)";
    }
    SECTION("the first half of the unsynced append lost, its second half on disk") {
      zero_range(path, end3, end3 + (full.size() - end3) / 2);
      bad = end3;
    }
    LogCapture logs;
    Files f = open_files(dir);
    INFO(f.error);
    REQUIRE(f.error.empty());
    uint64_t kept = bad == end3 ? 3 : 4;
    CHECK(f.ledger->length() == kept);
    CHECK(f.decrees == std::vector<Entry>(all.begin(), all.begin() + static_cast<long>(kept)));
    CHECK(slurp(path) == full.substr(0, bad));
    CHECK(logs.lines().size() == 1);
    CHECK(logs.logged({"[warning]", path, "cutting " + std::to_string(full.size() - bad) + " bytes",
                       "byte offset " + std::to_string(bad),
                       "decree " + std::to_string(kept + 1) + " on", intact}));
    // The vote for decree 4 is kept while the ledger lacks it: the priest learns it again.
    if (kept == 3) CHECK(f.loaded.votes == std::vector<Entry>{vote(4, "decree number 4", {3, 1}, {3, 2})});
    else CHECK(f.loaded.votes.empty());
    REQUIRE(f.ledger->append({all[kept]}).ok());
  }
}

TEST_CASE("ledger: damage below the bytes synced at the last clean stop is named as the disk's",
          "[storage]") {
  TempDir dir;
  const std::string path = dir.file("ledger.csv");
  const std::vector<Entry> all = numbered_decrees(8);
  {
    Files f = open_files(dir);
    REQUIRE(f.error.empty());
    REQUIRE(f.ledger->append(all).ok());
    REQUIRE(f.ledger->sync().ok());
    REQUIRE(save_ledger_synced(dir.path.string(), f.ledger->bytes()).ok());  // a clean stop
  }
  CHECK(read_ledger_synced(dir.path.string()) == fs::file_size(path));
  const std::string full = slurp(path);
  const size_t bad = row_start(full, full.find("decree number 5"));
  set_byte(path, full.find("number 5"), 'N');
  LogCapture logs;
  Files f = open_files(dir);
  INFO(f.error);
  REQUIRE(f.error.empty());
  // Cut and learned again (safe), but named for what it is: not a torn write.
  CHECK(f.ledger->length() == 4);
  CHECK(logs.logged({"[error]", path, "the disk corrupted data it had made durable",
                     "decree 5 at byte offset " + std::to_string(bad), "3 intact records"}));
  CHECK_FALSE(logs.logged({"torn"}));
  // Without the record of a clean stop the same damage reads as a crash's torn tail.
  SECTION("no ledger-synced file") {
    TempDir other;
    fs::copy_file(dir.file("votes.csv"), other.file("votes.csv"));
    std::ofstream(other.file("ledger.csv"), std::ios::binary) << full;
    set_byte(other.file("ledger.csv"), full.find("number 5"), 'N');
    LogCapture again;
    Files g = open_files(other);
    REQUIRE(g.error.empty());
    CHECK(again.logged({"[warning]", "torn"}));
  }
}

TEST_CASE("ledger: a failed fdatasync is sticky, whichever thread saw it", "[storage]") {
  TempDir dir;
  auto path = dir.file("ledger.csv");
  auto l = open_ledger(path, nullptr);
  REQUIRE(l->append({decree(1, "one")}).ok());
  REQUIRE(l->sync().ok());
  CHECK(l->synced_length() == 1);
  REQUIRE(l->append({decree(2, "two")}).ok());
  CHECK(l->synced_length() == 1);

  // For one fdatasync, the ledger's descriptor is a pipe: fdatasync fails (EINVAL), as after
  // a writeback error, which Linux reports to one fdatasync only. The failing sync runs on
  // another thread, like the host's background syncer.
  int fd = fd_of(path);
  REQUIRE(fd >= 0);
  int saved = ::dup(fd);
  int p[2];
  REQUIRE(saved >= 0);
  REQUIRE(::pipe(p) == 0);
  REQUIRE(::dup2(p[0], fd) == fd);
  Status background = ok_status();
  std::thread syncer([&] { background = l->sync(); });
  syncer.join();
  REQUIRE(::dup2(saved, fd) == fd);  // the file again: an fdatasync of it now succeeds
  ::close(saved);
  ::close(p[0]);
  ::close(p[1]);
  REQUIRE(::fdatasync(fd) == 0);
  REQUIRE_FALSE(background.ok());
  INFO(background.error());
  CHECK(background.error().find("fdatasync") != std::string::npos);
  CHECK(background.error().find(path) != std::string::npos);

  // Every later sync and append fails with it, on the I/O thread too.
  auto again = l->sync();
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().find(background.error()) != std::string::npos);
  auto append = l->append({decree(3, "three")});
  REQUIRE_FALSE(append.ok());
  CHECK(append.error().find(background.error()) != std::string::npos);
  CHECK(l->length() == 2);
  CHECK(l->synced_length() == 1);
  // And votes.csv will not drop votes for decree 2, which never was durable.
  VoteLog::Loaded loaded;
  auto v = VoteLog::open(dir.file("votes.csv"), loaded);
  REQUIRE(v.ok());
  auto c = (*v)->compact({1, 1}, {}, *l);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("sync the ledger first") != std::string::npos);
}

TEST_CASE("ledger: sync on another thread while the I/O thread appends", "[storage]") {
  TempDir dir;
  auto path = dir.file("ledger.csv");
  std::vector<Entry> all;
  {
    auto l = open_ledger(path, nullptr);
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0}, went_back{0};
    std::thread syncer([&] {
      uint64_t last = 0;
      while (!stop.load()) {
        if (!l->sync().ok()) ++failures;
        uint64_t now = l->synced_length();
        if (now < last) ++went_back;
        last = now;
      }
    });
    for (uint64_t n = 1; n <= 2000; ++n) {
      all.push_back(decree(n, "decree " + std::to_string(n)));
      if (!l->append({all.back()}).ok()) break;
    }
    stop = true;
    syncer.join();
    CHECK(failures == 0);
    CHECK(went_back == 0);
    CHECK(l->length() == 2000);
    CHECK(l->synced_length() <= 2000);
    REQUIRE(l->sync().ok());
    CHECK(l->synced_length() == 2000);
  }
  std::vector<Entry> seen;
  auto l = open_ledger(path, &seen);
  CHECK(seen == all);
}

TEST_CASE("vote log: compact records the synced ledger length, and needs the ledger synced",
          "[storage]") {
  TempDir dir;
  auto path = dir.file("votes.csv");
  VoteLog::Loaded loaded;
  auto v = VoteLog::open(path, loaded);
  REQUIRE(v.ok());
  REQUIRE((*v)->append_promise({1, 1}).ok());
  REQUIRE((*v)->sync().ok());
  const std::string before = data_of(path);
  auto l = open_ledger(dir.file("ledger.csv"), nullptr);
  REQUIRE(l->append({decree(1, "one"), decree(2, "two")}).ok());
  auto c = (*v)->compact({2, 1}, {}, *l);  // the ledger not synced yet
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().find("sync the ledger first") != std::string::npos);
  CHECK(data_of(path) == before);
  REQUIRE(l->sync().ok());
  REQUIRE((*v)->compact({2, 1}, {}, *l).ok());
  CHECK(data_of(path).find("\nledger_synced,2,") != std::string::npos);
  v = VoteLog::open(path, loaded);
  REQUIRE(v.ok());
  CHECK(loaded.ledger_synced == 2);
  CHECK(loaded.next_bal == Ballot{2, 1});
}

TEST_CASE("vote log: a votes.csv of the older format is refused, saying so", "[storage]") {
  TempDir dir;
  auto path = dir.file("votes.csv");
  spit(path, "record,decree_no,ballot,origin,kind,client,request,decree,crc32\n");
  VoteLog::Loaded loaded;
  auto r = VoteLog::open(path, loaded);
  REQUIRE_FALSE(r.ok());
  INFO(r.error());
  CHECK(r.error().find(path) != std::string::npos);
  CHECK(r.error().find("older paxos-priest") != std::string::npos);
}

TEST_CASE("membership: save and load, absent, garbage", "[storage]") {
  TempDir dir;
  auto absent = load_membership(dir.path.string());
  REQUIRE(absent.ok());
  CHECK_FALSE(absent->has_value());

  Membership m{12, {{1, "127.0.0.1", 7101, "127.0.0.1", 0x1234},
                    {2, "host-2", 7102, "0.0.0.0", 0xfedcba9876543210ull},
                    {3, "host-3", 7103, "host-3", 7}}};
  REQUIRE(save_membership(dir.path.string(), m).ok());
  auto loaded = load_membership(dir.path.string());
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK(**loaded == m);
  CHECK_FALSE(fs::exists(dir.file("membership.json.tmp")));

  for (const char* garbage : {"{not json", "[1,2,3]", "{\"priests\": []}",
                              "{\"decree_no\": 0, \"priests\": [{\"id\": 1}]}", "{}",
                              "{\"decree_no\": 0, \"priests\": [{\"id\": 1, \"host\": \"h\", "
                              "\"port\": 1, \"incarnation\": \"00zz\"}]}"}) {
    INFO("membership.json: " << garbage);
    spit(dir.file("membership.json"), garbage);
    auto r = load_membership(dir.path.string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find(dir.file("membership.json")) != std::string::npos);
  }
  // An older version's file (no decree_no, no incarnations) is refused, saying so.
  spit(dir.file("membership.json"), "{\"priests\": [{\"id\": 1, \"host\": \"h\", \"port\": 1}]}");
  auto old = load_membership(dir.path.string());
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().find("older version") != std::string::npos);
}

TEST_CASE("incarnation: drawn once in a blank directory, kept, refused beside old files", "[storage]") {
  TempDir dir;
  auto first = load_or_create_incarnation(dir.path.string());
  REQUIRE(first.ok());
  CHECK(*first != 0);
  auto again = load_or_create_incarnation(dir.path.string());
  REQUIRE(again.ok());
  CHECK(*again == *first);
  // A blank directory is a new incarnation.
  TempDir other;
  auto second = load_or_create_incarnation(other.path.string());
  REQUIRE(second.ok());
  CHECK(*second != *first);
  // Files of a priest but no incarnation: refused, not given a new one silently.
  TempDir old;
  spit(old.file("ledger.csv"), "decree_no,ballot,kind,client,request,decree,crc32\n");
  auto r = load_or_create_incarnation(old.path.string());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("no incarnation file") != std::string::npos);
  spit(dir.file("incarnation"), "not hex\n");
  CHECK_FALSE(load_or_create_incarnation(dir.path.string()).ok());
}

TEST_CASE("ensure_dir creates parents and refuses a file", "[storage]") {
  TempDir dir;
  auto deep = (dir.path / "a" / "b" / "c").string();
  REQUIRE(ensure_dir(deep).ok());
  CHECK(fs::is_directory(deep));
  CHECK(ensure_dir(deep).ok());
  spit(dir.file("plain"), "x");
  auto s = ensure_dir(dir.file("plain"));
  CHECK_FALSE(s.ok());
  CHECK(s.error().find(dir.file("plain")) != std::string::npos);
}

TEST_CASE("vote log: a compaction in steps keeps what is appended while it runs", "[storage]") {
  TempDir dir;
  auto path = dir.file("votes.csv");
  VoteLog::Loaded loaded;
  auto log = open_votes(path, loaded);
  REQUIRE(log->append_promise({1, 1}).ok());
  REQUIRE(log->append_votes({vote(1, "one", {1, 1}, {1, 1}), vote(2, "two", {1, 1}, {1, 1})}).ok());
  REQUIRE(log->sync().ok());
  auto ledger = open_ledger(dir.file("ledger.csv"), nullptr);
  REQUIRE(ledger->append({decree(1, "one")}).ok());
  REQUIRE(ledger->sync().ok());
  const std::string before = data_of(path);
  constexpr uint64_t kReserve = 1 << 20;
  auto c = log->begin_compaction({1, 1}, {vote(2, "two", {1, 1}, {1, 1})}, 1,
                                 [&](uint64_t) { return kReserve; });
  // The priest goes on: a higher promise, a vote replaced, a new vote, each synced.
  REQUIRE(log->append_promise({3, 2}).ok());
  REQUIRE(log->append_votes({vote(2, "two again", {3, 2}, {1, 1}), vote(3, "three", {3, 2}, {3, 2})}).ok());
  REQUIRE(log->sync().ok());

  SECTION("finished: the new file holds the snapshot and everything appended after it") {
    REQUIRE(c->prepare(*ledger).ok());
    REQUIRE(log->append_votes({vote(4, "four", {3, 2}, {3, 2})}).ok());  // after prepare, unsynced
    int old_fd = -1;
    REQUIRE(log->finish_compaction(*c, &old_fd).ok());
    CHECK(old_fd >= 0);
    ::close(old_fd);
    CHECK_FALSE(fs::exists(path + ".tmp"));
    CHECK(log->bytes() == data_of(path).size());
    CHECK(data_of(path).find("\"one\"") == std::string::npos);  // the vote the ledger covers: gone
    CHECK(fs::file_size(path) == kReserve);  // zero-filled ahead by prepare, not by a vote
    REQUIRE(log->append_votes({vote(5, "five", {3, 2}, {3, 2})}).ok());
    REQUIRE(log->sync().ok());
    CHECK(fs::file_size(path) == kReserve);
    auto again = VoteLog::open(path, loaded);
    REQUIRE(again.ok());
    CHECK(loaded.next_bal == Ballot{3, 2});
    CHECK(loaded.ledger_synced == 1);
    CHECK(loaded.votes == std::vector<Entry>{vote(2, "two", {1, 1}, {1, 1}),
                                             vote(2, "two again", {3, 2}, {1, 1}),
                                             vote(3, "three", {3, 2}, {3, 2}),
                                             vote(4, "four", {3, 2}, {3, 2}),
                                             vote(5, "five", {3, 2}, {3, 2})});
  }
  SECTION("stopped before it finished (a crash, a shutdown): votes.csv is untouched") {
    REQUIRE(c->prepare(*ledger).ok());
    CHECK(fs::exists(path + ".tmp"));
    c.reset();
    CHECK_FALSE(fs::exists(path + ".tmp"));
    CHECK(data_of(path).substr(0, before.size()) == before);
    auto again = VoteLog::open(path, loaded);
    REQUIRE(again.ok());
    CHECK(loaded.next_bal == Ballot{3, 2});
    CHECK(loaded.votes.size() == 4);
  }
  SECTION("the ledger could not be made durable: the log refuses from then on") {
    c->abandon("fdatasync of ledger.csv failed: EIO");
    auto s = log->finish_compaction(*c);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().find("EIO") != std::string::npos);
    CHECK_FALSE(log->append_promise({4, 1}).ok());
    CHECK(data_of(path).find("ledger_synced") == std::string::npos);
  }
}

TEST_CASE("vote log: a sync in two steps covers what was written before it began", "[storage]") {
  TempDir dir;
  auto path = dir.file("votes.csv");
  VoteLog::Loaded loaded;
  auto log = open_votes(path, loaded);
  REQUIRE(log->append_promise({1, 1}).ok());
  auto t = log->begin_sync();
  REQUIRE(t.ok());
  CHECK(t->covers == log->bytes());
  REQUIRE(log->append_promise({2, 1}).ok());  // written while the fdatasync runs elsewhere
  const uint64_t written = log->bytes();
  SECTION("the outcome: records after it claim what it covered, not what was written since") {
    REQUIRE(::fdatasync(t->fd) == 0);
    REQUIRE(log->end_sync(*t, 0).ok());
    REQUIRE(log->append_promise({3, 1}).ok());
    std::string d = data_of(path);
    std::string last = d.substr(written);
    CHECK(last.find("," + std::to_string(t->covers) + ",") != std::string::npos);
    CHECK(last.find("," + std::to_string(written) + ",") == std::string::npos);
  }
  SECTION("a failed fdatasync poisons the log, naming the error") {
    auto s = log->end_sync(*t, EIO);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().find("fdatasync") != std::string::npos);
    CHECK(s.error().find(path) != std::string::npos);
    CHECK_FALSE(log->append_promise({3, 1}).ok());
    CHECK_FALSE(log->begin_sync().ok());
  }
  SECTION("the outcome of a sync of a file a compaction replaced is refused (a bug)") {
    auto ledger = open_ledger(dir.file("ledger.csv"), nullptr);
    REQUIRE(log->compact({2, 1}, {}, *ledger).ok());
    CHECK_FALSE(log->end_sync(*t, 0).ok());
  }
}
