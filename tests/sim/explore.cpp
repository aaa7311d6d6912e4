#include "tests/sim/explore.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "proto/clerk.hpp"
#include "proto/priest.hpp"
#include "tests/sim/invariants.hpp"
#include "tests/sim/volatile_disk.hpp"

namespace parliament::sim {

namespace {

struct Parliament;

struct XMessenger : Messenger {
  Parliament* world = nullptr;
  PriestId id = 0;
  bool send(const Message& m) override;
  void reply(const ClientReply& r) override;
  void note(const std::string&) override {}
};

// A priest's disk (volatile_disk.hpp) whose syncs complete as steps of their own; its
// ledger is durable as it is appended (the ledger's lagging sync is the simulator's).
struct Node {
  VolatileDisk disk;
  XMessenger messenger;
  std::optional<Priest> priest;
  std::optional<Clerk> clerk;
};

// One state of the whole parliament: its priests, their disks, the messages on the wire,
// the clients, and the invariants' record of what happened on the way here.
struct Parliament {
  const ExploreOptions* o = nullptr;
  std::vector<Node> nodes;  // by priest id; [0] unused
  std::vector<Message> wire;
  std::vector<PriestId> proposed_at;  // per client decree: where it was proposed (0: not yet)
  std::map<uint64_t, uint64_t> acked;  // client decree -> the number it was told
  int crashes = 0, duplicates = 0, drops = 0;
  Invariants inv;

  explicit Parliament(const ExploreOptions& opt) : o(&opt), inv(opt.priests) {
    nodes.resize(opt.priests + 1);
    proposed_at.assign(opt.decrees, 0);
    for (int i = 1; i <= opt.priests; ++i) {
      nodes[i].disk.id = nodes[i].messenger.id = i;
      start(i);
    }
    bind();
  }
  Parliament(const Parliament& other)
      : o(other.o), nodes(other.nodes.size()), wire(other.wire), proposed_at(other.proposed_at),
        acked(other.acked), crashes(other.crashes), duplicates(other.duplicates), drops(other.drops),
        inv(other.inv) {
    for (size_t i = 1; i < nodes.size(); ++i) {
      nodes[i].disk = other.nodes[i].disk;
      nodes[i].messenger = other.nodes[i].messenger;
      nodes[i].priest = other.nodes[i].priest;
    }
    bind();
    for (size_t i = 1; i < nodes.size(); ++i)
      nodes[i].clerk.emplace(*other.nodes[i].clerk, *nodes[i].priest, nodes[i].disk, nodes[i].messenger,
                             halt_for(i));
  }
  Parliament& operator=(const Parliament&) = delete;

  void bind() {
    for (auto& n : nodes) {
      n.disk.inv = &inv;
      n.messenger.world = this;
    }
  }
  std::function<void(const std::string&)> halt_for(size_t id) {
    return [this, id](const std::string& why) { inv.fail("priest " + std::to_string(id) + " halted: " + why); };
  }

  PriestOptions options(PriestId id) const {
    PriestOptions po;
    po.id = id;
    for (int i = 1; i <= o->priests; ++i) po.members.push_back(i);
    po.heartbeat_ticks = 1;
    po.election_timeout_ticks = 2;
    po.max_batch_decrees = 1;
    po.catch_up_chunk = 1;
    po.seed = o->seed;
    return po;
  }

  void start(PriestId id) {
    Node& n = nodes[id];
    Restored r;
    r.next_bal = n.disk.next_bal;
    r.ledger_len = n.disk.ledger.size();
    for (auto& [num, v] : n.disk.votes)
      if (num > r.ledger_len) r.votes[num] = v;
    for (auto& e : n.disk.ledger)
      if (e.decree.from_client()) r.clients[e.decree.client] = ClientRecord{e.decree.request, e.decree_no};
    n.clerk.reset();
    n.priest.emplace(options(id), std::move(r));
    n.clerk.emplace(*n.priest, n.disk, n.messenger, halt_for(id));
    inv.restarted(id, n.disk.next_bal);
  }

  static std::string decree_text(size_t k) { return "decree " + std::to_string(k + 1); }

  std::string fingerprint() const {
    std::string s;
    for (size_t i = 1; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      s += "#" + n.priest->fingerprint() + "|" + n.clerk->fingerprint() + "|d" + to_string(n.disk.next_bal) + ":" +
           std::to_string(n.disk.votes.size()) + ":" + std::to_string(n.disk.ledger.size()) + ":" +
           std::to_string(n.disk.unsynced.size()) + ":" + std::to_string(n.disk.syncing);
      for (auto& [num, v] : n.disk.votes) s += "," + std::to_string(num) + "@" + to_string(v.ballot);
    }
    std::vector<std::string> msgs;
    for (auto& m : wire) msgs.push_back(encode_text(m));
    std::sort(msgs.begin(), msgs.end());
    for (auto& m : msgs) s += "\n" + m;
    s += "\nc";
    for (auto p : proposed_at) s += std::to_string(p) + ",";
    for (auto& [k, n] : acked) s += std::to_string(k) + "=" + std::to_string(n) + ",";
    s += std::to_string(crashes) + "," + std::to_string(duplicates) + "," + std::to_string(drops);
    return s;
  }

