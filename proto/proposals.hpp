// Proposals: the president's waiting room. Client proposals queued for a ballot (bounded by
// count and by bytes, so that a client pipelining large decrees cannot grow the president
// without end), the clients waiting on each request (a retry of a request already waiting or
// begun joins it: the parliament never gets a second copy from this president), and the
// number each begun request was begun at.
//
// Owned by the Priest, which numbers what it takes (begin_ballots) and answers the waiters
// handed back here. Pure.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "proto/message.hpp"
#include "proto/waiter.hpp"

namespace parliament {

class Proposals {
 public:
  using Key = std::pair<uint64_t, uint64_t>;  // (client, request)
  struct Queued {
    Decree decree;
    Waiter waiter;
  };
  // Clients that may wait on one request at once: retries join it, but a client resending
  // it in a loop while it waits (a stall, a change under way) must not grow the president.
  static constexpr size_t kMaxJoined = 16;
  enum class Admitted {
    Joined,   // the request was waiting or begun already: this client waits on it too
    Queued,   // a new request, queued for a ballot
    Full,     // no room (max_queued, or max_queued_bytes): refused
    Crowded,  // kMaxJoined already wait on this request: refused
  };
  struct Abandoned {
    Waiter waiter;
    bool begun = false;  // its decree was begun: it may still pass
  };

  Admitted admit(Decree d, Waiter w, size_t max_queued, size_t max_queued_bytes);
  size_t queued() const { return queue_.size(); }
  size_t queued_bytes() const { return queued_bytes_; }
  size_t waiting() const { return waiting_.size(); }

  // The oldest queued decree, out of the queue; the president numbers it (began).
  Decree take();
  // The request `key` was begun at decree n.
  void began(const Key& key, uint64_t n) { begun_[key] = n; }
  // A new ballot: what the old one began is its own business now.
  void forget_begun() { begun_.clear(); }
  // Request `key` passed (or was answered for good): the clients waiting on it.
  std::vector<Waiter> passed(const Key& key);
  // The ballot ends: every waiting client, and whether its request was begun; all cleared.
  std::vector<Abandoned> abandon();
  // The queued requests, never begun, are dropped: their waiting clients.
  std::vector<Waiter> drop_queued();

  // For the explorer's state hash (Priest::fingerprint).
  const std::deque<Queued>& queue() const { return queue_; }
  const std::map<Key, std::vector<Waiter>>& waiters() const { return waiting_; }
  const std::map<Key, uint64_t>& begun() const { return begun_; }

 private:
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;  // the decree text in queue_
  std::map<Key, std::vector<Waiter>> waiting_;
  std::map<Key, uint64_t> begun_;  // (client, request) -> decree number in flight
};

}  // namespace parliament
