#include "tests/sim/simulation.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "proto/clerk.hpp"
#include "proto/message.hpp"
#include "proto/node.hpp"
#include "proto/priest.hpp"
#include "tests/sim/invariants.hpp"
#include "tests/sim/volatile_disk.hpp"

namespace parliament::sim {

// Liveness gaps this simulator found in the first membership core (safety held, the
// parliament stalled), now closed in proto/priest*.cpp; the options reproduce the shapes:
//
//  1. strict_links (a host sends only to the priests its priest names, as paxos-priest does):
//     a priest that missed the membership decree adding priest P, then follows P as
//     president, keeps no link to P; its acknowledgements never reach P and nobody sent it
//     the decrees it lacked (seeds 476, 839, 861, 1046, 1524 of the first 2000). Closed: a
//     follower behind its president reminds another priest of its membership how far it has
//     got, which sends it the rest (Priest::tick).
//  2. A priest whose membership names an older incarnation of a peer dropped everything
//     that peer said, catch-up included; when every priest that could teach it was such a
//     peer, it never learned. eager_rejoin (lost priests all come back at once, joined to
//     the membership in force; seeds 246, 559, 585, 743 of the first 2000) and hasty_god
//     (disks lost while a voter lags behind two replacements; seeds 3555, 15162 of the
//     first 20000). First closed by hearing a priest of another incarnation that held
//     more of the ledger; that let a removed priest's certificate write a forged ledger, so
//     a priest now hears only the voters of its membership (Priest::admits). Closed again
//     for learners: before each add or replace the god joins a priest still learning an
//     older membership to the one in force (Priest::rejoin). A voter left behind two
//     replacements (hasty_god) is wiped and replaced by the operator (docs/SAFETY.md), so
//     even the hasty god keeps, for a voter behind one change, a priest it admits that holds
//     it (change_known; seed 2985 once lost both such teachers and stalled).
// By default links are strict and the two shapes are drawn per seed (draw_shapes).

namespace {

class World;

// One priest's disk (tests/sim/volatile_disk.hpp), whose ledger also keeps only what its
// lagging background sync covered when the priest crashes.
struct SimDisk : VolatileDisk {
  size_t ledger_synced = 0;
  // Messages its priest's clerk sent and has not written out yet (Messenger::write_out), and
  // whether the clerk went on to the ledger or a sync with some of them held: a host that
  // holds messages until write_out (server/conn.cpp) would have kept them behind that.
  size_t unwritten = 0;
  bool held_behind_disk = false;
  std::optional<Status> sync_votes() override {
    held_behind_disk |= unwritten > 0;
    return VolatileDisk::sync_votes();
  }
  Status append_ledger(const std::vector<Entry>& passed) override {
    held_behind_disk |= unwritten > 0;
    return VolatileDisk::append_ledger(passed);
  }
  void crash(std::mt19937_64& rng) {
    crash_keep(unsynced.empty() ? 0 : rng() % (unsynced.size() + 1));
    ledger.resize(ledger_synced);
  }
};

// A priest's host in the simulator: its network (NodeHost) and its membership.json
// (Records), which the world keeps.
struct SimHost : NodeHost, Records {
  World* world = nullptr;
  PriestId id = 0;
  bool send(const Message& m) override;
  void write_out() override;
  void reply(const ClientReply& r) override;
  void note(const std::string& line) override;
  void peers(const std::vector<PriestAddress>& p) override;
  void retire(const std::string& why) override;
  void halt(const std::string& why) override;
  Status sync_ledger() override;
  Status save_membership(const Membership& m, bool first) override;
};

// What runs under one priest id: nothing (never started, or stopped after its removal), a
// priest, or a crashed one waiting to restart. Its disk belongs to one incarnation.
struct Seat {
  enum class State { Absent, Up, Down } state = State::Absent;
  SimDisk disk;
  SimHost host;
  std::unique_ptr<parliament::Node> node;  // the priest, its clerk and the host's rules
  uint64_t incarnation = 0;  // this life of the priest: drawn when its disk was blank
  uint64_t life = 0;         // counts its starts: a sync begun before a crash completes nowhere
  // membership.json (SimHost::save_membership): the bootstrap's or the god's join, then what
  // the ledger set. Empty: a blank disk that the god has not joined yet.
  Membership joined;
  // A membership.json written this tick, not yet on disk: a crash in the same tick loses it
  // (the crash between the ledger's sync and membership.json that Node::restore mends).
  std::optional<Membership> joining;
  std::set<PriestId> peers;  // the links its priest asked for (Ready::peers)
  uint64_t down_until = 0;
  Role role = Role::Follower;
  Priest& priest() { return node->priest(); }
  // clock: ticks `rate_num` times every `rate_den` world ticks
  int rate_num = 1, rate_den = 1;
  uint64_t clock_acc = 0;
};

struct Event {
  uint64_t at;
  uint64_t seq;
  enum Type { Deliver, SyncDone } type;
  Message m;            // Deliver
  uint64_t epoch = 0;   // Deliver: the link's epoch when sent (a reset drops older ones)
  PriestId node = 0;    // SyncDone
  uint64_t life = 0;
  bool operator>(const Event& o) const { return std::tie(at, seq) > std::tie(o.at, o.seq); }
};

struct Client {
  uint64_t id;
  int target = 0;        // requests to pass
  bool probe = false;    // proposes only once the faults and the god's changes are over
  uint64_t request = 0;  // current request number
  int done = 0;
  bool waiting = false;
  uint64_t token = 0;
  uint64_t retry_at = 0;
  uint64_t give_up_at = 0;
};

// What a seed's faults look like (swarm testing): each part on or off, with its shape.
struct Profile {
  double loss = 0, dup = 0;
  uint64_t max_delay = 1;
  double partition_rate = 0;   // random partitions (symmetric, one-way, bridge) per tick
  double crash_rate = 0;
  double reset_rate = 0;       // connection resets per tick
  uint64_t max_sync_delay = 0; // fdatasync completes 0..this ticks later
  // a long partition of a minority that heals one link at a time
  bool slow_heal = false;
  uint64_t slow_heal_at = 0, slow_heal_hold = 0, slow_heal_step = 0;
  // a link that flaps
  bool flap = false;
  PriestId flap_a = 0, flap_b = 0;
  uint64_t flap_period = 0;
  // one kind of message lost on one link (or from one priest to all)
  bool kind_drop = false;
  Kind drop_kind = Kind::VoteNo;
  PriestId drop_from = 0, drop_to = 0;  // drop_to 0: to every priest
};

// The god's plan for a seed: membership changes, one at a time, each asked of some priest
// (as a client would) and asked again until it passes.
struct God {
  enum class Op { Add, Remove, Replace, LoseMinority };
  std::vector<Op> plan;
  size_t next = 0;          // the next op of the plan
  uint64_t next_at = 0;     // not before this tick
  std::deque<Change> changes;  // the op under way: its changes, the first being asked for
  bool waiting = false;
  uint64_t token = 0;
  uint64_t give_up_at = 0;
  uint64_t retry_at = 0;
  std::map<PriestId, uint64_t> stops;  // removed priests to stop, and when
  bool busy() const { return !changes.empty(); }
};

const char* op_name(God::Op op) {
  switch (op) {
    case God::Op::Add: return "add";
    case God::Op::Remove: return "remove";
    case God::Op::Replace: return "replace";
    case God::Op::LoseMinority: return "lose-minority";
  }
  return "?";
}

std::string short_inc(uint64_t inc) { return incarnation_text(inc).substr(12); }

// A priest whose disk was lost stays down until the god brings it back (Seat::down_until).
constexpr uint64_t kAwaitingGod = ~0ull;

class World {
 public:
  World(uint64_t seed, const SimOptions& o) : seed_(seed), o_(o), rng_(seed) {
    ids_ = o.priests + (o.changes ? o.spares : 0);
    if (o.quiet) {
      p_.max_delay = 1 + rng_() % 3;  // a network that only delays, a disk that only lags
      p_.max_sync_delay = 1 + rng_() % 3;
      o_.draw_shapes = false;
    } else {
      draw_profile();
    }
    // The shapes of disk loss that once stalled the parliament are drawn per seed.
    if (o_.draw_shapes) {
      o_.eager_rejoin = o_.eager_rejoin || chance(0.5);
      o_.hasty_god = o_.hasty_god || chance(0.5);
    }
    nodes_.resize(ids_ + 1);
    for (PriestId id = 1; id <= ids_; ++id) {
      Seat& n = nodes_[id];
      n.host.world = this;
      n.host.id = id;
      // clock speeds: most priests keep time; a drawn few run slow or fast
      if (clock_skew_ && chance(0.4)) {
        static const std::pair<int, int> rates[] = {{1, 2}, {1, 3}, {2, 3}, {3, 2}, {2, 1}};
        auto r = rates[rng_() % 5];
        n.rate_num = r.first;
        n.rate_den = r.second;
        describe_ << " clock" << id << "=" << r.first << "/" << r.second;
      }
    }
    Membership boot;
    for (PriestId id = 1; id <= PriestId(o.priests); ++id) {
      blank_disk(id);
      boot.priests.push_back(address(id));
    }
    inv_ = Invariants(boot);
    if (o.changes) draw_god();
    result_.faults = describe_.str();
    blocked_.assign(ids_ + 1, std::vector<bool>(ids_ + 1, false));
    epoch_.assign(ids_ + 1, std::vector<uint64_t>(ids_ + 1, 0));
    for (PriestId id = 1; id <= PriestId(o.priests); ++id) start(id, &boot);  // the god's bootstrap
    for (int c = 0; c < o.clients; ++c) clients_.push_back(Client{1000 + uint64_t(c), o.requests_per_client});
    // After the last change, with the faults off, the parliament must still pass decrees.
    clients_.push_back(Client{2000, 2, true});
  }