  bool within_bounds() const {
    if (static_cast<int>(wire.size()) > o->max_in_flight) return false;
    for (size_t i = 1; i < nodes.size(); ++i)
      if (nodes[i].priest->next_bal().round > static_cast<uint64_t>(o->max_round)) return false;
    return true;
  }
};

bool XMessenger::send(const Message& m) {
  auto& d = world->nodes[id].disk;
  world->inv.sent(m, d.next_bal, d.ledger.size());
  world->wire.push_back(m);
  return true;
}

void XMessenger::reply(const ClientReply& r) {
  if (r.decree_no == 0 || r.token == 0) return;
  uint64_t k = r.token - 1;
  world->acked[k] = r.decree_no;
  world->inv.acknowledged(1000 + k, 1, r.decree_no);
}

// One step from a state; apply() changes the state, name() says what it was.
struct Step {
  enum Type { Deliver, Drop, Duplicate, Tick, Sync, Crash, Propose } type;
  size_t index = 0;  // the message on the wire
  PriestId priest = 0;
  size_t decree = 0;

  std::string name(const Parliament& w) const {
    switch (type) {
      case Deliver: return "deliver " + encode_text(w.wire[index]);
      case Drop: return "drop " + encode_text(w.wire[index]);
      case Duplicate: return "duplicate " + encode_text(w.wire[index]);
      case Tick: return "tick priest " + std::to_string(priest);
      case Sync: return "priest " + std::to_string(priest) + "'s fdatasync completes";
      case Crash: return "priest " + std::to_string(priest) + " crashes and restarts with what it synced";
      case Propose:
        return "a client proposes \"" + Parliament::decree_text(decree) + "\" at priest " + std::to_string(priest);
    }
    return "?";
  }

