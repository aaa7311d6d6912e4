// Metrics: what a priest has done, in Prometheus' text format (served at /metrics by
// server/http.hpp; names and units as Prometheus' conventions say: paxos_..._total for
// counters, _seconds for durations).
//
// Counters are plain integers owned by the host's I/O thread, which also renders the text
// (the HTTP thread asks it to: it never reads them itself). A Histogram may be observed from
// any thread (the archive's syncer thread times each fdatasync of votes.csv).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proto/priest.hpp"

namespace parliament {

// Durations in fixed buckets (seconds); observe() from any thread, render() from any other.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  void observe(double seconds);
  // The _bucket, _sum and _count lines of family `name` (its HELP/TYPE written by the caller).
  void render(std::string& out, const std::string& name) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};  // the last: above every bound
  std::atomic<uint64_t> sum_ns_{0};
};

inline constexpr size_t kEventKinds =
    static_cast<size_t>(Event::Kind::Lost) + 1;  // Lost is the last

// Counts kept by the host (I/O thread only).
struct Counters {
  std::array<uint64_t, kEventKinds> events{};  // each kind of the priest's events, by Event::Kind
  uint64_t decrees_passed = 0;             // decrees added to this priest's ledger
  uint64_t catch_up_sent = 0, catch_up_received = 0;  // catch-up messages, and their decrees
  uint64_t catch_up_decrees_sent = 0, catch_up_decrees_received = 0;
  uint64_t proposals_passed = 0, proposals_refused = 0,
           proposals_unknown = 0;           // client proposals answered
  uint64_t reads_ok = 0, reads_failed = 0;  // linearizable reads answered
  uint64_t bytes_in = 0, bytes_out = 0;       // on every connection, after TLS
  uint64_t strangers_refused = 0;  // priest links refused: not a member of the membership in force
  void count(const Event& e);
};

// The state of the moment (read by the host just before rendering).
struct Gauges {
  PriestStatus status;
  bool bootstrapped = false;
  bool halted = false;
  uint64_t ledger_length = 0;
  uint64_t votes_file_bytes = 0;
  std::map<std::string, size_t> connections;  // by kind
  size_t waiting_clients = 0;
};

// Every family: the build, the counters and gauges, the histograms, and the process_* families
// read from /proc.
std::string render_metrics(PriestId id, const Counters& c, const Gauges& g,
                           const Histogram& votes_sync, const Histogram& proposal_time);

}  // namespace parliament
