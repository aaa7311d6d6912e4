// Admission: the connection caps' decisions (server/admission.hpp).
#include "server/admission.hpp"

#include <algorithm>

namespace parliament {

namespace {

size_t count(const Admission::Snapshot& open, ConnKind kind) {
  return std::count_if(open.begin(), open.end(), [&](auto& o) { return o.kind == kind; });
}

}  // namespace

std::optional<Admission::Id> Admission::room_for_pending(const Snapshot& open) const {
  if (count(open, ConnKind::Unknown) < caps_.pending) return std::nullopt;
  // The oldest pending connection goes: an honest one would have spoken.
  const Open* oldest = nullptr;
  for (const auto& o : open)
    if (o.kind == ConnKind::Unknown && (!oldest || o.opened < oldest->opened)) oldest = &o;
  return oldest->id;
}

Admission::Handshake Admission::room_for_handshake(Id me, const Snapshot& open,
                                                   Clock::time_point now) const {
  size_t n = 0;
  const Open* oldest = nullptr;
  for (const auto& o : open)
    if (o.id != me && o.handshake_began) {
      ++n;
      if (!oldest || *o.handshake_began < *oldest->handshake_began) oldest = &o;
    }
  if (n < caps_.handshakes) return {};
  if (now - *oldest->handshake_began < caps_.handshake_grace) return {false};
  return {true, oldest->id};
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
