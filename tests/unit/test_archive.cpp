// Archive (server/archive.hpp): the priest's files behind the clerk, with their two threads.
// The test plays the I/O thread: what the helper and syncer threads post back is queued here
// and run when the test says, so that the order of their outcomes is the test's choice.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <vector>

#include "server/archive.hpp"
#include "tests/common/temp_dir.hpp"

using namespace parliament;

namespace {

// What the archive's threads post to "the I/O thread", held until run.
struct Posted {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> q;
  void post(std::function<void()> f) {
    {
      std::lock_guard lock(mu);
      q.push_back(std::move(f));
    }
    cv.notify_all();
  }
  // Waits (at most 10 s: a thread that never posts is a failure, not a hang) until n are held.
  bool wait_for(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return q.size() >= n; });
  }
  std::function<void()> take(size_t i) {
    std::lock_guard lock(mu);
    auto f = std::move(q[i]);
    q.erase(q.begin() + static_cast<long>(i));
    return f;
  }
};

// An archive in `dir` whose threads post to `posted`, for tests that ignore vote syncs.
std::unique_ptr<Archive> open_archive(const TempDir& dir, Posted& posted) {
  Restored restored;
  auto a = Archive::open(
      dir.path.string(), restored, [&](std::function<void()> f) { posted.post(std::move(f)); },
      [](const std::string& why) { FAIL("archive failed: " << why); }, 1 << 20,
      [](const Status&) {});
  REQUIRE(a.ok());
  return std::move(*a);
}

Entry vote_at(uint64_t n) {
  return Entry{n, Ballot{1, 1}, Decree{false, 9, n, std::string(100, 'v'), Ballot{1, 1}}};
}

// Votes 1, 2, ... written to an archive by a priest of one with no open vote (so that a
// compaction keeps none of them, only what is appended after it began).
struct Voter {
  explicit Voter(Archive& a) : archive(a), priest(options(), Restored{}) {}
  static PriestOptions options() {
    PriestOptions o;
    o.id = 1;
    o.members = {1};
    return o;
  }
  void write(int count) {
    std::vector<Entry> batch;
    for (int i = 0; i < count; ++i) batch.push_back(vote_at(++n));
    REQUIRE(archive.write_votes(batch).ok());
  }
  void until_compacting() {  // writes until the archive begins a compaction
    while (!archive.compacting()) {
      write(100);
      REQUIRE(archive.compact_if_large(priest).ok());
    }
  }
  Archive& archive;
  Priest priest;
  uint64_t n = 0;
};

// votes.csv in `dir`, reopened, holds votes first..last, in order, and nothing else.
void check_reloaded(const TempDir& dir, uint64_t first, uint64_t last) {
  VoteLog::Loaded loaded;
  REQUIRE(VoteLog::open((dir.path / "votes.csv").string(), loaded).ok());
  REQUIRE(loaded.votes.size() == last - first + 1);
  CHECK(loaded.votes.front() == vote_at(first));
  CHECK(loaded.votes.back() == vote_at(last));
}

// An archive whose priest has begun a compaction (its helper prepares the new file; what the
// archive's threads post back is held in `posted`); first_kept is the first vote written
// after it began (the priest has no open vote, so the compaction keeps only those).
struct MidCompaction {
  TempDir dir;
  Posted posted;
  std::unique_ptr<Archive> archive = open_archive(dir, posted);
  Voter voter{*archive};
  uint64_t first_kept = (voter.until_compacting(), voter.n + 1);
  // Stops the archive; votes.csv, reopened, must hold votes first..the last written.
  void stop_and_check(uint64_t first) {
    archive->stop();
    archive.reset();
    check_reloaded(dir, first, voter.n);
  }
};

}  // namespace

