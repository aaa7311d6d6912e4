// paxos-bench's watchers (client/bench_watch.hpp).
#include "client/bench_watch.hpp"

#include <charconv>

namespace parliament::bench {

struct Watchers::One {
  One(asio::io_context& io, const WatchTarget& t, asio::ssl::context* tls, uint64_t from,
      WatchFigures& figures)
      : next(from), figures(figures),
        link(io, t.endpoint, tls, t.expect,
             Link::Calls{[this] { begin(); }, [this](std::string_view p) { on_frame(p); },
                         [this](const std::string& why) { failed(why); }}) {}

  void begin() {
    link.send(R"({"type":"watch","from":)" + std::to_string(next) + "}");
  }
  // The decree numbers of a pushed frame, scanned rather than parsed: a watch page can hold
  // a thousand decrees, and a hundred watchers parsing every one would load the machine the
  // parliament runs on more than the parliament does.
  void on_frame(std::string_view p) {
    static constexpr std::string_view kKey = R"("decree_no":)";
    const auto now = Clock::now();
    for (size_t at = p.find(kKey); at != std::string_view::npos; at = p.find(kKey, at)) {
      at += kKey.size();
      uint64_t no = 0;
      auto [end, ec] = std::from_chars(p.data() + at, p.data() + p.size(), no);
      if (ec != std::errc()) break;
      if (no != next) ++figures.gaps;
      next = no + 1;
      ++figures.decrees;
      if (no % kSample == 0) figures.seen.emplace_back(no, now);
    }
  }
  void failed(const std::string& why) {
    ++figures.errors;
    figures.last_error = why;
  }

  uint64_t next;
  WatchFigures& figures;
  Link link;
};

Watchers::Watchers(std::vector<WatchTarget> targets, int count, uint64_t from,
                   asio::ssl::context* tls) {
  for (int i = 0; i < count; ++i)
    watchers_.push_back(
        std::make_unique<One>(io_, targets[i % targets.size()], tls, from, figures_));
}

Watchers::~Watchers() {
  if (thread_.joinable()) stop();
}

void Watchers::start() {
  for (auto& w : watchers_) w->link.start();
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

WatchFigures Watchers::stop() {
  io_.stop();
  thread_.join();
  return std::move(figures_);
}

}  // namespace parliament::bench
