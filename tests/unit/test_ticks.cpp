// The priest's clock on a real machine (server/host.hpp, next_tick): ticks keep wall time
// under load, and a stall drops ticks instead of running them in a burst.
#include <catch2/catch.hpp>

#include "server/host.hpp"

using namespace parliament;
using parliament::host_detail::Clock;
using parliament::host_detail::next_tick;
using namespace std::chrono_literals;

TEST_CASE("ticks: each is due a tick after the one before, whenever its handler ran", "[ticks]") {
  const Clock::time_point t0{1000ms};
  // A handler that ran 3 ms late does not push the next tick back.
  CHECK(next_tick(t0, t0 + 3ms, 10ms) == t0 + 10ms);
  // One that ran more than a tick late: the next is due at once (it is already past).
  CHECK(next_tick(t0, t0 + 15ms, 10ms) == t0 + 10ms);
  // After a stall of more than two ticks, a tick from now: the missed ones are dropped.
  CHECK(next_tick(t0, t0 + 500ms, 10ms) == t0 + 510ms);
  // The first tick (a timer never armed: its expiry is the clock's epoch).
  CHECK(next_tick(Clock::time_point{}, t0, 10ms) == t0 + 10ms);
}
