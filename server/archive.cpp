// The priest's files behind the clerk: see archive.hpp.
#include "server/archive.hpp"

#include "proto/node.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include <unistd.h>

#include <spdlog/spdlog.h>

namespace parliament {

// Every byte a compaction writes (the open votes it keeps, the zeros ahead of them, the
// records appended meanwhile, which the I/O thread writes and fdatasyncs) is a burst that
// the vote fdatasyncs of every priest on the disk queue behind, and the old file's blocks
// are freed at once (a journal commit). So a priest compacts small and often: once
// votes.csv holds kCompactGrowth times what its last compaction kept (the open votes it must
// write again: below the cap, rewriting stays under an eighth of what was appended), within
// kCompactMin and kCompactMax, plus an eighth more per step of its id, so that a majority
// never compacts at once. The new file is zero-filled past the size at which it is compacted
// in turn (from what it keeps) by half that size again, at least kCompactMin: room for what
// is appended while the next compaction runs.
Archive::CompactionSize Archive::compaction_size(uint64_t kept_bytes, PriestId id) {
  constexpr uint64_t kCompactMin = 1 << 20, kCompactMax = 8 << 20, kCompactGrowth = 8;
  const uint64_t base = std::clamp(kept_bytes * kCompactGrowth, kCompactMin, kCompactMax);
  const uint64_t threshold = base + (id % 8) * (base / 8);
  return {threshold, threshold + std::max(kCompactMin, threshold / 2)};
}

// The archive's second thread. It makes ledger.csv durable, every 100 ms while it grows:
// nothing waits for that (a passed decree is already durable in a majority's votes), and
// its fdatasync, a journal commit since the file grows, would otherwise stall the priest's
// only thread. A failure stays recorded in the LedgerFile (every later append or sync
// fails) and is posted to the I/O thread, which halts the priest. It also runs the jobs the
// I/O thread hands it (the slow part of a compaction, closing a replaced file), in order.
class ArchiveHelper {
 public:
  // `ledger` null: jobs only, no ledger syncs.
  ArchiveHelper(LedgerFile* ledger, std::function<void(std::function<void()>)> post,
                std::function<void(std::string)> failed)
      : ledger_(ledger), post_(std::move(post)), failed_(std::move(failed)),
        thread_([this] { run(); }) {}
  ~ArchiveHelper() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void grew() { dirty_.store(true, std::memory_order_relaxed); }
  void submit(std::function<void(bool stopping)> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  void post(std::function<void()> f) { post_(std::move(f)); }

 private:
  // Jobs run as they come; the ledger is synced at most every 100 ms, if it grew. Jobs still
  // queued at stop run with `stopping` true (a compaction is then abandoned, a file closed).
  void run() {
    using Clock = std::chrono::steady_clock;
    std::unique_lock lock(mu_);
    auto next_sync = Clock::now() + std::chrono::milliseconds(100);
    bool ledger_failed = false;
    for (;;) {
      cv_.wait_until(lock, next_sync, [&] { return stop_ || !jobs_.empty(); });
      while (!jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        bool stopping = stop_;
        lock.unlock();
        job(stopping);
        lock.lock();
      }
      if (stop_) return;
      if (Clock::now() < next_sync) continue;
      next_sync = Clock::now() + std::chrono::milliseconds(100);
      if (!ledger_ || ledger_failed || !dirty_.exchange(false)) continue;
      lock.unlock();
      auto s = ledger_->sync();
      lock.lock();
      if (!s) {
        ledger_failed = true;
        post_([f = failed_, why = s.error()] { f(why); });
      }
    }
  }
  LedgerFile* ledger_;
  std::function<void(std::function<void()>)> post_;
  std::function<void(std::string)> failed_;
  std::atomic<bool> dirty_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void(bool stopping)>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

Result<std::unique_ptr<Archive>> Archive::open(const std::string& dir, Restored& restored,
                                               std::function<void(std::function<void()>)> post,
                                               std::function<void(std::string)> failed,
                                               size_t max_read_bytes,
                                               std::function<void(Status)> votes_synced) {
  using R = Result<std::unique_ptr<Archive>>;
  std::unique_ptr<Archive> a(new Archive);
  a->max_read_bytes_ = max_read_bytes;
  VoteLog::Loaded loaded;
  auto votes = VoteLog::open(dir + "/votes.csv", loaded);
  if (!votes) return R::failure(votes.error());
  a->votes_ = std::move(*votes);
  Recovery recovery;
  auto ledger = LedgerFile::open(dir + "/ledger.csv", loaded.ledger_synced,
                                 [&](const Entry& e) { recovery.passed(e); },
                                 read_ledger_synced(dir));
  if (!ledger) return R::failure(ledger.error());
  a->ledger_ = std::move(*ledger);
  a->dir_ = dir;
  if (auto s = save_ledger_synced(dir, a->ledger_->bytes()); !s) return R::failure(s.error());
  loaded.forget_passed(a->ledger_->length());
  recovery.promise(loaded.next_bal);
  for (auto& v : loaded.votes) recovery.vote(v);
  restored = recovery.done();
  a->failed_ = failed;
  a->votes_synced_ = std::move(votes_synced);
  a->syncer_ = std::make_unique<ArchiveHelper>(nullptr, post, failed);
  a->helper_ =
      std::make_unique<ArchiveHelper>(a->ledger_.get(), std::move(post), std::move(failed));
  return a;
}

Archive::~Archive() { stop(); }

void Archive::stop() {
  alive_.reset();    // outcomes still to be posted back are dropped
  syncer_.reset();   // from now on sync_votes() fdatasyncs on the calling thread
  deferred_finish_ = nullptr;
  helper_.reset();  // a compaction under way is abandoned: its file is removed, votes.csv stays
  if (compaction_) votes_->abandon_compaction();
  compaction_.reset();
}

Status Archive::append_ledger(const std::vector<Entry>& passed) {
  auto s = ledger_->append(passed);
  if (s && helper_) helper_->grew();
  return s;
}

Result<std::vector<Entry>> Archive::read_ledger(uint64_t from_no, uint64_t upto_no) {
  if (upto_no < from_no) return std::vector<Entry>{};
  return ledger_->read(from_no, upto_no - from_no + 1, max_read_bytes_);
}

// The slow part of a compaction (the ledger's fdatasync, writing and fdatasyncing the new
// votes file with zeros ahead) runs on the helper thread while the priest goes on voting;
// only the last step (the records appended since the helper's last turn, the rename and the
// directory's fsync) runs here. The replaced file is closed on the helper thread: freeing its
// blocks takes milliseconds.
Status Archive::compact_if_large(const Priest& priest) {
  if (compaction_ || !helper_ ||
      votes_->bytes() <= compaction_size(kept_bytes_, priest.id()).threshold)
    return ok_status();
  // Only when the ledger holds every decree the priest knows passed: the votes compaction
  // drops are those at numbers up to the priest's passed_len.
  if (priest.passed_len() != ledger_->length()) return ok_status();
  // The new file's zeros are sized from what it will keep, as its next threshold will be.
  auto c = votes_->begin_compaction(
      priest.next_bal(), priest.votes(), ledger_->length(),
      [id = priest.id()](uint64_t kept) { return compaction_size(kept, id).reserve; });
  compaction_ = c;
  Compacting step{c, std::chrono::steady_clock::now(), 0};
  on_helper(step, [this, c] {
    // The votes dropped are covered by the ledger only once the ledger is durable.
    if (auto s = ledger_->sync(); !s) return c->abandon(s.error());
    c->prepare(*ledger_);
  });
  return ok_status();
}

// Runs `job` on the helper thread, then compaction_turn back here (unless the archive
// stopped or the compaction was dropped meanwhile).
void Archive::on_helper(const Compacting& step, std::function<void()> job) {
  std::weak_ptr<VoteLog::Compaction> weak = step.c;
  ArchiveHelper* helper = helper_.get();
  helper_->submit([this, helper, step, weak, job = std::move(job)](bool stopping) {
    if (stopping) return step.c->abandon("the priest is stopping");
    job();
    helper->post([this, weak, began = step.began, catch_ups = step.catch_ups] {
      auto c = weak.lock();  // gone if the archive stopped meanwhile
      if (!c || c != compaction_) return;
      compaction_turn({c, began, catch_ups});
    });
  });
}

// Whatever the I/O thread writes and fdatasyncs in finishing, every vote waits for (with
// 16 KiB decrees at 64 clients, 6 ms at p90 and up to 45 ms): while more than kCatchUpBytes
// were appended since the helper's last turn, the helper writes and fdatasyncs them into the
// new file first, up to kMaxCatchUps times (then 1.7 ms at p90, 9 ms at most). A turn costs
// one more fdatasync, worth it once the bytes take longer to write than a sync's fixed cost
// (about 0.15 ms: 64 KiB at a few hundred MB/s).
void Archive::compaction_turn(const Compacting& step) {
  constexpr uint64_t kCatchUpBytes = 64 << 10;
  constexpr int kMaxCatchUps = 4;
  if (!step.c->failed() && step.catch_ups < kMaxCatchUps &&
      votes_->appended_bytes() > kCatchUpBytes) {
    votes_->hand_over_appended(*step.c);
    on_helper({step.c, step.began, step.catch_ups + 1}, [c = step.c] { c->catch_up(); });
    return;
  }
  // The descriptor a vote sync under way works on must stay votes.csv's until it is done;
  // then this turn is taken again (what was appended while the sync ran may be caught up).
  if (sync_pending_) {
    deferred_finish_ = [this, step] { compaction_turn(step); };
    return;
  }
  finish_compaction(step);
}

void Archive::finish_compaction(const Compacting& step) {
  compaction_.reset();
  int old_fd = -1;
  auto finishing = std::chrono::steady_clock::now();
  auto s = votes_->finish_compaction(*step.c, &old_fd);
  if (old_fd >= 0) helper_->submit([old_fd](bool) { ::close(old_fd); });
  if (!s) return failed_(s.error());
  kept_bytes_ = step.c->bytes();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  spdlog::info(
      "compacted votes.csv to {} bytes in {:.1f} ms ({} catch-ups; {:.1f} ms on the I/O thread)",
      votes_->bytes(), ms(std::chrono::steady_clock::now() - step.began), step.catch_ups,
      ms(std::chrono::steady_clock::now() - finishing));
}

// On the syncer thread, so that the priest goes on reading, counting votes and beginning
// ballots while the disk works; the clerk holds back what relies on the records meanwhile.
// On the calling thread instead while sync_on_calling_thread says so.
std::optional<Status> Archive::sync_votes() {
  if (!syncer_) return votes_->sync();
  if (sync_inline_) {
    auto began = std::chrono::steady_clock::now();
    auto s = votes_->sync();
    if (votes_sync_seconds_)
      votes_sync_seconds_->observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    return s;
  }
  // The clerk begins one sync at a time; a second would clear sync_pending_ too early and
  // let a compaction finish under the first.
  if (sync_pending_)
    return Status::failure("a second fdatasync of votes.csv while one is under way (a bug)");
  auto t = votes_->begin_sync();
  if (!t) return Status::failure(t.error());
  sync_pending_ = true;
  ArchiveHelper* syncer = syncer_.get();
  std::weak_ptr<bool> alive = alive_;
  syncer_->submit([this, syncer, alive, t = *t, timed = votes_sync_seconds_](bool stopping) {
    if (stopping) return;  // the priest is stopping: nothing waits for the outcome
    auto began = std::chrono::steady_clock::now();
    int err = ::fdatasync(t.fd) == 0 ? 0 : errno;
    if (timed)
      timed->observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    syncer->post([this, alive, t, err] {
      if (alive.expired()) return;
      sync_pending_ = false;
      auto s = votes_->end_sync(t, err);
      // A compaction waiting for this sync takes its turn (finishes, or catches up once more
      // on the helper) before the clerk hears the outcome: the clerk may begin its next sync
      // at once, which must be of the file votes.csv is then.
      if (deferred_finish_) std::exchange(deferred_finish_, nullptr)();
      votes_synced_(s);
    });
  });
  return std::nullopt;
}

}  // namespace parliament
