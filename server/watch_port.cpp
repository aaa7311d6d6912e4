// The watch: a client connection that said {"type":"watch","from":N} is sent every decree of
// this priest's ledger from N on, in order and each once, as it enters the ledger, and word
// every half second while nothing does (docs/PROTOCOL.md "Watching"). Who may watch is who
// may read the ledger (Host::on_client_request); a client revoked later is told and closed
// at the next push.
//
// Pushed from Host::flush, after the clerk has carried out the priest's turn: the decrees
// that passed in it are in ledger.csv then. A connection whose last push is still being
// written is skipped until a later turn: what passes meanwhile goes out in one frame then
// (under load, fewer and larger writes), and a watcher that does not read falls behind
// without costing memory or slowing the others.
#include "server/host.hpp"

namespace parliament::host_detail {

namespace {
constexpr uint64_t kWatchPage = 1000;                   // decrees in one frame, at most
constexpr size_t kWatchRecent = 10000;                  // decrees kept encoded for watchers,
constexpr size_t kWatchRecentBytes = 16 << 20;          // and at most this many bytes of them
constexpr auto kWatchQuiet = std::chrono::milliseconds(500);  // word at least this often
}  // namespace

void Host::on_watch(const std::shared_ptr<Conn>& c, const json& j) {
  uint64_t from = 1;
  if (auto f = j.find("from"); f != j.end()) {
    if (!f->is_number_unsigned() || f->get<uint64_t>() == 0)
      return bad_input(c, "bad watch", "watch: \"from\" must be a decree number (1 or more)");
    from = f->get<uint64_t>();
  }
  if (!halted_.empty())
    return bad_input(c, "halted", "priest " + std::to_string(run_.id) + " stopped: " + halted_,
                     Code::Halted);
  std::erase_if(watchers_, [&](const Watcher& w) { return w.conn.lock() == c; });
  watchers_.push_back(Watcher{c, from, {}});
  push_watches();
}

// What a watcher is told besides decrees: whether this priest is in touch with a president
// that hears a majority (a watcher of a cut-off priest moves on to another).
json Host::watch_frame_head() const {
  json j{{"type", "watch"}, {"id", run_.id}, {"length", archive_->ledger_length()}};
  bool in_touch = false;
  j["president"] = nullptr;
  if (const Priest* p = priest()) {
    auto s = p->status();
    if (s.president) j["president"] = *s.president;
    in_touch = s.president && s.reachable.size() >= s.membership.quorum();
  }
  j["in_touch"] = in_touch;
  return j;
}

// The decrees from..from+n-1, each as a ledger page writes it, joined by commas, and n (at
// most kWatchPage, and at most half a frame of bytes). The last kWatchRecent decrees are kept
// so encoded: watchers that keep up cost no ledger read or encoding of their own. A watcher
// behind them is read a page from the ledger within the page budget (budgeted_page): none
// (n = 0 though `from` is in the ledger) while the budget has none left.
Result<std::pair<std::string, uint64_t>> Host::watch_page(uint64_t from, uint64_t length) {
  using R = Result<std::pair<std::string, uint64_t>>;
  const size_t max_bytes = run_.config.max_frame_bytes / 2;
  uint64_t cached_end = watch_recent_first_ + watch_recent_.size();  // the first not cached
  if (watch_recent_.empty() || length - std::min(length, cached_end) > kWatchRecent) {
    watch_recent_.clear();  // begin (again) with the last page of the ledger
    watch_recent_bytes_ = 0;
    watch_recent_first_ = cached_end = length > kWatchPage ? length - kWatchPage + 1 : 1;
  }
  if (cached_end <= length) {
    // Bounded in bytes as well as in decrees: large decrees of escaped text encode to several
    // times their size, and 10,000 of them would be gigabytes.
    auto fresh = archive_->read(cached_end, length - cached_end + 1, kWatchRecentBytes);
    if (!fresh) return R::failure(fresh.error());
    for (const auto& e : *fresh) {
      watch_recent_.push_back(entry_to_json(e).dump());
      watch_recent_bytes_ += watch_recent_.back().size();
    }
    while (watch_recent_.size() > 1 &&
           (watch_recent_.size() > kWatchRecent || watch_recent_bytes_ > kWatchRecentBytes)) {
      watch_recent_bytes_ -= watch_recent_.front().size();
      watch_recent_.pop_front();
      ++watch_recent_first_;
    }
  }
  std::pair<std::string, uint64_t> out{"", 0};
  auto add = [&](const std::string& d) {
    if (out.second > 0 && out.first.size() + d.size() > max_bytes) return false;
    if (out.second > 0) out.first += ',';
    out.first += d;
    return ++out.second < kWatchPage;
  };
  // From the cache unless `from` is before it, or past what a read cut short at its bytes
  // brought in (then from the ledger, as for a watcher far behind).
  if (from >= watch_recent_first_ &&
      (from > length || from - watch_recent_first_ < watch_recent_.size())) {
    for (uint64_t n = from; n <= length && n - watch_recent_first_ < watch_recent_.size(); ++n)
      if (!add(watch_recent_[n - watch_recent_first_])) break;
    return out;
  }
  // A watcher far behind: a ledger page, within the page budget (an empty page, sent to no
  // one, while it has none left: the watcher is served in a later turn).
  if (!page_budget_.room(Clock::now())) return std::pair<std::string, uint64_t>{"", 0};
  const auto began = Clock::now();
  auto entries = archive_->read(from, kWatchPage, max_bytes);
  if (!entries) return R::failure(entries.error());
  for (const auto& e : *entries)
    if (!add(entry_to_json(e).dump())) break;
  page_budget_.spend(Clock::now() - began);
  return out;
}

void Host::push_watches() {
  if (watchers_.empty()) {
    watch_recent_.clear();
    watch_recent_bytes_ = 0;
    return;
  }
  const auto now = Clock::now();
  const uint64_t length = archive_->ledger_length();
  std::string head;  // the frame's text up to its decrees
  auto head_text = [&]() -> const std::string& {
    if (head.empty()) {
      head = watch_frame_head().dump();
      head.back() = ',';  // (the object's closing brace)
      head += "\"decrees\":[";
    }
    return head;
  };
  std::string failed;  // reading the ledger failed: the priest halts, after the loop
  std::map<uint64_t, std::pair<std::string, uint64_t>> frames;  // from -> frame, decrees in it
  auto frame_from = [&](uint64_t from) -> const std::pair<std::string, uint64_t>* {
    if (auto it = frames.find(from); it != frames.end()) return &it->second;
    auto page = watch_page(from, length);
    if (!page) {
      failed = "reading the ledger for a watch: " + page.error();
      return nullptr;
    }
    if (page->second == 0 && from <= length) return nullptr;  // (deferred: the page budget)
    std::string out;
    append_frame(out, head_text() + page->first + "]}");
    return &(frames[from] = {std::move(out), page->second});
  };
  std::erase_if(watchers_, [&](Watcher& w) {
    auto c = w.conn.lock();
    if (!c || c->closed() || c->finishing()) return true;
    if (c->identity)
      if (auto why = revoked(*c->identity); !why.empty()) {
        bad_input(c, "revoked", why, Code::Revoked);
        return true;
      }
    if (!halted_.empty()) {
      bad_input(c, "halted", "priest " + std::to_string(run_.id) + " stopped: " + halted_,
                Code::Halted);
      return true;
    }
    if (c->held_bytes() > 0) return false;  // the last push is still being written
    if (w.next <= length || now - w.last_sent >= kWatchQuiet) {
      auto* f = frame_from(std::min(w.next, length + 1));
      if (!f) return false;
      if (!c->send(f->first)) return true;
      w.next += f->second;
      w.last_sent = now;
    }
    return false;
  });
  if (!failed.empty()) halt(failed);  // (which tells every watcher, and closes it)
}

}  // namespace parliament::host_detail