  void apply(Parliament& w) const {
    switch (type) {
      case Deliver: {
        Message m = w.wire[index];
        w.wire.erase(w.wire.begin() + index);
        Node& n = w.nodes[m.to];
        n.priest->step(m);
        n.clerk->flush();
        break;
      }
      case Drop:
        w.wire.erase(w.wire.begin() + index);
        ++w.drops;
        break;
      case Duplicate:
        w.wire.push_back(w.wire[index]);
        ++w.duplicates;
        break;
      case Tick: {
        Node& n = w.nodes[priest];
        n.priest->tick();
        n.clerk->flush();
        break;
      }
      case Sync: {
        Node& n = w.nodes[priest];
        n.disk.complete_sync();
        n.clerk->votes_synced(ok_status());
        break;
      }
      case Crash: {
        Node& n = w.nodes[priest];
        n.disk.crash_keep(0);
        ++w.crashes;
        w.start(priest);
        n.clerk->flush();
        break;
      }
      case Propose: {
        Node& n = w.nodes[priest];
        w.proposed_at[decree] = priest;
        w.inv.proposed(1000 + decree, 1, Parliament::decree_text(decree));
        n.priest->propose(Proposal{decree + 1, Decree{false, 1000 + decree, 1, Parliament::decree_text(decree), {}}});
        n.clerk->flush();
        break;
      }
    }
  }
};

std::vector<Step> steps_from(const Parliament& w) {
  const ExploreOptions& o = *w.o;
  std::vector<Step> out;
  std::vector<std::string> seen;  // identical messages: try one of them
  for (size_t i = 0; i < w.wire.size(); ++i) {
    std::string text = encode_text(w.wire[i]);
    if (std::find(seen.begin(), seen.end(), text) != seen.end()) continue;
    seen.push_back(text);
    out.push_back(Step{Step::Deliver, i});
    if (w.drops < o.drops) out.push_back(Step{Step::Drop, i});
    if (w.duplicates < o.duplicates) out.push_back(Step{Step::Duplicate, i});
  }
  for (PriestId p = 1; p <= static_cast<PriestId>(o.priests); ++p) {
    out.push_back(Step{Step::Tick, 0, p});
    if (w.nodes[p].disk.syncing > 0) out.push_back(Step{Step::Sync, 0, p});
    if (w.crashes < o.crashes) out.push_back(Step{Step::Crash, 0, p});
  }
  for (size_t k = 0; k < w.proposed_at.size(); ++k)
    if (!w.proposed_at[k])
      for (PriestId p = 1; p <= static_cast<PriestId>(o.priests); ++p) out.push_back(Step{Step::Propose, 0, p, k});
  return out;
}

// Delivers messages in order and completes every sync until the parliament is quiet;
// messages between priests that `cut` separates are lost (not counted as drops).
void settle(Parliament& w, const std::function<bool(PriestId, PriestId)>& cut) {
  auto syncing = [&] {
    for (size_t i = 1; i < w.nodes.size(); ++i)
      if (w.nodes[i].disk.syncing) return true;
    return false;
  };
  for (int guard = 0; guard < 10000 && (!w.wire.empty() || syncing()); ++guard) {
    for (size_t i = 1; i < w.nodes.size(); ++i)
      if (w.nodes[i].disk.syncing) Step{Step::Sync, 0, static_cast<PriestId>(i)}.apply(w);
    if (w.wire.empty()) continue;
    if (cut(w.wire.front().from, w.wire.front().to)) w.wire.erase(w.wire.begin());
    else Step{Step::Deliver, 0}.apply(w);
  }
}

void elect(Parliament& w, PriestId who, const std::function<bool(PriestId, PriestId)>& cut) {
  Node& n = w.nodes[who];
  for (int t = 0; t < 100 && n.priest->role() != Role::President; ++t) {
    if (n.priest->role() == Role::Follower) {
      n.priest->tick();
      n.clerk->flush();
    }
    settle(w, cut);
  }
}

void propose(Parliament& w, size_t decree, PriestId at) { Step{Step::Propose, 0, at, decree}.apply(w); }

// See ExploreOptions::start.
std::string prepare(Parliament& w, const std::string& start) {
  auto none = [](PriestId, PriestId) { return false; };
  if (start == "scratch") return "";
  if (start == "elected") {
    elect(w, 1, none);
    return "";
  }
  if (start == "split") {
    if (w.o->priests != 5 || w.o->decrees < 2) return "--start split needs --priests 5 and --decrees 2 or more";
    elect(w, 1, none);
    auto side = [](PriestId p) { return p <= 2; };
    auto split = [&](PriestId a, PriestId b) { return side(a) != side(b); };
    propose(w, 0, 1);
    settle(w, split);
    // priest 4 stands; 3 and 5 are cut from the president and follow it
    elect(w, 4, split);
    propose(w, 1, 4);
    settle(w, split);
    for (int t = 0; t < 3; ++t) {
      Step{Step::Tick, 0, 4}.apply(w);
      settle(w, split);
    }
    if (w.nodes[1].priest->role() != Role::President || w.nodes[4].priest->role() != Role::President ||
        w.nodes[2].disk.votes.empty() || w.nodes[5].disk.ledger.empty())
      return "the split prefix did not reach its state";
    return "";
  }
  return "unknown start \"" + start + "\" (scratch, elected, split)";
}

class Explorer {
 public:
  explicit Explorer(const ExploreOptions& o) : o_(o) {}

  ExploreResult run() {
    Parliament start(o_);
    if (auto why = prepare(start, o_.start); !why.empty()) {
      result_.ok = false;
      result_.failure = why;
      return result_;
    }
    if (!start.inv.ok()) {
      result_.ok = false;
      result_.failure = "during the start prefix: " + start.inv.failure();
      return result_;
    }
    seen_[std::hash<std::string>{}(start.fingerprint())] = 0;
    result_.states = 1;
    dfs(start, 0);
    result_.exhausted = result_.ok && !stopped_;
    return result_;
  }

 private:
  void dfs(const Parliament& w, int depth) {
    result_.max_depth = std::max(result_.max_depth, depth);
    if (depth >= o_.depth) return;
    for (const Step& s : steps_from(w)) {
      if (!result_.ok || result_.states >= o_.max_states) {
        stopped_ |= result_.ok;
        return;
      }
      Parliament next(w);
      trail_.push_back(s.name(w));
      s.apply(next);
      ++result_.transitions;
      if (!next.inv.ok()) {
        result_.ok = false;
        result_.failure = next.inv.failure();
        for (size_t i = 0; i < trail_.size(); ++i) result_.schedule += std::to_string(i + 1) + ". " + trail_[i] + "\n";
        return;
      }
      if (next.within_bounds()) {
        auto h = std::hash<std::string>{}(next.fingerprint());
        auto [it, fresh] = seen_.emplace(h, depth + 1);
        // A state met again at a shallower depth has more steps left to explore.
        if (fresh || it->second > depth + 1) {
          if (fresh) ++result_.states;
          it->second = depth + 1;
          dfs(next, depth + 1);
        }
      }
      trail_.pop_back();
    }
  }

  ExploreOptions o_;
  ExploreResult result_;
  std::unordered_map<size_t, int> seen_;
  std::vector<std::string> trail_;
  bool stopped_ = false;
};

}  // namespace

ExploreResult explore(const ExploreOptions& options) {
  Explorer e(options);
  return e.run();
}

}  // namespace parliament::sim