  SimResult run() {
    for (now_ = 1; now_ <= o_.fault_ticks && result_.ok; ++now_) {
      faults();
      step_tick();
    }
    heal_all();
    uint64_t end = now_ + o_.liveness_ticks;
    for (; now_ <= end && result_.ok; ++now_) {
      step_tick();
      if (converged()) break;
    }
    if (result_.ok && !converged()) fail("liveness: " + progress());
    if (result_.ok) check_final();
    if (auto* ref = reference()) result_.decrees = ref->size();
    return result_;
  }

  // One partition of a quiet parliament (SimOptions::quiet), see run_scenario.
  ScenarioResult scenario(Scenario shape) {
    ScenarioResult r;
    auto president = [&]() -> PriestId {
      for (PriestId id = 1; id <= ids_; ++id)
        if (up(id) && nodes_[id].priest().role() == Role::President) return id;
      return 0;
    };
    auto max_round = [&] {
      uint64_t m = 0;
      for (PriestId id = 1; id <= ids_; ++id) m = std::max(m, nodes_[id].priest().next_bal().round);
      return m;
    };
    auto run_for = [&](uint64_t ticks) {
      for (uint64_t end = now_ + ticks; now_ < end && result_.ok; ++now_) step_tick();
    };
    now_ = 1;
    run_for(1000);  // elect a president; the clients' decrees pass
    r.president_before = president();
    if (!r.president_before) {
      r.ok = false;
      r.failure = "no president before the partition";
      return r;
    }
    r.elections_before = result_.elections;
    uint64_t round0 = max_round(), len0 = inv_.known_len();
    PriestId p = r.president_before;
    std::vector<PriestId> others;
    for (PriestId id = 1; id <= ids_; ++id)
      if (id != p) others.push_back(id);
    std::vector<std::pair<uint64_t, PriestId>> stalls;  // when what p sends stops reaching whom
    switch (shape) {
      case Scenario::IsolatedFollower:
        for (PriestId id : others)
          if (id != others[0]) cut(others[0], id);
        cut(others[0], p);
        log("scenario: follower " + std::to_string(others[0]) + " isolated");
        break;
      case Scenario::IsolatedPresident:
        for (PriestId id : others) cut(p, id);
        log("scenario: president " + std::to_string(p) + " isolated");
        break;
      case Scenario::Bridge:
        // {p, others[1]} | others[0] | {others[2], others[3]}: others[0] hears both sides.
        for (PriestId a : {p, others[1]})
          for (PriestId b : {others[2], others[3]}) cut(a, b);
        log("scenario: bridge " + std::to_string(others[0]));
        break;
      case Scenario::PresidentHearsNoOne:
        for (PriestId id : others) {
          cut(id, p, false);
          stalls.emplace_back(now_ + rng_() % 31, id);
        }
        log("scenario: president " + std::to_string(p) + " hears no one");
        break;
    }
    // Clients keep proposing throughout.
    for (auto& c : clients_) c.target = c.done + 1000000;
    for (uint64_t cut_at = now_, end = now_ + 1000; now_ < end && result_.ok; ++now_) {
      for (auto [at, id] : stalls)
        if (at == now_) cut(p, id, false);
      for (PriestId id : others)
        if (!r.recovery_ticks && up(id) && nodes_[id].priest().role() == Role::President)
          r.recovery_ticks = now_ - cut_at;
      step_tick();
    }
    r.elections_during = result_.elections - r.elections_before;
    r.rounds_during = max_round() - round0;
    r.president_during = president();
    r.decrees_during = inv_.known_len() - len0;
    heal_network();
    uint64_t e1 = result_.elections, round1 = max_round(), len1 = inv_.known_len();
    run_for(1000);
    r.elections_after = result_.elections - e1;
    r.rounds_after = max_round() - round1;
    r.president_after = president();
    r.decrees_after = inv_.known_len() - len1;
    r.ok = result_.ok;
    r.failure = result_.failure;
    return r;
  }

