// Ballot numbers (condition B1) and quorums (condition B2).
//
// A ballot is (round, priest): two priests never share one because the priest id is part of
// it, and a priest never reuses a round because it promises its own ballot durably before
// sending NextBallot, and after a restart starts from a round above its durable promise.
// Pure value types: anyone may use them.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parliament {

using PriestId = uint32_t;

struct Ballot {
  uint64_t round = 0;
  PriestId priest = 0;

  auto operator<=>(const Ballot&) const = default;
  bool is_zero() const { return round == 0 && priest == 0; }
};

// "12.3" = round 12 of priest 3; "0.0" is the ballot no priest has voted in.
std::string to_string(const Ballot& b);
std::optional<Ballot> parse_ballot(std::string_view text);

// B2: any two quorums share a priest. Majority of the membership.
inline size_t quorum_size(size_t members) { return members / 2 + 1; }

}  // namespace parliament
