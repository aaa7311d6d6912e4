#include "tests/sim/simulation.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "proto/clerk.hpp"
#include "proto/message.hpp"
#include "proto/priest.hpp"
#include "tests/sim/invariants.hpp"
#include "tests/sim/volatile_disk.hpp"

namespace parliament::sim {

namespace {

class World;

// One priest's disk (tests/sim/volatile_disk.hpp), whose ledger also keeps only what its
// lagging background sync covered when the priest crashes.
struct SimDisk : VolatileDisk {
  size_t ledger_synced = 0;
  void crash(std::mt19937_64& rng) {
    crash_keep(unsynced.empty() ? 0 : rng() % (unsynced.size() + 1));
    ledger.resize(ledger_synced);
  }
};

struct SimMessenger : Messenger {
  World* world = nullptr;
  PriestId id = 0;
  bool send(const Message& m) override;
  void reply(const ClientReply& r) override;
  void note(const std::string& line) override;
};

struct Node {
  SimDisk disk;
  SimMessenger messenger;
  std::unique_ptr<Priest> priest;
  std::unique_ptr<Clerk> clerk;
  uint64_t incarnation = 0;
  uint64_t down_until = 0;
  Role role = Role::Follower;
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
  uint64_t incarnation = 0;
  bool operator>(const Event& o) const { return std::tie(at, seq) > std::tie(o.at, o.seq); }
};

struct Client {
  uint64_t id;
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

class World {
 public:
  World(uint64_t seed, const SimOptions& o) : seed_(seed), o_(o), rng_(seed), inv_(o.priests) {
    draw_profile();
    for (int i = 1; i <= o.priests; ++i) members_.push_back(i);
    nodes_.resize(o.priests + 1);
    for (PriestId id : members_) {
      Node& n = nodes_[id];
      n.disk.inv = &inv_;
      n.disk.id = id;
      n.disk.on_sync = [this, id] {
        uint64_t delay = p_.max_sync_delay ? rng_() % (p_.max_sync_delay + 1) : 0;
        if (delay == 0) return true;
        schedule_sync(id, delay);
        return false;
      };
      n.messenger.world = this;
      n.messenger.id = id;
      // clock speeds: most priests keep time; a drawn few run slow or fast
      if (clock_skew_ && chance(0.4)) {
        static const std::pair<int, int> rates[] = {{1, 2}, {1, 3}, {2, 3}, {3, 2}, {2, 1}};
        auto r = rates[rng_() % 5];
        n.rate_num = r.first;
        n.rate_den = r.second;
        describe_ << " clock" << id << "=" << r.first << "/" << r.second;
      }
    }
    result_.faults = describe_.str();
    for (PriestId id : members_) start(id);
    for (int c = 0; c < o.clients; ++c) clients_.push_back(Client{1000 + uint64_t(c)});
    blocked_.assign(o.priests + 1, std::vector<bool>(o.priests + 1, false));
    epoch_.assign(o.priests + 1, std::vector<uint64_t>(o.priests + 1, 0));
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
    result_.decrees = nodes_[1].disk.ledger.size();
    return result_;
  }

  // ------------------------------------------------------------ called by disks and messengers

  bool send(const Message& m) {
    Node& from = nodes_[m.from];
    inv_.sent(m, from.disk.next_bal, from.disk.ledger.size());
    check();
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
    inv_.acknowledged(c.id, c.request, rep.decree_no);
    check();
    ++c.done;
    c.request = 0;
    c.retry_at = now_ + rng_() % 5;
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
    e.incarnation = nodes_[id].incarnation;
    events_.push(std::move(e));
  }

  Invariants& invariants() { return inv_; }
  // Turns a broken invariant into this seed's failure.
  void check() {
    if (!inv_.ok()) fail(inv_.failure());
  }

 private:
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  PriestId any_priest() { return members_[rng_() % members_.size()]; }

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
                                   Kind::Answer};
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

