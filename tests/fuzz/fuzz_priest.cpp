// libFuzzer target: Priest::step behind an authenticated session.
//
// Priest 1 of a three-priest parliament (1, 2, 3, each with its incarnation) starts where a
// running priest might be: decrees 1..3 in its ledger, a vote at 4, and a promise to ballot
// 5.2 (priest 2 presides). The input is what its peers say, as a sequence of records:
//   [ctl][twist][4-byte big-endian length][payload]   (a frame as on the wire, after two
//   control bytes)
// Each payload goes through decode_frame, as the host does with a peer's frame. The host
// (server/peer_frames.cpp) steps a message only if its "from" is the peer the connection
// authenticated (its hello) and its "to" is this priest, with the incarnation of that hello;
// here the control byte names the peer and the message is addressed accordingly:
//   ctl bits 0-1  0: priest 2   1: priest 3   2: priest 2 speaking as another incarnation
//                 (a blank disk: a new priest under an old id)   3: priest 4, outside the
//                 membership (the transport refuses its hello; the core must drop it too)
//   ctl bits 2-5  ticks after the step (0..15)
//   ctl bit 6     the disk syncs slowly: votes.csv's sync completes only at the next record,
//                 so messages that wait for it (proto/clerk.hpp) are held until then
//   ctl bit 7     a client of priest 1 proposes a decree first
//   twist         0: the message as decoded; else one of its numbers set to an edge value
//                 (2^64-1, 2^63, far beyond the ledger, ...: see apply_twist), as the peer
//                 could have written it: the message is encoded and decoded again
// A payload that does not decode is not stepped (the host closes that connection); the
// ticks still happen. Everything the priest decides is carried out by the real Clerk over
// an in-memory disk and network, as paxos-priest does with files and TCP.
//
// After every record, whatever the peers said (abort() with a message on a violation, which
// libFuzzer reports with the input):
//   - the ledger grows only at its end, one number after another, and holds what the priest
//     says it passed (nothing already passed is rewritten: the disk is append-only, and an
//     append at any other number is a violation);
//   - the promise never decreases; every promise written is above the previous one; a vote
//     is never in a ballot above the promise, nor at a number the ledger already holds;
//   - what leaves asserting something about the disk was durable first: a next ballot or a
//     last vote only once its ballot is promised durably, a vote no once the promise it
//     names is, a vote yes once its votes are (a vote for numbers x..y claims every number
//     in between);
//   - a candidate or president speaks in a ballot of its own that it promised (B1): round
//     above 0 (a round that wrapped past 2^64-1 is 0) and equal to its promise.
// FUZZ_VERBOSE=1 prints every input message, what the priest says and sends (replaying a
// crash: FUZZ_VERBOSE=1 build-fuzz/fuzz_priest CRASH_FILE).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "proto/clerk.hpp"
#include "proto/message.hpp"
#include "proto/priest.hpp"

using namespace parliament;

namespace {

constexpr PriestId kMe = 1;
constexpr uint64_t kIncarnation[] = {0, 0x1a1a1a1a1a1a1a1aull, 0x2b2b2b2b2b2b2b2bull,
                                     0x3c3c3c3c3c3c3c3cull, 0x4d4d4d4d4d4d4d4dull};
constexpr uint64_t kNewIncarnation2 = 0x2e2e2e2e2e2e2e2eull;

bool verbose() {
  static bool v = std::getenv("FUZZ_VERBOSE") != nullptr;
  return v;
}

size_t g_record = 0;  // which record is being carried out (for the failure message)

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_priest: invariant broken (record %zu): %s\n", g_record, what.c_str());
  std::abort();
}

std::string b2s(const Ballot& b) { return to_string(b); }