TEST_CASE("archive: a vote sync's outcome comes back through post; one sync at a time", "[archive]") {
  TempDir dir;
  Posted posted;
  std::vector<Status> outcomes;
  Restored restored;
  auto a = Archive::open(
      dir.path.string(), restored, [&](std::function<void()> f) { posted.post(std::move(f)); },
      [](const std::string& why) { FAIL("archive failed: " << why); }, 1 << 20,
      [&](const Status& s) { outcomes.push_back(s); });
  REQUIRE(a.ok());
  REQUIRE((*a)->write_votes({vote_at(1)}).ok());
  CHECK_FALSE((*a)->sync_votes().has_value());  // under way on the syncer thread
  auto second = (*a)->sync_votes();
  REQUIRE(second.has_value());
  CHECK_FALSE(second->ok());  // the clerk never asks twice; if it did, it is refused
  REQUIRE(posted.wait_for(1));
  CHECK(outcomes.empty());  // nothing is told before the I/O thread runs the outcome
  posted.take(0)();
  REQUIRE(outcomes.size() == 1);
  CHECK(outcomes[0].ok());
  (*a)->stop();
}

// A follower with nothing else to do fdatasyncs on its I/O thread: the outcome is returned,
// nothing is posted, the sync is timed like one on the syncer thread; and the switch waits
// for a sync under way (the clerk's one-at-a-time rule holds across it).
TEST_CASE("archive: a vote sync on the calling thread returns its outcome; the switch waits",
          "[archive]") {
  TempDir dir;
  Posted posted;
  std::vector<Status> outcomes;
  Restored restored;
  auto a = Archive::open(
      dir.path.string(), restored, [&](std::function<void()> f) { posted.post(std::move(f)); },
      [](const std::string& why) { FAIL("archive failed: " << why); }, 1 << 20,
      [&](const Status& s) { outcomes.push_back(s); });
  REQUIRE(a.ok());
  Histogram timed;
  (*a)->time_votes_syncs(&timed);
  auto count = [&] {
    std::string out;
    timed.render(out, "s");
    return out.substr(out.find("s_count ") + 8, 1);
  };
  REQUIRE((*a)->write_votes({vote_at(1)}).ok());
  (*a)->sync_on_calling_thread(true);
  auto done = (*a)->sync_votes();
  REQUIRE(done.has_value());
  CHECK(done->ok());
  CHECK(count() == "1");
  CHECK(outcomes.empty());
  {
    std::lock_guard lock(posted.mu);
    CHECK(posted.q.empty());
  }
  // Back to the syncer thread; while its sync is under way, switching again does nothing.
  (*a)->sync_on_calling_thread(false);
  REQUIRE((*a)->write_votes({vote_at(2)}).ok());
  CHECK_FALSE((*a)->sync_votes().has_value());
  (*a)->sync_on_calling_thread(true);
  auto second = (*a)->sync_votes();
  REQUIRE(second.has_value());
  CHECK_FALSE(second->ok());  // still the syncer's turn: a second sync is refused
  REQUIRE(posted.wait_for(1));
  posted.take(0)();
  REQUIRE(outcomes.size() == 1);
  CHECK(outcomes[0].ok());
  (*a)->sync_on_calling_thread(true);  // now it takes effect
  REQUIRE((*a)->write_votes({vote_at(3)}).ok());
  auto third = (*a)->sync_votes();
  REQUIRE(third.has_value());
  CHECK(third->ok());
  (*a)->stop();
}

