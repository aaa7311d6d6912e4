// HeldDecrees: decrees a priest holds above its ledger, one per decree number (its votes, or
// what a begin ballot told it without asking), with the bytes of their text. Pure; owned by
// the Priest, which bounds what it holds by those bytes (PriestOptions::max_held_bytes,
// Priest::may_hold). It keeps memory only: what is durable (a vote) is written by the Clerk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "proto/message.hpp"

namespace parliament {

class HeldDecrees {
 public:
  using Map = std::map<uint64_t, Entry>;

  // Holds e at its number, in place of whatever was held there.
  void put(Entry e) {
    auto [it, added] = held_.try_emplace(e.decree_no);
    if (!added) bytes_ -= it->second.decree.text.size();
    bytes_ += e.decree.text.size();
    it->second = std::move(e);
  }
  void erase(uint64_t n) {
    if (auto it = held_.find(n); it != held_.end()) {
      bytes_ -= it->second.decree.text.size();
      held_.erase(it);
    }
  }
  void clear() {
    held_.clear();
    bytes_ = 0;
  }

  size_t bytes() const { return bytes_; }  // decree text held, in all
  bool empty() const { return held_.empty(); }
  Map::const_iterator find(uint64_t n) const { return held_.find(n); }
  Map::const_iterator lower_bound(uint64_t n) const { return held_.lower_bound(n); }
  Map::const_iterator begin() const { return held_.begin(); }
  Map::const_iterator end() const { return held_.end(); }

 private:
  Map held_;
  size_t bytes_ = 0;
};

}  // namespace parliament
