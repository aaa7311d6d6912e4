// Proposals: the president's waiting room (proto/proposals.hpp).
#include "proto/proposals.hpp"


namespace parliament {

Proposals::Admitted Proposals::admit(Decree d, Waiter w, size_t max_queued,
                                     size_t max_queued_bytes) {
  Key key{d.client, d.request};
  auto& waiters = waiting_[key];
  bool known = !waiters.empty() || begun_.count(key);
  if (known && waiters.size() >= kMaxJoined) return Admitted::Crowded;
  if (!known && (queue_.size() >= max_queued ||
                 (!queue_.empty() && queued_bytes_ + d.text.size() > max_queued_bytes))) {
    waiting_.erase(key);
    return Admitted::Full;
  }
  waiters.push_back(w);
  if (known) return Admitted::Joined;
  queued_bytes_ += d.text.size();
  queue_.push_back(Queued{std::move(d), w});
  return Admitted::Queued;
}

Decree Proposals::take() {
  Queued q = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= q.decree.text.size();
  return std::move(q.decree);
}

std::vector<Waiter> Proposals::passed(const Key& key) {
  std::vector<Waiter> out;
  if (auto w = waiting_.find(key); w != waiting_.end()) {
    out = std::move(w->second);
    waiting_.erase(w);
  }
  begun_.erase(key);
  return out;
}

std::vector<Proposals::Abandoned> Proposals::abandon() {
  std::vector<Abandoned> out;
  for (auto& [key, waiters] : waiting_)
    for (auto& w : waiters) out.push_back(Abandoned{w, begun_.count(key) > 0});
  waiting_.clear();
  queue_.clear();
  queued_bytes_ = 0;
  begun_.clear();
  return out;
}

std::vector<Waiter> Proposals::drop_queued() {
  std::vector<Waiter> out;
  for (auto& q : queue_) {
    auto w = waiting_.find({q.decree.client, q.decree.request});
    if (w == waiting_.end()) continue;
    out.insert(out.end(), w->second.begin(), w->second.end());
    waiting_.erase(w);
  }
  queue_.clear();
  queued_bytes_ = 0;
  return out;
}

}  // namespace parliament