  // ------------------------------------------------------------ called by disks and messengers

  bool send(const Message& sent) {
    Message m = sent;
    Seat& from = nodes_[m.from];
    // The receiver knows the sender by its connection (its hello's incarnation), whatever
    // the message says: the host sets Message::incarnation so (server/peer_frames.cpp).
    m.incarnation = from.incarnation;
    inv_.sent(m, from.disk.next_bal, from.disk.ledger.size());
    check();
    // The host keeps links only to the priests its priest names (Ready::peers): to any
    // other, nothing can be sent. Unless strict_links, the simulator lets a priest also
    // answer one that keeps a link to it (see "Known liveness gaps" below).
    if (!from.peers.count(m.to) && (o_.strict_links || !up(m.to) || !nodes_[m.to].peers.count(m.from)))
      return false;
    if (blocked_[m.from][m.to]) return false;
    if (p_.kind_drop && m.kind == p_.drop_kind && m.from == p_.drop_from &&
        (p_.drop_to == 0 || m.to == p_.drop_to) && now_ <= o_.fault_ticks)
      return true;  // queued, then lost
    if (chance(p_.loss)) return true;
    int copies = chance(p_.dup) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      Event e{now_ + 1 + rng_() % p_.max_delay, seq_++, Event::Deliver, m};
      e.epoch = epoch_[m.from][m.to];
      events_.push(std::move(e));
    }
    return true;
  }

  void reply(const ClientReply& rep) {
    if (auto r = reads_.find(rep.token); r != reads_.end()) {
      check_read(r->second, rep);
      reads_.erase(r);
      return;
    }
    if (god_tokens_.count(rep.token)) {
      if (god_.waiting && rep.token == god_.token) god_reply(rep);
      return;
    }
    auto t = tokens_.find(rep.token);
    if (t == tokens_.end()) return;
    Client& c = clients_[t->second.first];
    uint64_t request = t->second.second;
    tokens_.erase(t);
    if (!c.waiting || c.request != request || c.token != rep.token) return;  // stale answer
    c.waiting = false;
    log("client " + std::to_string(c.id) + " request " + std::to_string(request) + ": " +
        (rep.decree_no ? "passed as " + std::to_string(rep.decree_no) : rep.error));
    if (rep.decree_no == 0) {
      c.retry_at = now_ + 1 + rng_() % 10;
      return;
    }
    acked_[{c.id, c.request}] = rep.decree_no;
    max_acked_ = std::max(max_acked_, rep.decree_no);
    inv_.acknowledged(c.id, c.request, rep.decree_no);
    check();
    ++c.done;
    c.request = 0;
    c.retry_at = now_ + rng_() % 5;
  }

  Seat& seat(PriestId id) { return nodes_[id]; }
  void set_peers(PriestId id, const std::vector<PriestAddress>& peers) {
    auto& set = nodes_[id].peers;
    set.clear();
    for (auto& p : peers) set.insert(p.id);
  }

  // A retired priest (removed by decree) stops itself a while later, as paxos-priest does.
  Status sync_ledger(PriestId id) {
    nodes_[id].disk.ledger_synced = nodes_[id].disk.ledger.size();
    return ok_status();
  }
  // The bootstrap's and the god's join are durable before the god hears they were taken;
  // the rest reach the disk at the end of the tick (Seat::joining).
  Status save_membership(PriestId id, const Membership& m, bool first) {
    if (first) nodes_[id].joined = m;
    else nodes_[id].joining = m;
    return ok_status();
  }

  void retired(PriestId id, const std::string& why) {
    log("priest " + std::to_string(id) + " retires: " + why);
    if (!god_.stops.count(id)) god_.stops[id] = now_ + 10 + rng_() % 300;
  }

  void log(const std::string& s) {
    if (o_.verbose) std::printf("[%6llu] %s\n", (unsigned long long)now_, s.c_str());
  }

  void fail(const std::string& why) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = "tick " + std::to_string(now_) + ": " + why;
  }

  void schedule_sync(PriestId id, uint64_t delay) {
    Event e{now_ + delay, seq_++, Event::SyncDone, {}};
    e.node = id;
    e.life = nodes_[id].life;
    events_.push(std::move(e));
  }