// votes.csv and ledger.csv in memory. A sync completes at once, or (slow) when the harness
// says so; what it covers becomes durable then.
struct MemDisk : Disk {
  // durable
  Ballot promise;
  std::map<uint64_t, Entry> votes;
  std::vector<Entry> ledger;  // decree n at ledger[n-1]
  // written, not yet durable
  std::optional<Ballot> written_promise;
  std::vector<std::optional<Ballot>> pending_promises;
  std::vector<std::vector<Entry>> pending_votes;
  size_t syncing = 0;
  bool slow = false;
  bool sync_outstanding = false;

  Ballot latest_promise() const { return written_promise ? *written_promise : promise; }

  Status write_promise(const Ballot& b) override {
    if (!(b > latest_promise()))
      fail("promise written " + b2s(b) + " is not above the promise before it " + b2s(latest_promise()));
    written_promise = b;
    pending_promises.push_back(b);
    pending_votes.emplace_back();
    return ok_status();
  }
  Status write_votes(const std::vector<Entry>& v) override {
    for (const auto& e : v) {
      if (e.ballot > latest_promise())
        fail("vote at " + std::to_string(e.decree_no) + " in ballot " + b2s(e.ballot) +
             " above the promise " + b2s(latest_promise()));
      if (e.decree_no <= ledger.size())
        fail("vote recorded at " + std::to_string(e.decree_no) + ", which the ledger already holds (" +
             std::to_string(ledger.size()) + " decrees)");
    }
    pending_promises.emplace_back();
    pending_votes.push_back(v);
    return ok_status();
  }
  std::optional<Status> sync_votes() override {
    syncing = pending_votes.size();
    if (slow) {
      sync_outstanding = true;
      return std::nullopt;
    }
    complete();
    return ok_status();
  }
  void complete() {
    for (size_t i = 0; i < syncing; ++i) {
      if (pending_promises[i]) promise = std::max(promise, *pending_promises[i]);
      for (auto& e : pending_votes[i]) votes[e.decree_no] = e;
    }
    pending_promises.erase(pending_promises.begin(), pending_promises.begin() + syncing);
    pending_votes.erase(pending_votes.begin(), pending_votes.begin() + syncing);
    syncing = 0;
    sync_outstanding = false;
  }
  Status append_ledger(const std::vector<Entry>& passed) override {
    for (const auto& e : passed) {
      if (e.decree_no != ledger.size() + 1)
        fail("ledger append of decree " + std::to_string(e.decree_no) + " after " +
             std::to_string(ledger.size()) + " decrees (not contiguous)");
      ledger.push_back(e);
    }
    return ok_status();
  }
  Result<std::vector<Entry>> read_ledger(uint64_t from_no, uint64_t upto_no) override {
    std::vector<Entry> out;
    for (uint64_t n = from_no; n <= upto_no && n <= ledger.size() && out.size() < 4096; ++n)
      out.push_back(ledger[n - 1]);
    return out;
  }
};

// The network as far as priest 1 is concerned: what it sends is checked and dropped (its
// peers' answers are the fuzzer's to write).
struct Wire : Messenger {
  MemDisk* disk = nullptr;
  size_t sent = 0;

