// ReadIndex: the reads' rules (proto/read_index.hpp).
#include "proto/read_index.hpp"

#include <algorithm>

namespace parliament {

void ReadIndex::begin(Waiter w, uint64_t upto, uint64_t era) {
  reads_.push_back(Pending{w, round_ + 1, upto, era});
  unsent_ = true;
}

uint64_t ReadIndex::to_send() {
  if (!unsent_) return 0;
  unsent_ = false;
  return ++round_;
}

void ReadIndex::acked(PriestId from, uint64_t round) {
  auto& a = acked_[from];
  a = std::max(a, round);
}

std::vector<ReadIndex::Pending> ReadIndex::confirmed(const std::vector<PriestId>& voters,
                                                     size_t quorum, PriestId self,
                                                     uint64_t passed_len, uint64_t era) {
  std::vector<Pending> out;
  while (!reads_.empty()) {
    const Pending& r = reads_.front();
    if (r.era != era) break;
    size_t acks = 0;
    for (PriestId p : voters) {
      auto it = acked_.find(p);
      acks += p == self || (it != acked_.end() && it->second >= r.round);
    }
    if (acks < quorum || passed_len < r.upto) break;
    out.push_back(r);
    reads_.pop_front();
  }
  return out;
}

std::vector<ReadIndex::Pending> ReadIndex::abandon() {
  std::vector<Pending> out(reads_.begin(), reads_.end());
  reads_.clear();
  acked_.clear();
  unsent_ = false;
  return out;
}

std::vector<ReadIndex::Pending> ReadIndex::ready(uint64_t passed_len) {
  std::vector<Pending> out;
  std::erase_if(waits_, [&](const Pending& r) {
    if (r.upto > passed_len) return false;
    out.push_back(r);
    return true;
  });
  return out;
}

std::vector<ReadIndex::Pending> ReadIndex::overdue(uint64_t now, uint64_t patience) {
  std::vector<Pending> out;
  std::erase_if(waits_, [&](const Pending& r) {
    if (now - r.since < patience) return false;
    out.push_back(r);
    return true;
  });
  return out;
}

void ReadIndex::fingerprint(const std::function<void(uint64_t)>& put, uint64_t now,
                            uint64_t patience) const {
  put(round_);
  put(unsent_);
  put(reads_.size());
  for (auto& r : reads_)
    put(r.waiter.origin), put(r.waiter.token), put(r.round), put(r.upto), put(r.era);
  put(acked_.size());
  for (auto& [p, a] : acked_) put(p), put(a);
  put(tokens_.size());
  for (uint64_t t : tokens_) put(t);
  put(waits_.size());
  for (auto& r : waits_)
    put(r.waiter.token), put(r.upto), put(std::min(now - std::min(r.since, now), patience));
}

}  // namespace parliament