// A compaction that finishes while a vote sync is under way would swap the file under that
// sync: it waits for the sync's outcome, and finishes before the clerk hears it (so that the
// clerk's next sync is of the new file). Without the wait, the sync's outcome is refused.
TEST_CASE("archive: a compaction waits for the vote sync under way, and keeps what it covered",
          "[archive]") {
  TempDir dir;
  Posted posted;
  std::vector<Status> outcomes;
  std::vector<uint64_t> votes_file_at_outcome;
  Restored restored;
  std::unique_ptr<Archive> archive;
  const std::string votes_path = (dir.path / "votes.csv").string();
  auto a = Archive::open(
      dir.path.string(), restored, [&](std::function<void()> f) { posted.post(std::move(f)); },
      [](const std::string& why) { FAIL("archive failed: " << why); }, 1 << 20, [&](const Status& s) {
        outcomes.push_back(s);
        votes_file_at_outcome.push_back(archive->votes_bytes());
      });
  REQUIRE(a.ok());
  archive = std::move(*a);
  // Past priest 1's first compaction size: votes at numbers 1..N, synced at once.
  uint64_t n = 0;
  while (archive->votes_bytes() <= Archive::compaction_size(0, 1).threshold) {
    std::vector<Entry> batch;
    for (int i = 0; i < 1000; ++i) batch.push_back(vote_at(++n));
    REQUIRE(archive->write_votes(batch).ok());
  }
  PriestOptions o;
  o.id = 1;
  o.members = {1};
  Priest priest(o, Restored{});  // its ledger and the archive's are both empty: it may compact
  REQUIRE(archive->compact_if_large(priest).ok());
  REQUIRE(posted.wait_for(1));  // the compaction is prepared: its finish waits here
  // Meanwhile the priest votes again and a sync begins.
  REQUIRE(archive->write_votes({vote_at(n + 1)}).ok());
  CHECK_FALSE(archive->sync_votes().has_value());
  REQUIRE(posted.wait_for(2));  // the sync's outcome
  const uint64_t before = archive->votes_bytes();
  posted.take(0)();  // the compaction's finish, while the sync is under way: it must wait
  CHECK(archive->votes_bytes() == before);
  CHECK(outcomes.empty());
  posted.take(0)();  // the sync's outcome: the compaction finishes, then the clerk is told
  REQUIRE(outcomes.size() == 1);
  CHECK(outcomes[0].ok());
  REQUIRE(votes_file_at_outcome.size() == 1);
  CHECK(votes_file_at_outcome[0] < before);  // already the compacted file when told
  archive->stop();
  archive.reset();
  // Everything written after the compaction began is in the new votes.csv.
  VoteLog::Loaded loaded;
  auto log = VoteLog::open(votes_path, loaded);
  REQUIRE(log.ok());
  REQUIRE(loaded.votes.size() == 1);
  CHECK(loaded.votes[0] == vote_at(n + 1));
}