  bool send(const Message& m) override {
    ++sent;
    if (verbose()) std::fprintf(stderr, "  1 -> %u: %s\n", m.to, encode_text(m).c_str());
    if (m.from != kMe) fail("a message leaves with from " + std::to_string(m.from));
    const Ballot& durable = disk->promise;
    switch (m.kind) {
      case Kind::NextBallot:
        if (m.ballot.priest != kMe || m.ballot.round == 0)
          fail("next ballot in ballot " + b2s(m.ballot) + ", not a ballot of priest 1 above round 0");
        [[fallthrough]];
      case Kind::LastVote:
        if (durable < m.ballot)
          fail(std::string(name_of(m.kind)) + " in ballot " + b2s(m.ballot) +
               " leaves before that promise is durable (durable: " + b2s(durable) + ")");
        break;
      case Kind::VoteNo:
        if (durable < m.promised)
          fail("vote no naming promise " + b2s(m.promised) + " leaves before it is durable (durable: " +
               b2s(durable) + ")");
        break;
      case Kind::Voted: {
        if (m.last_no < m.decree_no) break;  // an acknowledgement, no vote
        // Every number from decree_no to last_no not in the ledger must hold a durable vote
        // in this ballot or a later one.
        uint64_t lo = std::max<uint64_t>(m.decree_no, disk->ledger.size() + 1);
        if (lo > m.last_no) break;
        uint64_t held = 0;
        for (auto it = disk->votes.lower_bound(lo); it != disk->votes.end() && it->first <= m.last_no; ++it)
          if (it->second.ballot >= m.ballot) ++held;
        if (held != m.last_no - lo + 1)
          fail("vote yes in ballot " + b2s(m.ballot) + " for decrees " + std::to_string(m.decree_no) + ".." +
               std::to_string(m.last_no) + " but only " + std::to_string(held) + " of the " +
               (m.last_no - lo + 1 > 1000000 ? std::string("(more than a million)")
                                              : std::to_string(m.last_no - lo + 1)) +
               " numbers above the ledger hold a durable vote in that ballot");
        break;
      }
      case Kind::BeginBallot:
      case Kind::Success:
      case Kind::Failed:
      case Kind::PreBallot:
        if (m.ballot.priest != kMe) fail(std::string(name_of(m.kind)) + " in another priest's ballot " + b2s(m.ballot));
        break;
      default: break;
    }
    return true;
  }
  void reply(const ClientReply& r) override {
    if (verbose())
      std::fprintf(stderr, "  reply token %llu: decree %llu %s\n", (unsigned long long)r.token,
                   (unsigned long long)r.decree_no, r.error.c_str());
  }
  void note(const std::string& line) override {
    if (verbose()) std::fprintf(stderr, "  note: %s\n", line.c_str());
  }
};

Decree client_decree(uint64_t client, uint64_t request, std::string text, Ballot origin) {
  Decree d;
  d.client = client;
  d.request = request;
  d.text = std::move(text);
  d.origin = origin;
  return d;
}

// The twist byte: one number of a decoded message set to an edge value, which a peer could
// equally have written in its frame (any unsigned 64-bit number parses). Without it the
// fuzzer would have to type twenty exact digits to reach 2^64-1.
//   low nibble, the field: 0 none, 1 ballot round, 2 promised round, 3 decree_no, 4 last_no,
//     5 commit_no, 6 passed_len, 7 token, 8 last entry's decree_no, 9 first entry's
//     decree_no, 10 last entry's ballot round, 11 last entry's origin round, 12 ballot priest
//   high nibble, the value: 2^64-1, 2^64-2, 2^63, 2^62, 2^32, 2^32-1, 0, 1, v+1, v-1,
//     v+2^20, v+2^40, ledger+1, ledger+4096, ledger+2^24, 2v (v: the field's value;
//     ledger: priest 1's ledger length)
int twist_field(uint8_t tw) {
  int f = tw & 15;
  return f <= 12 ? f : 0;
}

