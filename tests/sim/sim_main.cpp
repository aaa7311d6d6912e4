// paxos-sim: runs the deterministic simulation for as many seeds as asked, or replays one.
//   paxos-sim --seeds 10000 [--first 1]      many seeds; stops at the first failure
//   paxos-sim --seed 42 --verbose            replay one seed, printing every fault and role change
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "tests/sim/simulation.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Deterministic simulation of a five-priest parliament under faults"};
  uint64_t first = 1, seeds = 500, seed = 0;
  parliament::sim::SimOptions o;
  app.add_option("--first", first, "first seed");
  app.add_option("--seeds", seeds, "how many seeds");
  app.add_option("--seed", seed, "run just this seed (replay)");
  bool keep_going = false;
  app.add_flag("--verbose", o.verbose, "print faults and role changes");
  app.add_flag("--keep-going", keep_going, "run every seed, printing each failure");
  app.add_option("--fault-ticks", o.fault_ticks, "ticks with faults on");
  app.add_option("--clients", o.clients, "clients");
  app.add_option("--requests", o.requests_per_client, "requests per client");
  bool no_changes = false;
  app.add_flag("--no-changes", no_changes, "the god changes no membership");
  bool lenient_links = false, fixed_shapes = false;
  app.add_flag("--lenient-links", lenient_links, "a priest may also answer a priest that links to it (not as paxos-priest)");
  app.add_flag("--eager-rejoin", o.eager_rejoin, "on every seed: priests whose disks were lost all come back at once");
  app.add_flag("--hasty-god", o.hasty_god, "on every seed: disks are lost while a voter lags behind the last change");
  app.add_flag("--fixed-shapes", fixed_shapes, "do not draw the two disk-loss shapes per seed");
  CLI11_PARSE(app, argc, argv);
  o.changes = !no_changes;
  o.strict_links = !lenient_links;
  o.draw_shapes = !fixed_shapes;
  if (seed) {
    first = seed;
    seeds = 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  uint64_t decrees = 0, messages = 0, crashes = 0, elections = 0, changes = 0, losses = 0, failed = 0;
  for (uint64_t s = first; s < first + seeds; ++s) {
    auto r = parliament::sim::run_seed(s, o);
    decrees += r.decrees;
    messages += r.messages;
    crashes += r.crashes;
    elections += r.elections;
    changes += r.changes;
    losses += r.disk_losses;
    if (!r.ok) {
      ++failed;
      std::printf("seed %llu FAILED (%s): %s\nreplay: build/bin/paxos-sim --seed %llu --verbose\n",
                  (unsigned long long)s, r.faults.c_str(), r.failure.c_str(), (unsigned long long)s);
      if (!keep_going) {
        std::printf("%llu passed, 1 failed\n", (unsigned long long)(s - first));
        return 1;
      }
    }
  }
  if (failed) {
    std::printf("%llu passed, %llu failed\n", (unsigned long long)(seeds - failed), (unsigned long long)failed);
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%llu seeds passed in %.1f s: %llu decrees, %llu messages, %llu crashes, %llu elections, "
              "%llu changes, %llu disks lost\n",
              (unsigned long long)seeds, secs, (unsigned long long)decrees,
              (unsigned long long)messages, (unsigned long long)crashes, (unsigned long long)elections,
              (unsigned long long)changes, (unsigned long long)losses);
  return 0;
}
