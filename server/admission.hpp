// Admission: the caps on a priest's connections, decided without sockets. The Host asks it
// at every accept, handshake, first frame, unfinished frame and reply, with a snapshot of its
// open connections, and does what it says (tests/unit/test_admission.cpp checks each cap).
//
// Connections by kind, each with its own cap, so that no kind can take another's place
// (docs/PROTOCOL.md "Limits"). An accepted connection that has not yet said its first frame
// is pending: beyond `pending` the oldest of them is closed (an honest one speaks at once, so
// a flood of new connections cannot starve it). At most `handshakes` are in the middle of a
// TLS handshake: beyond that, the oldest goes if it has been at it for `handshake_grace` (an
// honest one finishes in a few round trips), otherwise the newcomer does, so that a burst of
// honest connections is not cut down by its own later members while each handshake waits its
// turn for the CPU. At either cap, one address cannot crowd out the others: the connection
// closed is always the oldest of the address holding the most places, at once when the
// newcomer's address holds fewer (a flood from one host, stalling its handshakes, leaves
// other hosts' clients and priests their way in, and never closes theirs). Frames clients have
// begun but not finished hold at most `unfinished_bytes` in all. Replies waiting for a client hold
// at most `replies_per_client` on one connection and `replies_bytes` on all: over either, the
// client holding the most unread replies is closed first.
//
// Used by the Host's thread only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace parliament {

enum class ConnKind { Unknown, Client, PeerIn, PeerOut };

struct AdmissionCaps {
  size_t pending = 1024;
  size_t handshakes = 256;
  std::chrono::steady_clock::duration handshake_grace = std::chrono::seconds(1);
  size_t clients = 512;
  size_t peers = 64;  // incoming priest links
  size_t unfinished_bytes = 16 << 20;
  size_t replies_bytes = 32 << 20;
  size_t replies_per_client = 8 << 20;  // the Host sets two frames' worth (max_frame_bytes)
};

class Admission {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = uintptr_t;  // a connection, as the Host names it

  // One open connection, as the caps see it.
  struct Open {
    Id id = 0;
    ConnKind kind = ConnKind::Unknown;
    Clock::time_point opened{};
    std::optional<Clock::time_point> handshake_began{};  // while its handshake is under way
    size_t held_bytes = 0;                               // replies waiting to be read
    uint64_t address = 0;  // where it comes from (a hash of the remote address)
  };
  using Snapshot = std::vector<Open>;

  explicit Admission(AdmissionCaps caps = {}) : caps_(caps) {}
  const AdmissionCaps& caps() const { return caps_; }

  // A connection was accepted while `open` are: the pending one to close first, if any.
  std::optional<Id> room_for_pending(const Snapshot& open) const;

  // `me` is about to begin its TLS handshake: admitted (having closed `close`, if set), or
  // refused (then `me` is to be closed).
  struct Handshake {
    bool admit = true;
    std::optional<Id> close{};
  };
  Handshake room_for_handshake(Id me, const Snapshot& open, Clock::time_point now) const;

  // A pending connection would become `kind` (Client, or PeerIn by its hello): room for it?
  bool may_become(ConnKind kind, const Snapshot& open) const;

  // `me` holds `held` bytes of unread replies and is to be sent `bytes` more: whether it may
  // be, and the clients to close first (the most unread first; `me` may be among them, then
  // it may not). `per_client` true: refused for its own backlog alone.
  struct ReplyRoom {
    bool admit = true;
    bool per_client = false;
    std::vector<Id> close{};
  };
  ReplyRoom room_for_reply(Id me, size_t held, size_t bytes, const Snapshot& open) const;
  // The common case, without a snapshot: `bytes` more fit with nobody closed.
  bool reply_fits(size_t held, size_t bytes) const {
    return (held == 0 || held + bytes <= caps_.replies_per_client) &&
           reply_bytes_ + int64_t(bytes) <= int64_t(caps_.replies_bytes);
  }
  // Replies held by clients, as they change (queued: +n, written or closed: -n).
  void replies_changed(int64_t delta) { reply_bytes_ += delta; }
  int64_t reply_bytes() const { return reply_bytes_; }

  // A client's unfinished frame now holds `bytes`: false if that takes all clients' unfinished
  // frames over the budget (close it at once: its bytes must go now).
  bool admit_unfinished(Id id, size_t bytes);
  // Its unfinished bytes no longer count (closed, or it became a peer).
  void forget_unfinished(Id id);
  size_t unfinished_bytes() const { return unfinished_; }

 private:
  AdmissionCaps caps_;
  int64_t reply_bytes_ = 0;
  size_t unfinished_ = 0;
  std::unordered_map<Id, size_t> counted_;  // each client's part of unfinished_
};

// PageBudget: the share of the host's one I/O thread that building ledger pages may take
// (a `ledger`, `ledger_hash` or read's answer, HTTP /ledger). A page of escaped decrees costs
// tens of milliseconds of that thread, and a client pipelining such requests would otherwise
// keep it from the priest's own messages past an election timeout. A bucket of time: `burst`
// at most, refilled at `share` of the time that passes; a page is built while any is left
// (it may overdraw by one page) and its time charged after. Used by the Host's thread only.
class PageBudget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PageBudget(Clock::duration burst = std::chrono::milliseconds(100), int share_pct = 50)
      : burst_(burst), share_pct_(share_pct), left_(burst) {}
  // Refills for the time since it was last asked, then whether a page may be built now.
  bool room(Clock::time_point now) {
    if (asked_ != Clock::time_point{})
      left_ = std::min(burst_, left_ + (now - asked_) * share_pct_ / 100);
    asked_ = now;
    return left_ > Clock::duration::zero();
  }
  void spend(Clock::duration took) { left_ -= took; }

 private:
  Clock::duration burst_;
  int share_pct_;
  Clock::duration left_;
  Clock::time_point asked_{};
};

}  // namespace parliament