void apply_twist(Message& m, uint8_t tw, uint64_t ledger) {
  uint64_t* slot = nullptr;
  uint64_t priest = 0;
  switch (twist_field(tw)) {
    case 1: slot = &m.ballot.round; break;
    case 2: slot = &m.promised.round; break;
    case 3: slot = &m.decree_no; break;
    case 4: slot = &m.last_no; break;
    case 5: slot = &m.commit_no; break;
    case 6: slot = &m.passed_len; break;
    case 7: slot = &m.token; break;
    case 8: if (!m.entries.empty()) slot = &m.entries.back().decree_no; break;
    case 9: if (!m.entries.empty()) slot = &m.entries.front().decree_no; break;
    case 10: if (!m.entries.empty()) slot = &m.entries.back().ballot.round; break;
    case 11: if (!m.entries.empty()) slot = &m.entries.back().decree.origin.round; break;
    case 12: priest = m.ballot.priest; slot = &priest; break;
    default: return;
  }
  if (!slot) return;
  uint64_t v = *slot;
  switch (tw >> 4) {
    case 0: v = UINT64_MAX; break;
    case 1: v = UINT64_MAX - 1; break;
    case 2: v = uint64_t{1} << 63; break;
    case 3: v = uint64_t{1} << 62; break;
    case 4: v = uint64_t{1} << 32; break;
    case 5: v = UINT32_MAX; break;
    case 6: v = 0; break;
    case 7: v = 1; break;
    case 8: v += 1; break;
    case 9: v -= 1; break;
    case 10: v += uint64_t{1} << 20; break;
    case 11: v += uint64_t{1} << 40; break;
    case 12: v = ledger + 1; break;
    case 13: v = ledger + 4096; break;
    case 14: v = ledger + (uint64_t{1} << 24); break;
    case 15: v *= 2; break;
  }
  *slot = v;
  if (slot == &priest) m.ballot.priest = static_cast<PriestId>(priest);
}

// The host steps the message. A core that refuses hostile input says why (step returns a
// sentence); an older one returns nothing. (A template, so that only one branch is compiled.)
template <class P>
void step_into(P& priest, const Message& m) {
  if constexpr (std::is_void_v<decltype(priest.step(m))>) {
    priest.step(m);
  } else {
    std::string why(priest.step(m));
    if (verbose() && !why.empty()) std::fprintf(stderr, "  refused: %s\n", why.c_str());
  }
}

struct World {
  MemDisk disk;
  Wire wire;
  std::optional<Priest> priest;
  std::optional<Clerk> clerk;
  Ballot last_promise;
  size_t ledger_len = 0;
  uint64_t proposals = 0;

  World() {
    Membership members;
    for (PriestId id = 1; id <= 3; ++id)
      members.priests.push_back(PriestAddress{id, "127.0.0.1", static_cast<uint16_t>(7100 + id), "127.0.0.1",
                                              kIncarnation[id]});
    PriestOptions o;
    o.id = kMe;
    o.incarnation = kIncarnation[kMe];
    o.membership = members;
    o.heartbeat_ticks = 2;
    o.election_timeout_ticks = 6;
    o.seed = 1;
    // The ledger: a client decree, an olive-day decree, the client's next request.
    disk.ledger.push_back(Entry{1, {1, 1}, client_decree(9, 1, "The olive oil ration is doubled", {1, 1})});
    disk.ledger.push_back(Entry{2, {3, 3}, Decree::olive({3, 3})});
    disk.ledger.push_back(Entry{3, {5, 2}, client_decree(9, 2, "Cheese is taxed", {5, 2})});
    Restored r;
    r.next_bal = {5, 2};
    r.ledger_len = 3;
    r.votes[4] = Entry{4, {5, 2}, client_decree(10, 1, "The wine is watered", {5, 2})};
    r.clients[9] = ClientRecord{2, 3};
    disk.promise = r.next_bal;
    disk.votes = r.votes;
    priest.emplace(o, r);
    wire.disk = &disk;
    clerk.emplace(*priest, disk, wire, [](const std::string& why) { fail("the clerk halted: " + why); });
    last_promise = priest->next_bal();
    ledger_len = disk.ledger.size();
    clerk->flush();
    check();
  }

  void check() {
    const Priest& p = *priest;
    if (p.next_bal() < last_promise)
      fail("the promise went down from " + b2s(last_promise) + " to " + b2s(p.next_bal()));
    last_promise = p.next_bal();
    if (disk.ledger.size() < ledger_len) fail("the ledger shrank");
    ledger_len = disk.ledger.size();
    if (p.passed_len() != disk.ledger.size())
      fail("the priest says decrees 1.." + std::to_string(p.passed_len()) + " passed; its ledger holds " +
           std::to_string(disk.ledger.size()));
    PriestStatus s = p.status();
    if (s.role != Role::Follower) {
      if (s.ballot.priest != kMe || s.ballot.round == 0)
        fail(std::string(name_of(s.role)) + " in ballot " + b2s(s.ballot) +
             ", not a ballot of priest 1 above round 0");
      if (s.ballot != s.next_bal)
        fail(std::string(name_of(s.role)) + " in ballot " + b2s(s.ballot) + " while its promise is " +
             b2s(s.next_bal) + " (it speaks in a ballot it has not promised, or did not step down)");
    }
  }