  // Turns a broken invariant into this seed's failure.
  void check() {
    if (!inv_.ok()) fail(inv_.failure());
  }

 private:
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  // The priests running or down (not those never started or stopped).
  std::vector<PriestId> hosted() const {
    std::vector<PriestId> out;
    for (PriestId id = 1; id <= ids_; ++id)
      if (nodes_[id].state != Seat::State::Absent) out.push_back(id);
    return out;
  }
  PriestId any_priest() {
    auto h = hosted();
    return h[rng_() % h.size()];
  }
  bool up(PriestId id) const { return nodes_[id].state == Seat::State::Up; }
  // The membership in force after every decree some ledger holds: what the god reads from
  // the priests (a change is acknowledged only once its president's ledger holds it).
  const Membership& in_force() const { return inv_.era(inv_.known_len() + 1); }
  PriestAddress address(PriestId id) const {
    return PriestAddress{id, "sim", static_cast<uint16_t>(7000 + id), "sim", nodes_[id].incarnation};
  }

  void draw_profile() {
    auto& p = p_;
    int n = o_.priests;
    if (chance(0.7)) p.loss = uniform(0, 0.3);
    if (chance(0.5)) p.dup = uniform(0, 0.5);
    p.max_delay = 1 + rng_() % 8;
    if (chance(0.6)) p.partition_rate = uniform(0, 0.01);
    if (chance(0.7)) p.crash_rate = uniform(0, 0.006);
    if (chance(0.4)) p.reset_rate = uniform(0, 0.02);
    if (chance(0.7)) p.max_sync_delay = 1 + rng_() % 6;
    if (chance(0.35)) {
      p.slow_heal = true;
      p.slow_heal_at = 50 + rng_() % 800;
      p.slow_heal_hold = 100 + rng_() % 600;
      p.slow_heal_step = 5 + rng_() % 80;
    }
    if (chance(0.3)) {
      p.flap = true;
      p.flap_a = 1 + rng_() % n;
      do p.flap_b = 1 + rng_() % n; while (p.flap_b == p.flap_a);
      p.flap_period = 3 + rng_() % 60;
    }
    if (chance(0.4)) {
      p.kind_drop = true;
      static const Kind kinds[] = {Kind::VoteNo, Kind::VoteNo, Kind::Voted, Kind::LastVote,
                                   Kind::Success, Kind::Failed, Kind::BeginBallot, Kind::NextBallot,
                                   Kind::Answer, Kind::CatchUp, Kind::PreBallot, Kind::PreVote};
      p.drop_kind = kinds[rng_() % (sizeof kinds / sizeof kinds[0])];
      p.drop_from = 1 + rng_() % n;
      if (chance(0.5)) do p.drop_to = 1 + rng_() % n; while (p.drop_to == p.drop_from);
    }
    clock_skew_ = chance(0.4);
    describe_ << "loss=" << int(p.loss * 100) << "% dup=" << int(p.dup * 100) << "% delay<=" << p.max_delay
              << " partitions/tick=" << p.partition_rate << " crashes/tick=" << p.crash_rate
              << " resets/tick=" << p.reset_rate << " sync<=" << p.max_sync_delay;
    if (p.slow_heal)
      describe_ << " slow-heal@" << p.slow_heal_at << "+" << p.slow_heal_hold << "/" << p.slow_heal_step;
    if (p.flap) describe_ << " flap " << p.flap_a << "-" << p.flap_b << "/" << p.flap_period;
    if (p.kind_drop)
      describe_ << " lose " << name_of(p.drop_kind) << " " << p.drop_from << "->"
                << (p.drop_to ? std::to_string(p.drop_to) : "all");
  }

  void draw_god() {
    if (!chance(0.8)) return;
    int ops = 1 + rng_() % 4;
    for (int i = 0; i < ops; ++i) god_.plan.push_back(static_cast<God::Op>(rng_() % 4));
    god_.next_at = 20 + rng_() % 1000;
    describe_ << " god@" << god_.next_at << ":";
    for (auto op : god_.plan) describe_ << " " << op_name(op);
  }

  uint64_t draw_incarnation() {
    uint64_t v = 0;
    while (v == 0) v = rng_();
    return v;
  }

  // A new disk under `id`: blank, so a new incarnation of that priest, not yet joined.
  void blank_disk(PriestId id) {
    Seat& n = nodes_[id];
    n.disk = SimDisk{};
    n.disk.inv = &inv_;
    n.disk.id = id;
    n.incarnation = n.disk.incarnation = draw_incarnation();
    n.disk.on_sync = [this, id] {
      uint64_t delay = p_.max_sync_delay ? rng_() % (p_.max_sync_delay + 1) : 0;
      if (delay == 0) return true;
      schedule_sync(id, delay);
      return false;
    };
    n.joined = Membership{};
    n.joining.reset();
  }

