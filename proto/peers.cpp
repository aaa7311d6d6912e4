// Peers: reachability, ledger lengths and paced catch-up (proto/peers.hpp).
#include "proto/peers.hpp"

#include <algorithm>

namespace parliament {

uint64_t Peers::len(PriestId p) const {
  auto it = len_.find(p);
  return it == len_.end() ? 0 : it->second;
}

std::vector<PriestId> Peers::reachable(const std::vector<PriestId>& ids, PriestId self,
                                       uint64_t now, uint64_t timeout) const {
  std::vector<PriestId> out;
  for (PriestId p : ids)
    if (p == self || heard_within(p, now, timeout)) out.push_back(p);
  return out;
}

std::optional<Peers::Chunk> Peers::catch_up(PriestId peer, uint64_t passed_len, uint64_t now,
                                            uint64_t heartbeat_ticks, uint64_t chunk) {
  uint64_t plen = len(peer);
  if (plen >= passed_len) return std::nullopt;
  auto& s = sent_[peer];
  if (plen != s.seen_len) {
    s.seen_len = plen;
    s.seen_tick = now;
  }
  if (now - s.seen_tick < 2) return std::nullopt;
  if (plen < s.from && now - s.tick < 2 * heartbeat_ticks) return std::nullopt;
  s.from = plen + 1;
  s.tick = now;
  return Chunk{plen + 1, std::min(passed_len, plen + chunk)};
}

}  // namespace parliament
