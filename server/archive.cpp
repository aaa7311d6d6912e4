// The priest's files behind the clerk: see archive.hpp.
#include "server/archive.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

namespace parliament {

namespace {
// Small enough that freeing the old file (an ext4 journal commit) stalls a priest for a
// few milliseconds, not the hundreds that a 64 MiB file took under load.
constexpr uint64_t kCompactVotesBytes = 8 << 20;
}  // namespace

// Makes ledger.csv durable in the background, every 100 ms while it grows. Nothing waits
// for it (a passed decree is already durable in a majority's votes), and its fdatasync, a
// journal commit since the file grows, would otherwise stall the priest's only thread.
// A failure stays recorded in the LedgerFile (every later append or sync fails) and is
// posted to the I/O thread, which halts the priest.
class LedgerSyncer {
 public:
  LedgerSyncer(LedgerFile& ledger, std::function<void(std::function<void()>)> post,
               std::function<void(std::string)> failed)
      : ledger_(ledger), post_(std::move(post)), failed_(std::move(failed)),
        thread_([this] { run(); }) {}
  ~LedgerSyncer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void grew() { dirty_.store(true, std::memory_order_relaxed); }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stop_; })) {
      if (!dirty_.exchange(false)) continue;
      if (auto s = ledger_.sync(); !s) {
        post_([f = failed_, why = s.error()] { f(why); });
        return;
      }
    }
  }
  LedgerFile& ledger_;
  std::function<void(std::function<void()>)> post_;
  std::function<void(std::string)> failed_;
  std::atomic<bool> dirty_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

Result<std::unique_ptr<Archive>> Archive::open(const std::string& dir, Restored& restored,
                                               std::function<void(std::function<void()>)> post,
                                               std::function<void(std::string)> failed,
                                               size_t max_read_bytes) {
  using R = Result<std::unique_ptr<Archive>>;
  std::unique_ptr<Archive> a(new Archive);
  a->max_read_bytes_ = max_read_bytes;
  VoteLog::Loaded loaded;
  auto votes = VoteLog::open(dir + "/votes.csv", loaded);
  if (!votes) return R::failure(votes.error());
  a->votes_ = std::move(*votes);
  auto ledger = LedgerFile::open(dir + "/ledger.csv", loaded.ledger_synced, [&](const Entry& e) {
    if (e.decree.from_client())
      restored.clients[e.decree.client] = ClientRecord{e.decree.request, e.decree_no};
    if (e.decree.membership) restored.last_membership = e;
  });
  if (!ledger) return R::failure(ledger.error());
  a->ledger_ = std::move(*ledger);
  loaded.forget_passed(a->ledger_->length());
  restored.next_bal = loaded.next_bal;
  restored.ledger_len = a->ledger_->length();
  for (auto& v : loaded.votes)
    if (v.decree_no > restored.ledger_len) restored.votes[v.decree_no] = v;
  a->syncer_ = std::make_unique<LedgerSyncer>(*a->ledger_, std::move(post), std::move(failed));
  return a;
}

Archive::~Archive() { stop(); }

void Archive::stop() { syncer_.reset(); }

Status Archive::append_ledger(const std::vector<Entry>& passed) {
  auto s = ledger_->append(passed);
  if (s && syncer_) syncer_->grew();
  return s;
}

Result<std::vector<Entry>> Archive::read_ledger(uint64_t from_no, uint64_t upto_no) {
  if (upto_no < from_no) return std::vector<Entry>{};
  return ledger_->read(from_no, upto_no - from_no + 1, max_read_bytes_);
}

Status Archive::compact_if_large(const Priest& priest) {
  if (votes_->bytes() <= kCompactVotesBytes) return ok_status();
  // Only when the ledger holds every decree the priest knows passed: the votes compaction
  // drops are those at numbers up to the priest's passed_len.
  if (priest.passed_len() != ledger_->length()) return ok_status();
  auto t0 = std::chrono::steady_clock::now();
  // The votes dropped below are covered by the ledger only once the ledger is durable.
  if (auto s = ledger_->sync(); !s) return s;
  auto t1 = std::chrono::steady_clock::now();
  if (auto s = votes_->compact(priest.next_bal(), priest.votes(), *ledger_); !s) return s;
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  spdlog::info("compacted votes.csv to {} bytes in {} ms (ledger fdatasync {} ms)", votes_->bytes(),
               ms(std::chrono::steady_clock::now() - t0), ms(t1 - t0));
  return ok_status();
}

}  // namespace parliament