  // Starts the priest whose disk is under `id`, with what that disk holds (Node::restore
  // reconciles membership.json with the ledger). A blank disk is then bootstrapped with
  // `boot`, or else joined by the god to the membership in force: it starts as a learner, a
  // voter nowhere until a decree names its incarnation.
  void start(PriestId id, const Membership* boot = nullptr) {
    Seat& n = nodes_[id];
    SimDisk& d = n.disk;
    inv_.restarted(id, n.incarnation, d.next_bal);
    check();
    Recovery files;
    files.promise(d.next_bal);
    for (auto& [num, v] : d.votes) files.vote(v);
    for (auto& e : d.ledger) files.passed(e);
    PriestOptions tuning;
    tuning.heartbeat_ticks = 5;
    tuning.election_timeout_ticks = 30;
    tuning.max_batch_decrees = 8;
    tuning.catch_up_chunk = 16;
    tuning.seed = seed_ * 31 + id + 1000 * starts_++;
    ++n.life;
    n.state = Seat::State::Up;
    n.role = Role::Follower;
    n.peers.clear();
    n.node = std::make_unique<parliament::Node>(id, n.incarnation, tuning, d, n.host, n.host);
    std::optional<Membership> recorded;
    if (!n.joined.priests.empty()) recorded = n.joined;
    std::string refused;
    if (auto s = n.node->restore(files.done(), recorded); !s) {
      refused = "refuses to start: " + s.error();
    } else if (n.node->recorded()) {
      n.node->begin();  // its first Ready names its peers
    } else if (boot) {
      if (auto b = n.node->bootstrap(*boot); !b) refused = "refuses the bootstrap: " + b.error();
    } else if (auto joined = n.node->join(in_force()); !joined) {
      refused = "refuses the god's join: " + joined.error();
    } else {
      log("the god joins priest " + std::to_string(id) + " (incarnation " + short_inc(n.incarnation) +
          ") to the membership of decree " + std::to_string(n.joined.decree_no) + " as a learner");
    }
    if (!refused.empty()) {
      n.node.reset();
      n.state = Seat::State::Down;
      n.down_until = kAwaitingGod;
      return fail("priest " + std::to_string(id) + " " + refused);
    }
    after_flush(id);
    check();
  }

  void crash(PriestId id) {
    Seat& n = nodes_[id];
    if (!up(id)) return;
    n.node.reset();
    n.state = Seat::State::Down;
    n.joining.reset();
    ++result_.crashes;
    n.disk.crash(rng_);
    log("priest " + std::to_string(id) + " crashes (ledger keeps " + std::to_string(n.disk.ledger.size()) +
        ", promise " + to_string(n.disk.next_bal) + ")");
    n.down_until = now_ + 20 + rng_() % 200;
  }

  // Connections to (and, sometimes, from) `id` die with its process: what they carried is
  // lost. (Bytes already in a receiver's socket buffer may still be read after the sender
  // died: hence only sometimes from it. They speak for the incarnation that sent them.)
  void reset_links(PriestId id, bool from_too) {
    for (PriestId o = 1; o <= ids_; ++o) {
      ++epoch_[o][id];
      if (from_too) ++epoch_[id][o];
    }
  }

  // The disk under `id` is lost: the priest stops, and comes back blank, a new incarnation,
  // when the god brings it back just before it asks to replace it (unless eager_rejoin: by
  // itself, soon).
  void lose_disk(PriestId id) {
    Seat& n = nodes_[id];
    n.node.reset();
    ++result_.disk_losses;
    blank_disk(id);
    n.state = Seat::State::Down;
    n.down_until = o_.eager_rejoin ? now_ + 5 + rng_() % 150 : kAwaitingGod;
    reset_links(id, chance(0.5));
    log("priest " + std::to_string(id) + " loses its disk; it will come back as incarnation " +
        short_inc(n.incarnation));
  }

  // A removed priest is stopped for good (its id may be added again later, with a new disk).
  void stop(PriestId id) {
    if (in_force().find(id)) return;  // added again meanwhile
    Seat& n = nodes_[id];
    if (n.state == Seat::State::Absent) return;
    n.node.reset();
    n.state = Seat::State::Absent;
    reset_links(id, true);
    log("priest " + std::to_string(id) + ", removed, is stopped");
  }

  void cut(PriestId a, PriestId b, bool both = true) {
    blocked_[a][b] = true;
    if (both) blocked_[b][a] = true;
  }
  void mend(PriestId a, PriestId b) { blocked_[a][b] = blocked_[b][a] = false; }

  void faults() {
    for (PriestId id = 1; id <= ids_; ++id) {
      Seat& n = nodes_[id];
      if (n.state == Seat::State::Down && now_ >= n.down_until) {
        log("priest " + std::to_string(id) + " restarts");
        start(id);
      } else if (up(id) && chance(p_.crash_rate)) {
        crash(id);
      }
    }
    auto all = hosted();
    auto in = [](const std::vector<PriestId>& v, PriestId id) { return std::find(v.begin(), v.end(), id) != v.end(); };
    // random partitions: symmetric, one way, or a bridge (one priest hears both sides)
    if (partition_until_ && now_ >= partition_until_) {
      heal_network();
    } else if (!partition_until_ && chance(p_.partition_rate)) {
      int shape = rng_() % 3;
      std::vector<PriestId> side;
      for (PriestId id : all)
        if (chance(0.4)) side.push_back(id);
      PriestId bridge = any_priest();
      for (PriestId a : side)
        for (PriestId b : all)
          if (!in(side, b)) {
            if (shape == 2 && (a == bridge || b == bridge)) continue;
            cut(a, b, shape != 1);
          }
      partition_until_ = now_ + 50 + rng_() % 400;
      log(std::string(shape == 1 ? "one-way " : shape == 2 ? "bridged " : "") + "partition of " +
          std::to_string(side.size()) + " priests");
    }
    // a minority of the membership cut off for long, then its links healed one at a time
    if (p_.slow_heal && now_ == p_.slow_heal_at) {
      auto members = in_force().ids();
      std::vector<PriestId> side;
      size_t k = 1 + rng_() % ((members.size() - 1) / 2);
      PriestId pres = 0;
      for (PriestId id : members)
        if (up(id) && nodes_[id].priest().role() == Role::President) pres = id;
      if (pres && chance(0.7)) side.push_back(pres);
      while (side.size() < k) {
        PriestId id = members[rng_() % members.size()];
        if (!in(side, id)) side.push_back(id);
      }
      for (PriestId a : side)
        for (PriestId b : all)
          if (!in(side, b)) {
            cut(a, b);
            slow_links_.push_back({a, b});
          }
      std::shuffle(slow_links_.begin(), slow_links_.end(), rng_);
      log("long partition of a minority of " + std::to_string(side.size()) + " priests");
    }
    if (p_.slow_heal && now_ > p_.slow_heal_at + p_.slow_heal_hold && !slow_links_.empty() &&
        (now_ - p_.slow_heal_at - p_.slow_heal_hold) % p_.slow_heal_step == 0) {
      auto [a, b] = slow_links_.back();
      slow_links_.pop_back();
      mend(a, b);
      log("link " + std::to_string(a) + "-" + std::to_string(b) + " heals");
    }
    if (p_.flap && now_ % p_.flap_period == 0) {
      bool down = (now_ / p_.flap_period) % 2 == 0;
      if (down) cut(p_.flap_a, p_.flap_b);
      else mend(p_.flap_a, p_.flap_b);
    }
    if (chance(p_.reset_rate)) {
      PriestId a = any_priest(), b = any_priest();
      if (a != b) {
        ++epoch_[a][b];
        ++epoch_[b][a];
        log("connection " + std::to_string(a) + "-" + std::to_string(b) + " resets");
      }
    }
  }