  void start(PriestId id) {
    Node& n = nodes_[id];
    SimDisk& d = n.disk;
    inv_.restarted(id, d.next_bal);
    check();
    Restored r;
    r.next_bal = d.next_bal;
    r.ledger_len = d.ledger.size();
    for (auto& [num, v] : d.votes)
      if (num > r.ledger_len) r.votes[num] = v;
    for (auto& e : d.ledger)
      if (e.decree.from_client()) r.clients[e.decree.client] = ClientRecord{e.decree.request, e.decree_no};
    PriestOptions po;
    po.id = id;
    po.members = members_;
    po.heartbeat_ticks = 5;
    po.election_timeout_ticks = 30;
    po.max_batch_decrees = 8;
    po.catch_up_chunk = 16;
    po.seed = seed_ * 31 + id + 1000 * result_.crashes;
    ++n.incarnation;
    n.role = Role::Follower;
    n.priest = std::make_unique<Priest>(po, std::move(r));
    n.clerk = std::make_unique<Clerk>(*n.priest, d, n.messenger, [this, id](const std::string& why) {
      fail("priest " + std::to_string(id) + " halted: " + why);
    });
  }

  void crash(PriestId id) {
    Node& n = nodes_[id];
    if (!n.priest) return;
    n.clerk.reset();
    n.priest.reset();
    ++result_.crashes;
    n.disk.crash(rng_);
    log("priest " + std::to_string(id) + " crashes (ledger keeps " + std::to_string(n.disk.ledger.size()) +
        ", promise " + to_string(n.disk.next_bal) + ")");
    n.down_until = now_ + 20 + rng_() % 200;
  }

  void cut(PriestId a, PriestId b, bool both = true) {
    blocked_[a][b] = true;
    if (both) blocked_[b][a] = true;
  }
  void mend(PriestId a, PriestId b) { blocked_[a][b] = blocked_[b][a] = false; }