// Compactions are small (each is a burst of writes every priest's fdatasyncs queue behind):
// at eight times what the last one kept, from 1 to 8 MiB, and at a size of each priest's own.
TEST_CASE("archive: a priest compacts at eight times what it kept, within 1 and 8 MiB",
          "[archive]") {
  constexpr uint64_t MiB = 1 << 20;
  CHECK(Archive::compaction_size(0, 8).threshold == MiB);       // never compacted yet
  CHECK(Archive::compaction_size(40'000, 8).threshold == MiB);  // 100-byte decrees' open votes
  CHECK(Archive::compaction_size(512 * 1024, 8).threshold == 4 * MiB);
  CHECK(Archive::compaction_size(900'000, 8).threshold == 7'200'000);
  CHECK(Archive::compaction_size(64 * MiB, 8).threshold == 8 * MiB);  // open votes of long decrees
  // Five priests, five sizes: a majority never compacts at once.
  std::vector<uint64_t> sizes;
  for (PriestId id = 1; id <= 5; ++id)
    sizes.push_back(Archive::compaction_size(40'000, id).threshold);
  CHECK(sizes == std::vector<uint64_t>{MiB + MiB / 8, MiB + 2 * MiB / 8, MiB + 3 * MiB / 8,
                                       MiB + 4 * MiB / 8, MiB + 5 * MiB / 8});
  // The new file's zeros reach past the next threshold: room for what is appended while the
  // next compaction runs, at least 1 MiB of it.
  for (uint64_t kept : {uint64_t{0}, uint64_t{900'000}, 64 * MiB}) {
    auto size = Archive::compaction_size(kept, 3);
    CHECK(size.reserve >= size.threshold + MiB);
    CHECK(size.reserve >= size.threshold + size.threshold / 2);
  }
}

// The zeros a compaction writes ahead reach past the size at which the file it made is
// compacted again, with room to spare, however much more it keeps than the last one: else
// votes.csv outgrows its zeros and is zero-filled on the I/O thread, and the next vote
// fdatasync flushes them (sizing the zeros from the last compaction's snapshot did that).
TEST_CASE("archive: each compaction zero-fills past its own next threshold", "[archive]") {
  TempDir dir;
  Posted posted;
  auto archive = open_archive(dir, posted);
  const std::string votes_path = (dir.path / "votes.csv").string();
  uint64_t n = 0;
  // Open votes of growing size: each compaction keeps more than the one before.
  for (size_t open : {size_t{0}, size_t{2'500}, size_t{9'000}}) {
    Restored r;
    for (size_t i = 1; i <= open; ++i) r.votes[i] = vote_at(i);
    PriestOptions o;
    o.id = 1;
    o.members = {1};
    Priest priest(o, r);
    while (!archive->compacting()) {  // votes.csv filled until the priest compacts it
      std::vector<Entry> batch;
      for (int i = 0; i < 100; ++i) batch.push_back(vote_at(open + ++n));
      REQUIRE(archive->write_votes(batch).ok());
      REQUIRE(archive->compact_if_large(priest).ok());
    }
    REQUIRE(posted.wait_for(1));
    posted.take(0)();                              // the compaction's finish
    const uint64_t kept = archive->votes_bytes();  // nothing was appended while it ran
    const uint64_t zeroed = std::filesystem::file_size(votes_path);
    INFO("kept " << kept << " bytes; zero-filled to " << zeroed);
    CHECK(zeroed >= Archive::compaction_size(kept, 1).threshold + (1 << 20));
  }
  archive->stop();
}

// Records appended while a compaction runs are written into the new file on another thread
// (catch_up) once handed over, so that its finish on the I/O thread writes only what came
// after the hand-over: none is lost, none doubled, their order kept.
TEST_CASE("vote log: records handed to a compaction are caught up, in order, once each",
          "[storage]") {
  TempDir dir;
  const std::string path = (dir.path / "votes.csv").string();
  VoteLog::Loaded loaded;
  auto opened = VoteLog::open(path, loaded);
  REQUIRE(opened.ok());
  auto log = std::move(*opened);
  REQUIRE(log->append_promise({1, 1}).ok());
  REQUIRE(log->append_votes({vote_at(1), vote_at(2), vote_at(3)}).ok());
  REQUIRE(log->sync().ok());
  auto ledger_file = LedgerFile::open((dir.path / "ledger.csv").string(), 0, [](const Entry&) {});
  REQUIRE(ledger_file.ok());
  auto& ledger = **ledger_file;
  REQUIRE(ledger.append({Entry{1, Ballot{1, 1}, vote_at(1).decree}}).ok());
  REQUIRE(ledger.sync().ok());
  auto c = log->begin_compaction({1, 1}, {vote_at(2), vote_at(3)}, 1,
                                 [](uint64_t) { return uint64_t{1} << 20; });
  CHECK(log->appended_bytes() == 0);
  REQUIRE(log->append_votes({vote_at(4)}).ok());
  REQUIRE(c->prepare(ledger).ok());
  REQUIRE(log->append_votes({vote_at(5)}).ok());
  CHECK(log->appended_bytes() > 0);
  log->hand_over_appended(*c);
  CHECK(log->appended_bytes() == 0);
  REQUIRE(log->append_promise({2, 1}).ok());  // while the helper catches up
  REQUIRE(log->append_votes({vote_at(6)}).ok());
  REQUIRE(c->catch_up().ok());
  REQUIRE(log->append_votes({vote_at(7)}).ok());

  SECTION("finished: the new file holds each record once, in the order appended") {
    REQUIRE(log->finish_compaction(*c).ok());
    CHECK(log->bytes() < std::filesystem::file_size(path));  // still within its zeros
    REQUIRE(log->append_votes({vote_at(8)}).ok());
    REQUIRE(log->sync().ok());
    log.reset();
    REQUIRE(VoteLog::open(path, loaded).ok());
    CHECK(loaded.next_bal == Ballot{2, 1});
    CHECK(loaded.ledger_synced == 1);
    std::vector<Entry> want;
    for (uint64_t n = 2; n <= 8; ++n) want.push_back(vote_at(n));
    CHECK(loaded.votes == want);
  }
  SECTION("a failed compaction catches up nothing, and its finish fails with the reason") {
    CHECK_FALSE(c->failed());
    c->abandon("fdatasync of ledger.csv failed: EIO");
    CHECK(c->failed());
    log->hand_over_appended(*c);
    CHECK_FALSE(c->catch_up().ok());
    auto s = log->finish_compaction(*c);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().find("EIO") != std::string::npos);
    CHECK_FALSE(log->append_votes({vote_at(9)}).ok());  // the log refuses from then on
  }
  SECTION("stopped after a catch-up, before the finish: votes.csv is whole and untouched") {
    c.reset();
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
    REQUIRE(log->sync().ok());
    log.reset();
    REQUIRE(VoteLog::open(path, loaded).ok());
    CHECK(loaded.next_bal == Ballot{2, 1});
    CHECK(loaded.votes.size() == 7);
  }
}

// A compaction's finish runs on the I/O thread, where every vote waits for it: when much was
// appended while the helper prepared the new file, the helper takes another turn to write and
// fdatasync those records, and only then is the compaction finished here.
TEST_CASE("archive: what was appended during a compaction is caught up on the helper first",
          "[archive]") {
  MidCompaction m;
  REQUIRE(m.posted.wait_for(1));  // prepared; meanwhile 200 KiB of votes were appended
  m.voter.write(1000);
  const uint64_t before = m.archive->votes_bytes();
  m.posted.take(0)();  // not finished here: handed to the helper to catch up
  CHECK(m.archive->compacting());
  CHECK(m.archive->votes_bytes() == before);
  m.voter.write(10);  // while the helper writes those
  REQUIRE(m.posted.wait_for(1));
  m.posted.take(0)();  // caught up; the ten left are written here, and the file replaced
  CHECK_FALSE(m.archive->compacting());
  CHECK(m.archive->votes_bytes() < before);
  m.stop_and_check(m.first_kept);
}

// A finish that waited for a vote sync takes its turn again when the sync ends: what was
// appended while the sync ran is caught up on the helper too, not written on the I/O thread.
TEST_CASE("archive: a compaction that waited for a vote sync catches up what came meanwhile",
          "[archive]") {
  MidCompaction m;
  REQUIRE(m.posted.wait_for(1));  // prepared
  m.voter.write(10);
  CHECK_FALSE(m.archive->sync_votes().has_value());  // a vote sync under way
  REQUIRE(m.posted.wait_for(2));                     // its outcome, held
  m.posted.take(0)();                                // the finish must wait for the sync
  CHECK(m.archive->compacting());
  m.voter.write(1000);  // appended while the sync ran
  m.posted.take(0)();   // the sync's outcome: the compaction takes its turn again, on the helper
  CHECK(m.archive->compacting());
  REQUIRE(m.posted.wait_for(1));
  m.posted.take(0)();  // caught up, then finished here
  CHECK_FALSE(m.archive->compacting());
  m.stop_and_check(m.first_kept);
}

// A priest that stops while its helper catches up a compaction (queued or under way) leaves
// votes.csv as it was: every record written to it is there, and the new file is gone.
TEST_CASE("archive: stopped during a catch-up, votes.csv keeps everything written to it",
          "[archive]") {
  MidCompaction m;
  REQUIRE(m.posted.wait_for(1));  // prepared
  m.voter.write(1000);
  REQUIRE(m.archive->sync_votes() == std::nullopt);
  REQUIRE(m.posted.wait_for(2));  // the sync's outcome
  m.posted.take(0)();             // a catch-up handed to the helper
  CHECK(m.archive->compacting());
  m.posted.take(0)();   // the sync's outcome
  m.stop_and_check(1);  // the catch-up queued or under way is abandoned; votes.csv is whole
  CHECK_FALSE(std::filesystem::exists(m.dir.path / "votes.csv.tmp"));
}

// However fast votes come, a compaction ends: after four catch-ups the helper is handed no
// more, and the fifth turn finishes on the I/O thread with whatever came meanwhile.
TEST_CASE("archive: a compaction catches up at most four times, then finishes", "[archive]") {
  MidCompaction m;
  for (int turn = 0; turn < 4; ++turn) {
    REQUIRE(m.posted.wait_for(1));  // prepared, or the last catch-up done
    m.voter.write(1000);            // 200 KiB more than a catch-up's threshold each time
    m.posted.take(0)();             // handed to the helper again
    CHECK(m.archive->compacting());
  }
  REQUIRE(m.posted.wait_for(1));
  m.voter.write(1000);
  m.posted.take(0)();  // the fifth turn: finished here, those last records included
  CHECK_FALSE(m.archive->compacting());
  m.stop_and_check(m.first_kept);
}