  void heal_network() {
    for (auto& row : blocked_) std::fill(row.begin(), row.end(), false);
    partition_until_ = 0;
    log("network healed");
  }

  void heal_all() {
    p_.slow_heal = p_.flap = false;
    slow_links_.clear();
    heal_network();
    p_.loss = p_.dup = 0;
    god_.plan.resize(god_.next);  // the change under way goes on; no new ones
    for (PriestId id = 1; id <= ids_; ++id)
      if (nodes_[id].state == Seat::State::Down && nodes_[id].down_until != kAwaitingGod) start(id);
  }

  void step_tick() {
    for (auto& n : nodes_)
      if (n.joining) n.joined = *std::exchange(n.joining, std::nullopt);
    while (!events_.empty() && events_.top().at <= now_ && result_.ok) {
      Event e = events_.top();
      events_.pop();
      if (e.type == Event::Deliver) deliver(e);
      else sync_done(e);
    }
    for (PriestId id = 1; id <= ids_; ++id) {
      Seat& n = nodes_[id];
      if (!up(id)) continue;
      // background ledger syncs
      if (chance(0.05)) n.disk.ledger_synced = n.disk.ledger.size();
      n.clock_acc += n.rate_num;
      while (n.clock_acc >= uint64_t(n.rate_den) && up(id)) {
        n.clock_acc -= n.rate_den;
        n.priest().tick();
        flush(id);
      }
    }
    drive_clients();
    drive_reads();
    drive_god();
  }

  void deliver(const Event& e) {
    const Message& m = e.m;
    Seat& n = nodes_[m.to];
    if (!up(m.to) || e.epoch != epoch_[m.from][m.to]) return;
    ++result_.messages;
    if (chance(0.03)) {  // now and then, through the real codec (the incarnation is the link's)
      auto back = decode_text(encode_text(m));
      if (!back) return fail("codec: " + back.error());
      back->incarnation = m.incarnation;
      if (auto why = n.priest().step(*back); !why.empty()) return fail("an honest message was refused: " + why);
    } else if (auto why = n.priest().step(m); !why.empty()) {
      return fail("priest " + std::to_string(m.to) + " refused an honest " + name_of(m.kind) + ": " + why);
    }
    flush(m.to);
  }

  void sync_done(const Event& e) {
    Seat& n = nodes_[e.node];
    if (!up(e.node) || n.life != e.life) return;
    n.disk.complete_sync();
    n.node->clerk().votes_synced(ok_status());
    after_flush(e.node);
    check();
  }

  void flush(PriestId id) {
    if (!up(id)) return;
    nodes_[id].node->flush();
    after_flush(id);
    check();
  }

  void after_flush(PriestId id) {
    Seat& n = nodes_[id];
    if (!up(id)) return;
    if (n.disk.held_behind_disk || n.disk.unwritten > 0)
      return fail("priest " + std::to_string(id) + "'s clerk left messages not written out " +
                  (n.disk.held_behind_disk ? "behind its ledger or a sync" : "at the end of a flush"));
    Role r = n.priest().role();
    if (r == Role::President && n.role != Role::President) ++result_.elections;
    n.role = r;
  }

  // Linearizable reads (Priest::read), one every few ticks at a priest drawn at random: the
  // answer must cover every decree a client was told passed before the read began, and the
  // priest's own ledger must hold it.
  struct SimRead {
    PriestId at = 0;
    uint64_t must_hold = 0;
    uint64_t began = 0;
  };
  void drive_reads() {
    if (now_ % 7 != 0) return;
    PriestId at = any_priest();
    if (!up(at)) return;
    uint64_t token = next_token_++;
    reads_[token] = SimRead{at, max_acked_, now_};
    nodes_[at].priest().read(token);
    flush(at);
  }
  void check_read(const SimRead& r, const ClientReply& rep) {
    if (!rep.error.empty()) return;  // not answered: the client would retry
    ++result_.reads;
    if (rep.decree_no < r.must_hold)
      fail("linearizability: a read at priest " + std::to_string(r.at) + " begun at tick " + std::to_string(r.began) +
           ", after decree " + std::to_string(r.must_hold) + " was acknowledged, was answered up to decree " +
           std::to_string(rep.decree_no));
    else if (up(r.at) && nodes_[r.at].disk.ledger.size() < rep.decree_no)
      fail("a read at priest " + std::to_string(r.at) + " was answered up to decree " + std::to_string(rep.decree_no) +
           " beyond its ledger of " + std::to_string(nodes_[r.at].disk.ledger.size()));
  }