  void faults() {
    for (PriestId id : members_) {
      Node& n = nodes_[id];
      if (!n.priest && now_ >= n.down_until) {
        log("priest " + std::to_string(id) + " restarts");
        start(id);
        flush(id);
      } else if (n.priest && chance(p_.crash_rate)) {
        crash(id);
      }
    }
    // random partitions: symmetric, one way, or a bridge (one priest hears both sides)
    if (partition_until_ && now_ >= partition_until_) {
      heal_network();
    } else if (!partition_until_ && chance(p_.partition_rate)) {
      int shape = rng_() % 3;
      std::vector<PriestId> side;
      for (PriestId id : members_)
        if (chance(0.4)) side.push_back(id);
      PriestId bridge = any_priest();
      for (PriestId a : side)
        for (PriestId b : members_)
          if (std::find(side.begin(), side.end(), b) == side.end()) {
            if (shape == 2 && (a == bridge || b == bridge)) continue;
            cut(a, b, shape != 1);
          }
      partition_until_ = now_ + 50 + rng_() % 400;
      log(std::string(shape == 1 ? "one-way " : shape == 2 ? "bridged " : "") + "partition of " +
          std::to_string(side.size()) + " priests");
    }
    // a minority cut off for long, then its links healed one at a time
    if (p_.slow_heal && now_ == p_.slow_heal_at) {
      std::vector<PriestId> side;
      size_t k = 1 + rng_() % ((members_.size() - 1) / 2);
      PriestId pres = 0;
      for (PriestId id : members_)
        if (nodes_[id].priest && nodes_[id].priest->role() == Role::President) pres = id;
      if (pres && chance(0.7)) side.push_back(pres);
      while (side.size() < k) {
        PriestId id = any_priest();
        if (std::find(side.begin(), side.end(), id) == side.end()) side.push_back(id);
      }
      for (PriestId a : side)
        for (PriestId b : members_)
          if (std::find(side.begin(), side.end(), b) == side.end()) {
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
    for (PriestId id : members_)
      if (!nodes_[id].priest) {
        start(id);
        flush(id);
      }
  }

  void step_tick() {
    while (!events_.empty() && events_.top().at <= now_ && result_.ok) {
      Event e = events_.top();
      events_.pop();
      if (e.type == Event::Deliver) deliver(e);
      else sync_done(e);
    }
    for (PriestId id : members_) {
      Node& n = nodes_[id];
      if (!n.priest) continue;
      // background ledger syncs
      if (chance(0.05)) n.disk.ledger_synced = n.disk.ledger.size();
      n.clock_acc += n.rate_num;
      while (n.clock_acc >= uint64_t(n.rate_den) && n.priest) {
        n.clock_acc -= n.rate_den;
        n.priest->tick();
        flush(id);
      }
    }
    drive_clients();
  }

  void deliver(const Event& e) {
    const Message& m = e.m;
    Node& n = nodes_[m.to];
    if (!n.priest || e.epoch != epoch_[m.from][m.to]) return;
    ++result_.messages;
    if (chance(0.03)) {  // now and then, through the real codec
      auto back = decode_text(encode_text(m));
      if (!back) return fail("codec: " + back.error());
      n.priest->step(*back);
    } else {
      n.priest->step(m);
    }
    flush(m.to);
  }

  void sync_done(const Event& e) {
    Node& n = nodes_[e.node];
    if (!n.priest || n.incarnation != e.incarnation) return;
    n.disk.complete_sync();
    n.clerk->votes_synced(ok_status());
    after_flush(e.node);
    check();
  }

  void flush(PriestId id) {
    Node& n = nodes_[id];
    if (!n.priest) return;
    n.clerk->flush();
    after_flush(id);
    check();
  }

  void after_flush(PriestId id) {
    Node& n = nodes_[id];
    if (!n.priest) return;
    Role r = n.priest->role();
    if (r == Role::President && n.role != Role::President) ++result_.elections;
    n.role = r;
  }

  void drive_clients() {
    for (size_t i = 0; i < clients_.size(); ++i) {
      Client& c = clients_[i];
      if (c.done >= o_.requests_per_client) continue;
      if (c.waiting && now_ < c.give_up_at) continue;
      if (!c.waiting && now_ < c.retry_at) continue;
      if (c.request == 0) {
        c.request = ++requests_issued_[c.id];
        proposed_[{c.id, c.request}] = "c" + std::to_string(c.id) + " r" + std::to_string(c.request) +
                                       (c.request % 3 ? ", \"quoted\"\nline" : "");
        inv_.proposed(c.id, c.request, proposed_[{c.id, c.request}]);
      }
      PriestId to = any_priest();
      if (!nodes_[to].priest) {
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
      nodes_[to].priest->propose(p);
      flush(to);
    }
  }

  bool converged() {
    for (auto& c : clients_)
      if (c.done < o_.requests_per_client) return false;
    for (PriestId id : members_)
      if (!nodes_[id].priest || nodes_[id].disk.ledger != nodes_[1].disk.ledger) return false;
    // Identical is not enough: a crash can cut every ledger's unsynced tail, and the
    // decrees there passed (they are in a majority's votes) until a president re-learns them.
    for (auto& [key, n] : acked_)
      if (n > nodes_[1].disk.ledger.size()) return false;
    return true;
  }

  std::string progress() {
    std::string s;
    for (auto& c : clients_) s += "client " + std::to_string(c.id) + " done " + std::to_string(c.done) + "; ";
    for (PriestId id : members_) {
      s += "priest " + std::to_string(id) + " ledger " + std::to_string(nodes_[id].disk.ledger.size());
      if (auto& p = nodes_[id].priest) {
        auto st = p->status();
        s += std::string(" ") + name_of(st.role) + " next_bal " + to_string(st.next_bal) + " president " +
             (st.president ? std::to_string(*st.president) : "-") + " in flight " + std::to_string(st.in_flight) +
             " queued " + std::to_string(st.queued) + " waiting " + std::to_string(st.waiting) + " ahead " +
             std::to_string(st.passed_ahead);
      }
      s += "; ";
    }
    return s;
  }

  void check_final() {
    inv_.check_final(nodes_[1].disk.ledger);
    check();
  }

  uint64_t seed_;
  SimOptions o_;
  std::mt19937_64 rng_;
  Profile p_;
  bool clock_skew_ = false;
  std::ostringstream describe_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t partition_until_ = 0;
  std::vector<std::pair<PriestId, PriestId>> slow_links_;
  std::vector<PriestId> members_;
  std::vector<Node> nodes_;
  std::vector<std::vector<bool>> blocked_;
  std::vector<std::vector<uint64_t>> epoch_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Client> clients_;
  std::map<uint64_t, uint64_t> requests_issued_;
  std::map<uint64_t, std::pair<size_t, uint64_t>> tokens_;
  uint64_t next_token_ = 1;
  std::map<std::pair<uint64_t, uint64_t>, std::string> proposed_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> acked_;  // what clients were told
  Invariants inv_;
  SimResult result_;
};

bool SimMessenger::send(const Message& m) { return world->send(m); }
void SimMessenger::reply(const ClientReply& r) { world->reply(r); }
void SimMessenger::note(const std::string& line) { world->log(line); }

}  // namespace

SimResult run_seed(uint64_t seed, const SimOptions& options) {
  World w(seed, options);
  return w.run();
}

}  // namespace parliament::sim
