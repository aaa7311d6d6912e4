// LogLimit: one line per key per interval, the count of what was held back, bounded keys.
#include <catch2/catch.hpp>

#include "server/log_limit.hpp"

using parliament::LogLimit;
using namespace std::chrono_literals;

TEST_CASE("a repeated warning is logged once per interval, then says how many were held", "[log]") {
  LogLimit limit(10s, 4);
  auto t0 = LogLimit::Clock::time_point{} + 1h;
  REQUIRE(limit.admit("hello-not-member:3", t0) == std::string());
  for (int i = 1; i <= 37; ++i) CHECK_FALSE(limit.admit("hello-not-member:3", t0 + i * 100ms));
  CHECK(limit.admit("hello-not-member:4", t0 + 1s) == std::string());  // another key is its own
  auto again = limit.admit("hello-not-member:3", t0 + 10s);
  REQUIRE(again);
  CHECK(*again == " (37 more like this in the last 10 s)");
  CHECK(limit.admit("hello-not-member:3", t0 + 20s) == std::string());  // nothing held since
}

TEST_CASE("a flood of distinct keys keeps at most max_keys", "[log]") {
  LogLimit limit(10s, 4);
  auto t0 = LogLimit::Clock::time_point{} + 1h;
  for (int i = 0; i < 100; ++i) CHECK(limit.admit("bad-frame:10.0.0." + std::to_string(i), t0 + i * 1ms));
  CHECK(limit.size() == 4);
  // the most recent keys are the ones remembered
  CHECK_FALSE(limit.admit("bad-frame:10.0.0.99", t0 + 200ms));
}