  void step(const Message& m) { step_into(*priest, m); }

  void flush() {
    clerk->flush();
    check();
  }

  void record(uint8_t ctl, uint8_t tw, std::string_view payload) {
    if (disk.sync_outstanding) {  // the slow sync of the previous record completes now
      disk.complete();
      clerk->votes_synced(ok_status());
      check();
    }
    disk.slow = ctl & 0x40;
    if (ctl & 0x80) {
      ++proposals;
      Proposal pr;
      pr.token = 1000 + proposals;
      pr.decree = client_decree(20, proposals, "proposal " + std::to_string(proposals), {});
      priest->propose(std::move(pr));
      flush();
    }
    auto decoded = decode_frame(payload);
    if (decoded && twist_field(tw)) {
      // As if the peer had written the edge value in its frame: re-encoded and decoded again.
      std::string before = verbose() ? encode_text(*decoded) : "";
      apply_twist(*decoded, tw, priest->passed_len());
      std::string text = encode_text(*decoded);
      decoded = decode_text(text);
      if (!decoded) fail("encode_text wrote what decode_text refuses (" + decoded.error() + "): " + text);
      if (verbose()) std::fprintf(stderr, "record %zu: twist %02x turns %s\n", g_record, tw, before.c_str());
    }
    if (decoded) {
      Message& m = *decoded;
      static const PriestId from[] = {2, 3, 2, 4};
      static const uint64_t incarnation[] = {kIncarnation[2], kIncarnation[3], kNewIncarnation2,
                                             kIncarnation[4]};
      m.from = from[ctl & 3];
      m.to = kMe;
      m.incarnation = incarnation[ctl & 3];
      if (verbose())
        std::fprintf(stderr, "record %zu: %u (incarnation %s) -> 1: %s\n", g_record, m.from,
                     incarnation_text(m.incarnation).c_str(), encode_text(m).c_str());
      step(m);
      flush();
    } else if (verbose()) {
      std::fprintf(stderr, "record %zu: not stepped (%s)\n", g_record, decoded.error().c_str());
    }
    for (int t = (ctl >> 2) & 15; t > 0; --t) {
      priest->tick();
      flush();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_record = 0;
  World w;
  size_t pos = 0;
  while (pos < size) {
    uint8_t ctl = data[pos++];
    uint8_t tw = pos < size ? data[pos++] : 0;
    size_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | (pos < size ? data[pos++] : 0);
    n = std::min(n, size - pos);
    ++g_record;
    w.record(ctl, tw, std::string_view(reinterpret_cast<const char*>(data) + pos, n));
    pos += n;
  }
  // Then time passes with nobody speaking: elections, heartbeats, catch-up reminders.
  ++g_record;
  w.record(0x3c, 0, {});
  w.record(0x3c, 0, {});
  // Votes are kept only above the ledger (checked once: copying them after every step would
  // cost more than the step when a president holds a million decrees open).
  for (const auto& v : w.priest->votes())
    if (v.decree_no <= w.priest->passed_len())
      fail("a vote kept at " + std::to_string(v.decree_no) + ", inside the ledger");
  if (verbose()) {
    auto s = w.priest->status();
    std::fprintf(stderr, "end: %s, ballot %s, promise %s, ledger %llu\n", name_of(s.role), b2s(s.ballot).c_str(),
                 b2s(s.next_bal).c_str(), (unsigned long long)s.passed_len);
  }
  return 0;
}
