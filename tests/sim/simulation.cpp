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

#include "proto/message.hpp"
#include "proto/priest.hpp"

namespace parliament::sim {

namespace {

// What survives a crash: what the host made durable.
struct Disk {
  Ballot next_bal;
  std::map<uint64_t, Entry> votes;
  std::vector<Entry> ledger;    // decree n at ledger[n-1]
  size_t ledger_synced = 0;     // the ledger's fdatasync lags; a crash cuts it back here
};

struct InFlight {
  uint64_t at;
  uint64_t seq;
  Message m;
  bool operator>(const InFlight& o) const { return std::tie(at, seq) > std::tie(o.at, o.seq); }
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

class World {
 public:
  World(uint64_t seed, const SimOptions& o) : seed_(seed), o_(o), rng_(seed) {
    loss_ = uniform(0, 0.3);
    dup_ = uniform(0, 0.5);
    max_delay_ = 1 + rng_() % 8;
    partition_rate_ = uniform(0, 0.01);
    crash_rate_ = uniform(0, 0.006);
    std::ostringstream f;
    f << "loss=" << int(loss_ * 100) << "% dup=" << int(dup_ * 100)
      << "% delay<=" << max_delay_ << " partitions/tick=" << partition_rate_
      << " crashes/tick=" << crash_rate_;
    result_.faults = f.str();
    for (int i = 1; i <= o.priests; ++i) members_.push_back(i);
    disks_.resize(o.priests + 1);
    priests_.resize(o.priests + 1);
    for (int i = 1; i <= o.priests; ++i) start(i);
    for (int c = 0; c < o.clients; ++c) clients_.push_back(Client{1000 + uint64_t(c)});
    blocked_.assign(o.priests + 1, std::vector<bool>(o.priests + 1, false));
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
    if (!disks_[1].ledger.empty()) result_.decrees = disks_[1].ledger.size();
    return result_;
  }

 private:
  double uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void log(const std::string& s) {
    if (o_.verbose) std::printf("[%6llu] %s\n", (unsigned long long)now_, s.c_str());
  }
  void fail(const std::string& why) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = "tick " + std::to_string(now_) + ": " + why;
  }

  void start(PriestId id) {
    Disk& d = disks_[id];
    Restored r;
    r.next_bal = d.next_bal;
    r.ledger_len = d.ledger.size();
    for (auto& [n, v] : d.votes)
      if (n > r.ledger_len) r.votes[n] = v;
    for (auto& e : d.ledger)
      if (!e.decree.olive_day) r.clients[e.decree.client] = ClientRecord{e.decree.request, e.decree_no};
    PriestOptions po;
    po.id = id;
    po.members = members_;
    po.heartbeat_ticks = 5;
    po.election_timeout_ticks = 30;
    po.max_batch_decrees = 8;
    po.catch_up_chunk = 16;
    po.seed = seed_ * 31 + id + 1000 * result_.crashes;
    priests_[id] = std::make_unique<Priest>(po, std::move(r));
  }

  void crash(PriestId id) {
    if (!priests_[id]) return;
    priests_[id].reset();
    ++result_.crashes;
    Disk& d = disks_[id];
    d.ledger.resize(d.ledger_synced);  // what was not fdatasynced is gone
    log("priest " + std::to_string(id) + " crashes (ledger keeps " +
        std::to_string(d.ledger.size()) + ")");
    down_until_[id] = now_ + 20 + rng_() % 200;
  }

  void faults() {
    for (PriestId id : members_) {
      if (!priests_[id] && now_ >= down_until_[id]) {
        log("priest " + std::to_string(id) + " restarts");
        start(id);
      } else if (priests_[id] && chance(crash_rate_)) {
        // keep a majority up most of the time, but not always
        crash(id);
      }
    }
    if (partition_until_ && now_ >= partition_until_) {
      heal_network();
    } else if (!partition_until_ && chance(partition_rate_)) {
      bool one_way = chance(0.3);
      std::vector<PriestId> side;
      for (PriestId id : members_)
        if (chance(0.4)) side.push_back(id);
      for (PriestId a : side)
        for (PriestId b : members_)
          if (std::find(side.begin(), side.end(), b) == side.end()) {
            blocked_[a][b] = true;
            if (!one_way) blocked_[b][a] = true;
          }
      partition_until_ = now_ + 50 + rng_() % 400;
      log(std::string(one_way ? "one-way " : "") + "partition of " + std::to_string(side.size()) +
          " priests");
    }
    if (chance(0.01)) ledger_sync_all();
  }