  void drive_clients() {
    for (size_t i = 0; i < clients_.size(); ++i) {
      Client& c = clients_[i];
      if (c.done >= c.target) continue;
      if (c.probe && (now_ <= o_.fault_ticks || god_.busy())) continue;
      if (c.waiting && now_ < c.give_up_at) continue;
      if (!c.waiting && now_ < c.retry_at) continue;
      if (c.request == 0) {
        c.request = ++requests_issued_[c.id];
        proposed_[{c.id, c.request}] = "c" + std::to_string(c.id) + " r" + std::to_string(c.request) +
                                       (c.request % 3 ? ", \"quoted\"\nline" : "");
        inv_.proposed(c.id, c.request, proposed_[{c.id, c.request}]);
      }
      PriestId to = any_priest();
      if (!up(to)) {
        c.retry_at = now_ + 5;
        c.waiting = false;
        continue;
      }
      c.token = next_token_++;
      tokens_[c.token] = {i, c.request};
      c.waiting = true;
      c.give_up_at = now_ + 100;
      Proposal p;
      p.token = c.token;
      p.decree.client = c.id;
      p.decree.request = c.request;
      p.decree.text = proposed_[{c.id, c.request}];
      log("client " + std::to_string(c.id) + " proposes request " + std::to_string(c.request) +
          " to priest " + std::to_string(to));
      nodes_[to].priest().propose(p);
      flush(to);
    }
  }

  // ------------------------------------------------------------ the god

  void drive_god() {
    for (auto it = god_.stops.begin(); it != god_.stops.end();) {
      if (now_ < it->second) {
        ++it;
        continue;
      }
      stop(it->first);
      it = god_.stops.erase(it);
    }
    if (!god_.busy()) {
      if (god_.next >= god_.plan.size() || now_ < god_.next_at) return;
      God::Op op = god_.plan[god_.next];
      if ((op == God::Op::Replace || op == God::Op::LoseMinority) && !change_known()) {
        god_.next_at = now_ + 10;
        return;
      }
      begin_op(god_.plan[god_.next++]);
      if (!god_.busy()) god_.next_at = now_ + 50;
      god_.waiting = false;
      god_.retry_at = now_ + rng_() % 10;
      return;
    }
    if (god_.waiting && now_ < god_.give_up_at) return;
    if (!god_.waiting && now_ < god_.retry_at) return;
    PriestId to = any_priest();
    if (!up(to)) {
      god_.waiting = false;
      god_.retry_at = now_ + 5;
      return;
    }
    Change c = god_.changes.front();
    Seat& learner = nodes_[c.priest.id];
    if (c.op != Change::Op::Remove && learner.down_until == kAwaitingGod) {
      // The machine with the new disk comes up now; the god joins it when it starts.
      learner.down_until = now_ + 1 + rng_() % 60;
      if (now_ > o_.fault_ticks) start(c.priest.id);
    }
    // As paxos-god does: the priest to add or replace must be running, joined, before the
    // change is asked for.
    if (c.op != Change::Op::Remove && !up(c.priest.id)) {
      god_.waiting = false;
      god_.retry_at = now_ + 5;
      return;
    }
    // As paxos-god does before each add or replace: a priest still learning a membership
    // older than the one in force is joined to that one (Host::join, Priest::rejoin).
    if (c.op != Change::Op::Remove) {
      auto joined = learner.node->join(in_force());
      if (!joined) return fail("join refused: " + joined.error());
      if (!*joined) {
        log("the god joins priest " + std::to_string(c.priest.id) + " again, to the membership of decree " +
            std::to_string(in_force().decree_no));
        flush(c.priest.id);
      }
    }
    god_.token = next_token_++;
    god_tokens_.insert(god_.token);
    god_.waiting = true;
    god_.give_up_at = now_ + 300;
    log("the god asks priest " + std::to_string(to) + " to " + describe(c));
    nodes_[to].priest().propose_change(god_.token, c);
    flush(to);
  }

  void god_reply(const ClientReply& rep) {
    god_.waiting = false;
    Change c = god_.changes.front();
    log("the god hears: " + describe(c) + ": " +
        (rep.error.empty() ? "passed as decree " + std::to_string(rep.decree_no) : rep.error));
    if (!rep.error.empty()) {
      god_.retry_at = now_ + 5 + rng_() % 30;
      return;
    }
    inv_.change_acknowledged(c, rep.decree_no);
    check();
    ++result_.changes;
    god_.changes.pop_front();
    if (god_.busy()) god_.retry_at = now_ + rng_() % 20;
    else god_.next_at = now_ + 30 + rng_() % 300;
  }

  // Whether the god may lose disks now. The membership decree in force must be in the
  // ledgers of a majority of the membership it set: until then, deciding it may still need a
  // quorum of the membership before it (a president that does not hold it stands with that
  // one), and losing more disks may leave no majority of that one for good. This much any
  // protocol needs. Unless hasty_god, every voter must hold it (see "Known liveness gaps").
  //
  // Even a hasty god leaves a voter that lags behind the change someone to learn it from: a
  // priest of the membership before it, the same incarnation, that holds it (the laggard
  // admits no other: Priest::admits). Losing at most a minority must leave one such teacher;
  // without one, the laggard is the operator's to wipe and replace (docs/SAFETY.md), and the
  // simulator plays no operator.
  bool change_known() const {
    const Membership& m = in_force();
    auto holds = [&](const PriestAddress& p) {
      return nodes_[p.id].incarnation == p.incarnation &&
             nodes_[p.id].disk.ledger.size() >= m.decree_no;
    };
    size_t hold = std::count_if(m.priests.begin(), m.priests.end(), holds);
    if (!o_.hasty_god || hold == m.priests.size()) return hold == m.priests.size();
    if (hold < m.quorum() || m.decree_no == 0) return hold >= m.quorum();
    const Membership& before = inv_.era(m.decree_no);
    size_t teachers = std::count_if(before.priests.begin(), before.priests.end(), holds);
    return teachers > (m.priests.size() - 1) / 2;
  }

  void ask(const Change& c) {
    inv_.change_requested(c);
    god_.changes.push_back(c);
  }

