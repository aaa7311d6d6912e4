// Admission: the connection caps' decisions (server/admission.hpp).
#include "server/admission.hpp"

#include <algorithm>
#include <unordered_map>

namespace parliament {

namespace {

size_t count(const Admission::Snapshot& open, ConnKind kind) {
  return std::count_if(open.begin(), open.end(), [&](auto& o) { return o.kind == kind; });
}

// Of the connections `in` a place (pending, or in a handshake), the oldest of the address
// holding the most of them, and how many that address holds; began(o) says when o took it.
template <class In, class Began>
std::pair<const Admission::Open*, size_t> oldest_of_largest(const Admission::Snapshot& open, In in,
                                                            Began began) {
  std::unordered_map<uint64_t, size_t> held;
  size_t most = 0;
  for (const auto& o : open)
    if (in(o)) most = std::max(most, ++held[o.address]);
  const Admission::Open* oldest = nullptr;
  for (const auto& o : open)
    if (in(o) && held[o.address] == most && (!oldest || began(o) < began(*oldest))) oldest = &o;
  return {oldest, most};
}

}  // namespace

std::optional<Admission::Id> Admission::room_for_pending(const Snapshot& open) const {
  if (count(open, ConnKind::Unknown) < caps_.pending) return std::nullopt;
  // The oldest pending connection of the address holding the most goes: an honest one would
  // have spoken.
  auto pending = [](const Open& o) { return o.kind == ConnKind::Unknown; };
  return oldest_of_largest(open, pending, [](const Open& o) { return o.opened; }).first->id;
}

Admission::Handshake Admission::room_for_handshake(Id me, const Snapshot& open,
                                                   Clock::time_point now) const {
  auto others = [me](const Open& o) { return o.id != me && o.handshake_began.has_value(); };
  auto began = [](const Open& o) { return *o.handshake_began; };
  if (size_t(std::count_if(open.begin(), open.end(), others)) < caps_.handshakes) return {};
  auto [largest, most] = oldest_of_largest(open, others, began);
  auto mine = std::find_if(open.begin(), open.end(), [me](const Open& o) { return o.id == me; });
  size_t from_mine = 0;  // (with the newcomer itself)
  for (const auto& o : open)
    if (mine != open.end() && o.address == mine->address && (o.id == me || others(o))) ++from_mine;
  // Another address holds more than the newcomer's would: its oldest goes. Otherwise the
  // oldest of the address holding the most goes once past its grace, else the newcomer does.
  if (from_mine < most || now - began(*largest) >= caps_.handshake_grace)
    return {true, largest->id};
  return {false};
}

bool Admission::may_become(ConnKind kind, const Snapshot& open) const {
  size_t cap = kind == ConnKind::Client ? caps_.clients
               : kind == ConnKind::PeerIn ? caps_.peers
                                          : SIZE_MAX;
  return count(open, kind) < cap;
}

Admission::ReplyRoom Admission::room_for_reply(Id me, size_t held, size_t bytes,
                                               const Snapshot& open) const {
  ReplyRoom out;
  if (held > 0 && held + bytes > caps_.replies_per_client) {
    out.admit = false;
    out.per_client = true;
    out.close.push_back(me);
    return out;
  }
  // Over the budget of all clients: the ones holding the most unread replies go first.
  std::vector<const Open*> clients;
  for (const auto& o : open)
    if (o.kind == ConnKind::Client && o.held_bytes > 0) clients.push_back(&o);
  std::sort(clients.begin(), clients.end(),
            [](auto* a, auto* b) { return a->held_bytes > b->held_bytes; });
  int64_t total = reply_bytes_;
  for (const Open* worst : clients) {
    if (total + int64_t(bytes) <= int64_t(caps_.replies_bytes)) break;
    out.close.push_back(worst->id);
    total -= int64_t(worst->held_bytes);
    if (worst->id == me) {
      out.admit = false;
      break;
    }
  }
  return out;
}

bool Admission::admit_unfinished(Id id, size_t bytes) {
  size_t& counted = counted_[id];
  unfinished_ = unfinished_ - counted + bytes;
  counted = bytes;
  return unfinished_ <= caps_.unfinished_bytes;
}

void Admission::forget_unfinished(Id id) {
  auto it = counted_.find(id);
  if (it == counted_.end()) return;
  unfinished_ -= it->second;
  counted_.erase(it);
}

}  // namespace parliament