  void heal_network() {
    for (auto& row : blocked_) std::fill(row.begin(), row.end(), false);
    partition_until_ = 0;
    log("network healed");
  }

  void heal_all() {
    heal_network();
    loss_ = dup_ = 0;
    for (PriestId id : members_)
      if (!priests_[id]) start(id);
  }

  void ledger_sync_all() {
    for (auto& d : disks_) d.ledger_synced = d.ledger.size();
  }

  void step_tick() {
    while (!net_.empty() && net_.top().at <= now_) {
      Message m = net_.top().m;
      net_.pop();
      deliver(m);
    }
    for (PriestId id : members_)
      if (priests_[id]) {
        priests_[id]->tick();
        drain(id);
      }
    drive_clients();
  }

  void deliver(const Message& m) {
    if (!priests_[m.to]) return;
    ++result_.messages;
    if (chance(0.03)) {  // now and then, through the real codec
      auto back = decode(encode(m));
      if (!back) return fail("codec: " + back.error());
      priests_[m.to]->step(*back);
    } else {
      priests_[m.to]->step(m);
    }
    drain(m.to);
  }

  // The host's rule: persist, then send, then apply to the ledger, then answer.
  void drain(PriestId id) {
    for (int guard = 0; guard < 1000 && priests_[id]; ++guard) {
      Ready r = priests_[id]->take_ready();
      if (r.empty()) return;
      Disk& d = disks_[id];
      for (auto& s : r.notes) log(s);
      if (r.promise) {
        if (*r.promise <= d.next_bal) return fail("promise went backwards at priest " + std::to_string(id));
        d.next_bal = *r.promise;
      }
      for (auto& v : r.votes) {
        if (v.ballot > d.next_bal) return fail("vote above promise");
        d.votes[v.decree_no] = v;
      }
      std::vector<Message> self;
      for (auto& m : r.messages) {
        if (m.to == id) self.push_back(m);
        else send(m);
      }
      for (auto& e : r.passed) append_ledger(id, e);
      for (auto& rep : r.replies) reply(rep);
      for (auto& c : r.catch_up) {
        Message s;
        s.kind = Kind::Success;
        s.from = id;
        s.to = c.to;
        s.ballot = d.next_bal;
        s.passed_len = d.ledger.size();
        for (uint64_t n = c.from_no; n <= c.upto_no && n <= d.ledger.size(); ++n) {
          Entry e = d.ledger[n - 1];
          e.decree.origin = e.ballot;
          s.entries.push_back(e);
        }
        if (!s.entries.empty()) send(s);
      }
      for (auto& m : self) {
        priests_[id]->step(m);
      }
      if (!result_.ok) return;
    }
  }

  void send(const Message& m) {
    if (blocked_[m.from][m.to] || chance(loss_)) return;
    int copies = chance(dup_) ? 2 : 1;
    for (int i = 0; i < copies; ++i)
      net_.push(InFlight{now_ + 1 + rng_() % max_delay_, seq_++, m});
  }

  void append_ledger(PriestId id, const Entry& e) {
    Disk& d = disks_[id];
    if (e.decree_no != d.ledger.size() + 1) return fail("ledger append out of order");
    if (e.ballot != e.decree.origin) return fail("ledger ballot is not the decree's origin");
    d.ledger.push_back(e);
    // agreement: one decree per number, across all priests and all time
    auto [it, fresh] = chosen_.emplace(e.decree_no, e);
    if (!fresh && !(it->second == e))
      return fail("priests " + std::to_string(id) + " disagree at decree " +
                  std::to_string(e.decree_no));
    if (fresh && !e.decree.olive_day) {
      std::pair key{e.decree.client, e.decree.request};
      if (!proposed_.count(key)) return fail("a decree no client proposed");
      if (proposed_[key] != e.decree.text) return fail("decree text changed");
      if (auto p = placed_.find(key); p != placed_.end() && p->second != e.decree_no)
        return fail("request passed twice: decrees " + std::to_string(p->second) + " and " +
                    std::to_string(e.decree_no));
      placed_[key] = e.decree_no;
    }
    check_acks_at(e.decree_no);
  }

