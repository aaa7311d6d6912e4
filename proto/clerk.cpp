// The clerk: see clerk.hpp for the order it keeps and why.
#include "proto/clerk.hpp"

namespace parliament {

bool waits_for_disk(Kind k) {
  return k == Kind::NextBallot || k == Kind::LastVote || k == Kind::Voted || k == Kind::VoteNo;
}

Clerk::Clerk(Priest& priest, Disk& disk, Messenger& messenger,
             std::function<void(const std::string&)> on_halt)
    : priest_(priest), disk_(disk), messenger_(messenger), on_halt_(std::move(on_halt)) {}

Clerk::Clerk(const Clerk& other, Priest& priest, Disk& disk, Messenger& messenger,
             std::function<void(const std::string&)> on_halt)
    : priest_(priest), disk_(disk), messenger_(messenger), on_halt_(std::move(on_halt)),
      written_(other.written_), synced_(other.synced_), syncing_(other.syncing_),
      gated_(other.gated_), halted_(other.halted_) {}

std::string Clerk::fingerprint() const {
  std::string o =
      std::to_string(written_ - synced_) + "," + std::to_string(syncing_ ? syncing_ - synced_ : 0);
  for (auto& g : gated_) o += "|" + std::to_string(g.generation - synced_) + ":" + encode_text(g.m);
  return o;
}

void Clerk::flush() {
  if (halted() || flushing_) return;  // a flush under way drains whatever was added
  flushing_ = true;
  for (int round = 0; round < 100000 && !halted(); ++round) {
    Ready r = priest_.take_ready();
    if (!r.empty()) {
      carry_out(r);
      continue;
    }
    // Quiet: begin one sync for every write made so far, unless one is under way (then
    // the writes since it began wait for the next).
    if (written_ == synced_ || syncing_) break;
    syncing_ = written_;
    auto done = disk_.sync_votes();
    if (!done) break;  // the host calls votes_synced() later
    uint64_t gen = syncing_;
    syncing_ = 0;
    if (!*done) {
      halt(done->error());
      break;
    }
    synced_ = gen;
    release();
  }
  flushing_ = false;
}

void Clerk::votes_synced(const Status& s) {
  if (halted() || !syncing_) return;
  uint64_t gen = syncing_;
  syncing_ = 0;
  if (!s) return halt(s.error());
  synced_ = gen;
  release();
  flush();
}

void Clerk::carry_out(Ready& r) {
  for (auto& n : r.notes) messenger_.note(n);
  if (!r.events.empty()) messenger_.events(r.events);
  if (r.peers) messenger_.peers(*r.peers);  // links first: this Ready's messages use them
  // 1. The promise and votes are written; messages that rely on them wait for the sync.
  if (r.promise || !r.votes.empty()) {
    Status s = ok_status();
    if (r.promise) s = disk_.write_promise(*r.promise);
    if (s && !r.votes.empty()) s = disk_.write_votes(r.votes);
    if (!s) return halt(s.error());
    ++written_;
  }
  // 2. Messages: those that assert nothing about this disk leave now; the rest wait.
  for (auto& m : r.messages) {
    dispatch(m);
    if (halted()) return;
  }
  if (!r.messages.empty()) messenger_.write_out();
  // 3. The ledger.
  if (!r.passed.empty())
    if (auto s = disk_.append_ledger(r.passed); !s) return halt(s.error());
  if (r.membership) messenger_.membership(*r.membership);  // after the ledger that sets it
  // 4. Clients and catch-up.
  for (auto& rep : r.replies) messenger_.reply(rep);
  for (auto& c : r.catch_up) {
    catch_up(c);
    if (halted()) return;
  }
  if (!r.catch_up.empty()) messenger_.write_out();
}

// FIFO: a message waits if it relies on a write not yet synced; since generations only
// grow, the queue stays in generation order and waiting messages leave in the order made.
void Clerk::dispatch(Message& m) {
  if (waits_for_disk(m.kind) && written_ > synced_) {
    gated_.push_back(Gated{written_, std::move(m)});
    return;
  }
  deliver(m);
}

void Clerk::deliver(const Message& m) {
  if (m.to == priest_.id()) {
    priest_.step(m);
    return;
  }
  if (!messenger_.send(m) && (m.kind == Kind::Forward || m.kind == Kind::Read)) {
    // Do not leave the client waiting for an answer that cannot come.
    messenger_.reply(ClientReply{m.token, 0, Code::NoPresident,
                                 "priest " + std::to_string(priest_.id()) +
                                     " cannot reach president " + std::to_string(m.to) +
                                     " right now; retry"});
  }
}

void Clerk::release() {
  bool sent = false;
  while (!gated_.empty() && gated_.front().generation <= synced_ && !halted()) {
    Message m = std::move(gated_.front().m);
    gated_.pop_front();
    deliver(m);
    sent = true;
  }
  if (sent && !halted()) messenger_.write_out();
}

void Clerk::catch_up(const CatchUp& c) {
  auto entries = disk_.read_ledger(c.from_no, c.upto_no);
  if (!entries) return halt(entries.error());
  if (entries->empty()) return;
  Message m;
  m.kind = Kind::CatchUp;
  m.from = priest_.id();
  m.incarnation = priest_.incarnation();
  m.to = c.to;
  m.passed_len = priest_.passed_len();
  m.entries = std::move(*entries);
  for (auto& e : m.entries) e.decree.origin = e.ballot;
  m.spare = true;  // the priest sends another if the peer's ledger stops growing
  messenger_.send(m);
}

void Clerk::halt(const std::string& why) {
  if (halted()) return;
  halted_ = why;
  gated_.clear();
  if (on_halt_) on_halt_(why);
}

}  // namespace parliament
