// paxos-bench's watchers (--watchers N): N connections spread over the priests, each sending
// one watch frame and then only reading what the priest pushes, on a thread of their own so
// that they do not slow the load they watch. Each checks that its decrees come gap-free and
// in order, and notes when it received every decree whose number is a multiple of kSample;
// the load notes when each of those passed (its proposer's reply), and the difference is the
// watch's latency.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio.hpp>

#include "client/bench_link.hpp"

namespace parliament::bench {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kSample = 8;

struct WatchTarget {
  asio::ip::tcp::endpoint endpoint;
  PriestId expect = 0;
};

// What the watchers saw, read once they stopped.
struct WatchFigures {
  std::vector<std::pair<uint64_t, Clock::time_point>> seen;  // sampled decrees, when received
  uint64_t decrees = 0;  // received, all watchers together
  uint64_t gaps = 0;     // a decree that did not follow the one before (none is allowed)
  uint64_t errors = 0;   // connections that failed
  std::string last_error;
};

class Watchers {
 public:
  // `from`: the first decree each watches (the next to pass).
  Watchers(std::vector<WatchTarget> targets, int count, uint64_t from, asio::ssl::context* tls);
  ~Watchers();
  void start();
  // Stops them and returns what they saw.
  WatchFigures stop();

 private:
  struct One;
  asio::io_context io_{1};
  std::vector<std::unique_ptr<One>> watchers_;
  WatchFigures figures_;
  std::thread thread_;
};

}  // namespace parliament::bench