  void check_acks_at(uint64_t n) {
    auto c = chosen_.find(n);
    if (c == chosen_.end()) return;
    for (auto& [key, acked] : acked_)
      if (acked == n &&
          (c->second.decree.olive_day || std::pair{c->second.decree.client, c->second.decree.request} != key))
        fail("client was told decree " + std::to_string(n) + " passed, but the ledger holds another");
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
    std::pair key{c.id, c.request};
    if (auto a = acked_.find(key); a != acked_.end() && a->second != rep.decree_no)
      return fail("client told two numbers for one request");
    acked_[key] = rep.decree_no;
    check_acks_at(rep.decree_no);
    ++c.done;
    c.request = 0;
    c.retry_at = now_ + rng_() % 5;
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
      }
      PriestId to = members_[rng_() % members_.size()];
      if (!priests_[to]) {
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
      priests_[to]->propose(p);
      drain(to);
    }
  }

  bool converged() {
    for (auto& c : clients_)
      if (c.done < o_.requests_per_client) return false;
    for (PriestId id : members_)
      if (!priests_[id] || disks_[id].ledger != disks_[1].ledger) return false;
    // Identical is not enough: a crash can cut every ledger's unsynced tail, and the
    // decrees there passed (they are in a majority's votes) until a president re-learns them.
    for (auto& [key, n] : acked_)
      if (n > disks_[1].ledger.size()) return false;
    return true;
  }

  std::string progress() {
    std::string s;
    for (auto& c : clients_) s += "client " + std::to_string(c.id) + " done " + std::to_string(c.done) + "; ";
    for (PriestId id : members_) {
      s += "priest " + std::to_string(id) + " ledger " + std::to_string(disks_[id].ledger.size());
      if (priests_[id]) {
        auto st = priests_[id]->status();
        s += std::string(" ") + name_of(st.role) + " next_bal " + to_string(st.next_bal) +
             " president " + (st.president ? std::to_string(*st.president) : "-") + " in flight " +
             std::to_string(st.in_flight) + " queued " + std::to_string(st.queued) + " waiting " +
             std::to_string(st.waiting) + " ahead " + std::to_string(st.passed_ahead);
      }
      s += "; ";
    }
    return s;
  }

  void check_final() {
    for (auto& [key, n] : acked_) {
      if (n > disks_[1].ledger.size()) return fail("acknowledged decree missing from ledgers");
      const Entry& e = disks_[1].ledger[n - 1];
      if (e.decree.olive_day || e.decree.client != key.first || e.decree.request != key.second)
        return fail("acknowledged decree not at its number");
    }
  }

  uint64_t seed_;
  SimOptions o_;
  std::mt19937_64 rng_;
  double loss_, dup_, partition_rate_, crash_rate_;
  uint64_t max_delay_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t partition_until_ = 0;
  std::vector<PriestId> members_;
  std::vector<Disk> disks_;
  std::vector<std::unique_ptr<Priest>> priests_;
  std::map<PriestId, uint64_t> down_until_;
  std::vector<std::vector<bool>> blocked_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> net_;
  std::vector<Client> clients_;
  std::map<uint64_t, uint64_t> requests_issued_;
  std::map<uint64_t, std::pair<size_t, uint64_t>> tokens_;
  uint64_t next_token_ = 1;
  std::map<std::pair<uint64_t, uint64_t>, std::string> proposed_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> placed_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> acked_;
  std::map<uint64_t, Entry> chosen_;
  SimResult result_;
};

}  // namespace

SimResult run_seed(uint64_t seed, const SimOptions& options) {
  World w(seed, options);
  return w.run();
}

}  // namespace parliament::sim
