// Internal to the Priest's source files (proto/priest*.cpp) and its parts' (proto/tallies.cpp
// halts with invariant_failed): helpers and the bounds that Priest::refusal applies. Nobody
// outside proto/ includes it.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "proto/ballot.hpp"

namespace parliament::priest_detail {

// A broken invariant is a bug: say so and stop, never carry on with a wrong ledger.
[[noreturn]] inline void invariant_failed(const char* what) {
  std::cerr << "parliament: invariant broken: " << what << "\n";
  std::abort();
}

// What no priest of this parliament would say, whatever it was told (docs/SAFETY.md, "What a
// peer may say"). Rounds: an honest candidate stands one round above the highest it has
// seen, so a round more than kRoundWindow above this priest's horizon is refused, and none
// reaches kMaxRound (stand_for_president adds 1 to it). Decree numbers: nothing honest lies
// more than kDecreeWindow above this priest's ledger, and nothing reaches 2^64. Votes: a
// priest votes only within kVoteWindow of its own ledger (on_begin_ballot), so a last vote
// reporting one further above its sender's ledger, or a catch-up reaching further above the
// receiver's, is a lie; a new president never has more than kVoteWindow numbers to fill.
constexpr uint64_t kRoundWindow = uint64_t{1} << 24;
constexpr uint64_t kMaxRound = uint64_t{1} << 62;
constexpr uint64_t kDecreeWindow = uint64_t{1} << 40;

}  // namespace parliament::priest_detail