  void begin_op(God::Op op) {
    const Membership m = in_force();
    auto members = m.ids();
    log(std::string("the god begins: ") + op_name(op) + " (membership of decree " + std::to_string(m.decree_no) +
        ": " + std::to_string(members.size()) + " priests)");
    switch (op) {
      case God::Op::Add: {
        if (members.size() >= 7) return;
        std::vector<PriestId> spare;
        for (PriestId id = 1; id <= ids_; ++id)
          if (nodes_[id].state == Seat::State::Absent && !m.find(id)) spare.push_back(id);
        if (spare.empty()) return;
        PriestId id = spare[rng_() % spare.size()];
        blank_disk(id);
        start(id);  // joined as a learner first, then added
        ask(Change{Change::Op::Add, address(id), false});
        return;
      }
      case God::Op::Remove: {
        if (members.size() <= 3) return;
        PriestId id = members[rng_() % members.size()];
        if (chance(0.5))
          for (PriestId p : members)
            if (up(p) && nodes_[p].priest().role() == Role::President) id = p;
        Change c;
        c.op = Change::Op::Remove;
        c.priest.id = id;
        ask(c);
        return;
      }
      case God::Op::Replace:
      case God::Op::LoseMinority: {
        size_t minority = (members.size() - 1) / 2;
        if (minority == 0) return;
        size_t k = op == God::Op::Replace ? 1 : 1 + rng_() % minority;
        std::shuffle(members.begin(), members.end(), rng_);
        members.resize(k);
        for (PriestId id : members) lose_disk(id);
        for (PriestId id : members) ask(Change{Change::Op::Replace, address(id), false});
        return;
      }
    }
  }

  // ------------------------------------------------------------ the end

  // The ledger of the first voter of the membership in force, if it runs.
  const std::vector<Entry>* reference() const {
    for (auto& p : in_force().priests)
      if (up(p.id) && nodes_[p.id].incarnation == p.incarnation) return &nodes_[p.id].disk.ledger;
    return nullptr;
  }

  bool converged() {
    for (auto& c : clients_)
      if (c.done < c.target) return false;
    if (god_.busy()) return false;
    // Every voter of the membership in force runs, as the incarnation named there, and holds
    // the same ledger, membership rows included.
    const std::vector<Entry>* ref = reference();
    if (!ref) return false;
    for (auto& p : in_force().priests)
      if (!up(p.id) || nodes_[p.id].incarnation != p.incarnation || nodes_[p.id].disk.ledger != *ref) return false;
    // Identical is not enough: a crash can cut every ledger's unsynced tail, and the
    // decrees there passed (they are in a majority's votes) until a president re-learns them.
    if (ref->size() < inv_.known_len()) return false;
    for (auto& [key, n] : acked_)
      if (n > ref->size()) return false;
    return true;
  }

  std::string progress() {
    std::string s;
    for (auto& c : clients_) s += "client " + std::to_string(c.id) + " done " + std::to_string(c.done) + "; ";
    if (god_.busy()) s += "the god still asks to " + describe(god_.changes.front()) + "; ";
    const Membership& f = in_force();
    s += "membership of decree " + std::to_string(f.decree_no) + "; ";
    for (PriestId id : hosted()) {
      const Seat& n = nodes_[id];
      s += "priest " + std::to_string(id) + "/" + short_inc(n.incarnation) +
           (f.voter(id, n.incarnation) ? "" : " (no voter)") + " ledger " + std::to_string(n.disk.ledger.size());
      if (n.node && n.node->running()) {
        auto st = n.node->priest().status();
        s += std::string(" ") + name_of(st.role) + " next_bal " + to_string(st.next_bal) + " president " +
             (st.president ? std::to_string(*st.president) : "-") + " in flight " + std::to_string(st.in_flight) +
             " queued " + std::to_string(st.queued) + " waiting " + std::to_string(st.waiting) + " ahead " +
             std::to_string(st.passed_ahead) + " membership " + std::to_string(st.membership.decree_no) +
             (st.change.empty() ? "" : " change " + st.change);
      } else {
        s += " down";
      }
      s += "; ";
    }
    return s;
  }

  void check_final() {
    if (auto* ref = reference()) inv_.check_final(*ref);
    check();
  }

  uint64_t seed_;
  SimOptions o_;
  std::mt19937_64 rng_;
  PriestId ids_ = 0;  // priest ids 1..ids_: the first members, then the spares
  Profile p_;
  bool clock_skew_ = false;
  std::ostringstream describe_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t starts_ = 0;
  uint64_t partition_until_ = 0;
  std::vector<std::pair<PriestId, PriestId>> slow_links_;
  Invariants inv_;
  std::vector<Seat> nodes_;
  std::vector<std::vector<bool>> blocked_;
  std::vector<std::vector<uint64_t>> epoch_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Client> clients_;
  std::map<uint64_t, uint64_t> requests_issued_;
  std::map<uint64_t, std::pair<size_t, uint64_t>> tokens_;
  uint64_t next_token_ = 1;
  std::map<std::pair<uint64_t, uint64_t>, std::string> proposed_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> acked_;  // what clients were told
  uint64_t max_acked_ = 0;                                  // the highest number of them
  std::map<uint64_t, SimRead> reads_;                       // by token
  God god_;
  std::set<uint64_t> god_tokens_;
  SimResult result_;
};

bool SimHost::send(const Message& m) {
  ++world->seat(id).disk.unwritten;
  return world->send(m);
}
void SimHost::write_out() { world->seat(id).disk.unwritten = 0; }
void SimHost::reply(const ClientReply& r) { world->reply(r); }
void SimHost::note(const std::string& line) { world->log(line); }
void SimHost::peers(const std::vector<PriestAddress>& p) { world->set_peers(id, p); }
void SimHost::retire(const std::string& why) { world->retired(id, why); }
void SimHost::halt(const std::string& why) { world->fail("priest " + std::to_string(id) + " halted: " + why); }
Status SimHost::sync_ledger() { return world->sync_ledger(id); }
Status SimHost::save_membership(const Membership& m, bool first) {
  return world->save_membership(id, m, first);
}

}  // namespace

SimResult run_seed(uint64_t seed, const SimOptions& options) {
  World w(seed, options);
  return w.run();
}

ScenarioResult run_scenario(Scenario shape, uint64_t seed) {
  SimOptions o;
  o.quiet = true;
  o.changes = false;
  World w(seed, o);
  return w.scenario(shape);
}

}  // namespace parliament::sim
