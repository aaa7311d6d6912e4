#include "tests/sim/explore.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "proto/clerk.hpp"
#include "proto/node.hpp"
#include "proto/priest.hpp"
#include "tests/sim/invariants.hpp"
#include "tests/sim/volatile_disk.hpp"

namespace parliament::sim {

namespace {

struct Parliament;

// A priest's host in the explorer: its network (NodeHost) and its membership.json (Records).
// A retired priest runs on (stopping it later is only one of the runs explored).
struct XHost : NodeHost, Records {
  Parliament* world = nullptr;
  PriestId id = 0;
  bool send(const Message& m) override;
  void reply(const ClientReply& r) override;
  void note(const std::string&) override {}
  void peers(const std::vector<PriestAddress>& p) override;
  void retire(const std::string&) override {}
  void halt(const std::string& why) override;
  Status sync_ledger() override { return ok_status(); }  // (its ledger is durable at once)
  Status save_membership(const Membership& m, bool first) override;
};

// A priest's disk (volatile_disk.hpp) whose syncs complete as steps of their own; its
// ledger is durable as it is appended (the ledger's lagging sync is the simulator's).
// `joined` is its membership.json (the bootstrap's or the god's join, then what its ledger
// set); `peers` the links its priest asked for (Ready::peers): the host sends nowhere else.
struct Seat {
  VolatileDisk disk;
  XHost host;
  std::unique_ptr<parliament::Node> node;  // the priest, its clerk and the host's rules
  Membership joined;
  std::set<PriestId> peers;
  Priest& priest() { return node->priest(); }
  const Priest& priest() const { return node->priest(); }
};

// A priest's incarnation: its id and how many disks it has had, never 0.
uint64_t incarnation_of(PriestId id, int life) { return 0x1000ull * id + 0x100ull * life + 0xa; }

// The god's one change of the "change" start: asked of the president in the prefix, and
// (once) again at any priest after an error.
constexpr uint64_t kGodToken = 1000;
// Read k's token (client decree k's is k + 1).
constexpr uint64_t kReadToken = 2000;

// One state of the whole parliament: its priests, their disks, the messages on the wire,
// the clients, and the invariants' record of what happened on the way here.
struct Parliament {
  const ExploreOptions* o = nullptr;
  std::vector<Seat> nodes;  // by priest id; [0] unused
  std::vector<Message> wire;
  std::vector<PriestId> proposed_at;  // per client decree: where it was proposed (0: not yet)
  std::map<uint64_t, uint64_t> acked;  // client decree -> the number it was told
  // per read: -1 not begun; else the highest decree number acknowledged when it began, which
  // its answer must cover; read_done: 0 waiting, 1 refused (an error), 2 answered
  std::vector<int64_t> read_floor;
  std::vector<int> read_done;
  int crashes = 0, duplicates = 0, drops = 0;
  // the god's change (start "change"): asked, answered (decree number, or an error), retried
  std::optional<Change> change;
  uint64_t change_passed = 0;
  bool change_failed = false;
  int change_retries = 0;
  Invariants inv;

  // Priests 1..o.priests form the bootstrap membership; `learners` more ids run blank from
  // the start, joined to it as learners (a priest the god is about to add).
  Parliament(const ExploreOptions& opt, int learners) : o(&opt) {
    nodes.resize(opt.priests + learners + 1);
    proposed_at.assign(opt.decrees, 0);
    read_floor.assign(opt.reads, -1);
    read_done.assign(opt.reads, 0);
    Membership boot;
    for (size_t i = 1; i < nodes.size(); ++i) {
      nodes[i].disk.id = nodes[i].host.id = i;
      nodes[i].disk.incarnation = incarnation_of(i, 0);
      if (i <= static_cast<size_t>(opt.priests)) boot.priests.push_back(address(i));
    }
    inv = Invariants(boot);
    bind();
    for (size_t i = 1; i < nodes.size(); ++i)
      start(i, &boot, i <= static_cast<size_t>(opt.priests) ? First::Bootstrap : First::Join);
  }
  Parliament(const Parliament& other)
      : o(other.o), nodes(other.nodes.size()), wire(other.wire), proposed_at(other.proposed_at),
        acked(other.acked), read_floor(other.read_floor), read_done(other.read_done), crashes(other.crashes), duplicates(other.duplicates), drops(other.drops),
        change(other.change), change_passed(other.change_passed), change_failed(other.change_failed),
        change_retries(other.change_retries), inv(other.inv) {
    for (size_t i = 1; i < nodes.size(); ++i) {
      nodes[i].disk = other.nodes[i].disk;
      nodes[i].host = other.nodes[i].host;
      nodes[i].joined = other.nodes[i].joined;
      nodes[i].peers = other.nodes[i].peers;
    }
    bind();
    for (size_t i = 1; i < nodes.size(); ++i)
      nodes[i].node = std::make_unique<parliament::Node>(*other.nodes[i].node, nodes[i].disk, nodes[i].host, nodes[i].host);
  }
  Parliament& operator=(const Parliament&) = delete;

  void bind() {
    for (auto& n : nodes) {
      n.disk.inv = &inv;
      n.host.world = this;
    }
  }
  PriestAddress address(PriestId id) const {
    return PriestAddress{id, "x", static_cast<uint16_t>(7000 + id), "x", nodes[id].disk.incarnation};
  }

  PriestOptions tuning() const {
    PriestOptions po;
    po.heartbeat_ticks = 1;
    po.election_timeout_ticks = 2;
    po.max_batch_decrees = 1;
    po.catch_up_chunk = 1;
    po.seed = o->seed;
    return po;
  }

  // Starts priest `id` from what its disk holds (Node::restore), as paxos-priest does; a
  // blank disk is then given `first` by the god: bootstrapped with it, or joined to it as a
  // learner.
  enum class First { Bootstrap, Join };
  void start(PriestId id, const Membership* first = nullptr, First how = First::Join) {
    Seat& n = nodes[id];
    Recovery files;
    files.promise(n.disk.next_bal);
    for (auto& [num, v] : n.disk.votes) files.vote(v);
    for (auto& e : n.disk.ledger) files.passed(e);
    n.node.reset();
    n.peers.clear();
    n.node = std::make_unique<parliament::Node>(id, n.disk.incarnation, tuning(), n.disk, n.host, n.host);
    inv.restarted(id, n.disk.incarnation, n.disk.next_bal);
    std::optional<Membership> recorded;
    if (!n.joined.priests.empty()) recorded = n.joined;
    Status s = n.node->restore(files.done(), recorded);
    if (s && n.node->recorded()) n.node->begin();  // its first Ready names its peers
    else if (s && first && how == First::Bootstrap) s = as_status(n.node->bootstrap(*first));
    else if (s && first) s = as_status(n.node->join(*first));
    if (!s) inv.fail("priest " + std::to_string(id) + " does not start: " + s.error());
  }
  static Status as_status(const Result<bool>& r) { return r ? ok_status() : Status::failure(r.error()); }

  // The disk under `id` is lost: it comes back blank, a new incarnation, joined by the god
  // to the membership in force as a learner.
  void lose_disk(PriestId id, const Membership& in_force) {
    Seat& n = nodes[id];
    uint64_t life = (n.disk.incarnation & 0xf00) / 0x100 + 1;
    n.node.reset();
    n.disk = VolatileDisk{};
    n.disk.id = id;
    n.disk.incarnation = incarnation_of(id, static_cast<int>(life));
    bind();
    n.joined = Membership{};
    start(id, &in_force);
  }

  static std::string decree_text(size_t k) { return "decree " + std::to_string(k + 1); }

  std::string fingerprint() const {
    std::string s;
    for (size_t i = 1; i < nodes.size(); ++i) {
      const Seat& n = nodes[i];
      s += "#" + n.priest().fingerprint() + "|" + n.node->clerk().fingerprint() + "|d" + to_string(n.disk.next_bal) + ":" +
           std::to_string(n.disk.votes.size()) + ":" + std::to_string(n.disk.ledger.size()) + ":" +
           std::to_string(n.disk.unsynced.size()) + ":" + std::to_string(n.disk.syncing) + ":" +
           std::to_string(n.disk.incarnation) + ":" + std::to_string(n.joined.decree_no);
      for (auto& [num, v] : n.disk.votes) s += "," + std::to_string(num) + "@" + to_string(v.ballot);
      s += "|p";
      for (auto p : n.peers) s += std::to_string(p) + ",";
    }
    std::vector<std::string> msgs;
    for (auto& m : wire) msgs.push_back(encode_text(m));
    std::sort(msgs.begin(), msgs.end());
    for (auto& m : msgs) s += "\n" + m;
    s += "\nc";
    for (auto p : proposed_at) s += std::to_string(p) + ",";
    for (auto& [k, n] : acked) s += std::to_string(k) + "=" + std::to_string(n) + ",";
    for (size_t k = 0; k < read_floor.size(); ++k)
      s += "r" + std::to_string(read_floor[k]) + ":" + std::to_string(read_done[k]) + ",";
    s += std::to_string(crashes) + "," + std::to_string(duplicates) + "," + std::to_string(drops);
    if (change)
      s += "g" + std::to_string(change_passed) + "," + std::to_string(change_failed) + "," + std::to_string(change_retries);
    return s;
  }

  bool within_bounds() const {
    if (static_cast<int>(wire.size()) > o->max_in_flight) return false;
    for (size_t i = 1; i < nodes.size(); ++i)
      if (nodes[i].priest().next_bal().round > static_cast<uint64_t>(o->max_round)) return false;
    return true;
  }
};

bool XHost::send(const Message& sent) {
  Message m = sent;
  auto& n = world->nodes[id];
  m.incarnation = n.disk.incarnation;  // as the receiving host knows it: from the connection
  world->inv.sent(m, n.disk.next_bal, n.disk.ledger.size());
  if (!n.peers.count(m.to)) return false;  // no link to a priest its priest does not name
  world->wire.push_back(m);
  return true;
}

void XHost::peers(const std::vector<PriestAddress>& p) {
  auto& set = world->nodes[id].peers;
  set.clear();
  for (auto& a : p) set.insert(a.id);
}

Status XHost::save_membership(const Membership& m, bool) {
  world->nodes[id].joined = m;
  return ok_status();
}

void XHost::halt(const std::string& why) { world->inv.fail("priest " + std::to_string(id) + " halted: " + why); }

void XHost::reply(const ClientReply& r) {
  if (r.token == kGodToken) {
    if (!world->change) return;
    if (!r.error.empty()) {
      world->change_failed = true;
      return;
    }
    world->change_failed = false;
    world->change_passed = r.decree_no;
    world->inv.change_acknowledged(*world->change, r.decree_no);
    return;
  }
  if (r.token >= kReadToken && r.token < kReadToken + world->read_floor.size()) {
    size_t k = r.token - kReadToken;
    world->read_done[k] = r.error.empty() ? 2 : 1;
    if (r.error.empty() && static_cast<int64_t>(r.decree_no) < world->read_floor[k])
      world->inv.fail("a read begun after decree " + std::to_string(world->read_floor[k]) +
                      " was acknowledged was answered with the ledger up to decree " +
                      std::to_string(r.decree_no) + " only (priest " + std::to_string(id) + ")");
    return;
  }
  if (r.decree_no == 0 || r.token == 0) return;
  uint64_t k = r.token - 1;
  world->acked[k] = r.decree_no;
  world->inv.acknowledged(1000 + k, 1, r.decree_no);
}

// One step from a state; apply() changes the state, name() says what it was.
struct Step {
  enum Type { Deliver, Drop, Duplicate, Tick, Sync, Crash, Propose, AskAgain, Read } type;
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
      case AskAgain:
        return "the god asks priest " + std::to_string(priest) + " again to " + describe(*w.change);
      case Read:
        return "a client reads (read " + std::to_string(decree + 1) + ") at priest " + std::to_string(priest);
    }
    return "?";
  }

  void apply(Parliament& w) const {
    switch (type) {
      case Deliver: {
        Message m = w.wire[index];
        w.wire.erase(w.wire.begin() + index);
        Seat& n = w.nodes[m.to];
        if (auto why = n.priest().step(m); !why.empty())
          w.inv.fail("priest " + std::to_string(m.to) + " refused an honest " + name_of(m.kind) + ": " + why);
        n.node->flush();
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
        Seat& n = w.nodes[priest];
        n.priest().tick();
        n.node->flush();
        break;
      }
      case Sync: {
        Seat& n = w.nodes[priest];
        n.disk.complete_sync();
        n.node->clerk().votes_synced(ok_status());
        break;
      }
      case Crash: {
        Seat& n = w.nodes[priest];
        n.disk.crash_keep(0);
        ++w.crashes;
        w.start(priest);
        n.node->flush();
        break;
      }
      case Propose: {
        Seat& n = w.nodes[priest];
        w.proposed_at[decree] = priest;
        w.inv.proposed(1000 + decree, 1, Parliament::decree_text(decree));
        n.priest().propose(Proposal{decree + 1, Decree{false, 1000 + decree, 1, Parliament::decree_text(decree), {}}});
        n.node->flush();
        break;
      }
      case AskAgain: {
        Seat& n = w.nodes[priest];
        ++w.change_retries;
        w.change_failed = false;
        n.priest().propose_change(kGodToken, *w.change);
        n.node->flush();
        break;
      }
      case Read: {
        Seat& n = w.nodes[priest];
        int64_t floor = 0;
        for (auto& [k, no] : w.acked) floor = std::max(floor, static_cast<int64_t>(no));
        w.read_floor[decree] = floor;
        n.priest().read(kReadToken + decree);
        n.node->flush();
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
  const PriestId last = static_cast<PriestId>(w.nodes.size() - 1);
  for (PriestId p = 1; p <= last; ++p) {
    out.push_back(Step{Step::Tick, 0, p});
    if (w.nodes[p].disk.syncing > 0) out.push_back(Step{Step::Sync, 0, p});
    if (w.crashes < o.crashes) out.push_back(Step{Step::Crash, 0, p});
  }
  for (size_t k = 0; k < w.proposed_at.size(); ++k)
    if (!w.proposed_at[k])
      for (PriestId p = 1; p <= last; ++p) out.push_back(Step{Step::Propose, 0, p, k});
  for (size_t k = 0; k < w.read_floor.size(); ++k)
    if (w.read_floor[k] < 0)
      for (PriestId p = 1; p <= last; ++p) out.push_back(Step{Step::Read, 0, p, k});
  if (w.change && w.change_failed && w.change_retries < 1)
    for (PriestId p = 1; p <= last; ++p) out.push_back(Step{Step::AskAgain, 0, p});
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
  Seat& n = w.nodes[who];
  for (int t = 0; t < 100 && n.priest().role() != Role::President; ++t) {
    if (n.priest().role() == Role::Follower) {
      n.priest().tick();
      n.node->flush();
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
  if (start == "change") {
    // Three priests; priest 1 is president and decree 1 passed. The god asks priest 1 to
    // change the membership; the prefix runs (every message delivered in order, only priest
    // 1's clock moving) until priest 1 has begun the membership decree, and stops with its
    // begin ballots on the wire.
    const ExploreOptions& o = *w.o;
    if (o.priests != 3 || o.decrees < 1) return "--start change needs --priests 3 and --decrees 1 or more";
    elect(w, 1, none);
    propose(w, 0, 1);
    settle(w, none);
    for (int t = 0; t < 3; ++t) {
      Step{Step::Tick, 0, 1}.apply(w);
      settle(w, none);
    }
    if (w.nodes[1].priest().passed_len() < 1) return "the change prefix did not pass decree 1";
    Change c;
    if (o.change == "add") {
      // priest 4 has run blank, joined as a learner, from the start (see explore())
      c = Change{Change::Op::Add, w.address(4), false};
    } else if (o.change == "replace") {
      // priest 3's disk is lost: it comes back blank, a new incarnation, as a learner
      w.lose_disk(3, w.inv.era(w.inv.known_len() + 1));
      c = Change{Change::Op::Replace, w.address(3), false};
    } else if (o.change == "remove") {
      // the president itself, leaving two priests (forced)
      c.op = Change::Op::Remove;
      c.priest.id = 1;
      c.force = true;
    } else {
      return "unknown change \"" + o.change + "\" (add, replace, remove)";
    }
    w.change = c;
    w.inv.change_requested(c);
    Seat& p = w.nodes[1];
    p.priest().propose_change(kGodToken, c);
    p.node->flush();
    auto begun = [&] { return p.priest().status().change.find("decree begun") != std::string::npos; };
    for (int guard = 0; guard < 2000 && !begun(); ++guard) {
      bool synced = false;
      for (size_t i = 1; i < w.nodes.size(); ++i)
        if (w.nodes[i].disk.syncing) {
          Step{Step::Sync, 0, static_cast<PriestId>(i)}.apply(w);
          synced = true;
        }
      if (synced) continue;
      if (!w.wire.empty()) Step{Step::Deliver, 0}.apply(w);
      else Step{Step::Tick, 0, 1}.apply(w);
    }
    if (!begun() || p.priest().role() != Role::President) return "the change prefix did not begin the membership decree";
    // A client proposes the next decree to the president while the change is in flight:
    // it must wait for the new membership (or, the president removed, for a new president).
    if (o.decrees >= 2) propose(w, 1, 1);
    return "";
  }
  if (start == "split") {
    if (w.o->priests != 5 || w.o->decrees < 2) return "--start split needs --priests 5 and --decrees 2 or more";
    elect(w, 1, none);
    auto side = [](PriestId p) { return p <= 2; };
    auto split = [&](PriestId a, PriestId b) { return side(a) != side(b); };
    propose(w, 0, 1);
    settle(w, split);
    // 3, 4 and 5, cut from the president, elect one of them (their clocks move, so the
    // president's lease lapses; the first whose election timeout passes stands)
    PriestId q = 0;
    for (int t = 0; t < 200 && !q; ++t) {
      for (PriestId id : {3, 4, 5}) {
        w.nodes[id].priest().tick();
        w.nodes[id].node->flush();
      }
      settle(w, split);
      for (PriestId id : {3, 4, 5})
        if (w.nodes[id].priest().role() == Role::President) q = id;
    }
    if (!q) return "the split prefix elected nobody among 3, 4 and 5";
    propose(w, 1, q);
    settle(w, split);
    for (int t = 0; t < 3; ++t) {
      Step{Step::Tick, 0, q}.apply(w);
      settle(w, split);
    }
    PriestId follower = q == 5 ? 4 : 5;
    if (w.nodes[1].priest().role() != Role::President || w.nodes[q].priest().role() != Role::President ||
        w.nodes[2].disk.votes.empty() || w.nodes[follower].disk.ledger.empty())
      return "the split prefix did not reach its state";
    return "";
  }
  return "unknown start \"" + start + "\" (scratch, elected, split, change)";
}

class Explorer {
 public:
  explicit Explorer(const ExploreOptions& o) : o_(o) {}

  ExploreResult run() {
    Parliament start(o_, o_.start == "change" && o_.change == "add" ? 1 : 0);
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
    start_ = std::make_unique<Parliament>(start);
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
      trail_.push_back(s);
      s.apply(next);
      ++result_.transitions;
      if (!next.inv.ok()) {
        result_.ok = false;
        result_.failure = next.inv.failure();
        // The steps' names, by replaying them from the start (the search keeps only steps).
        Parliament replay(*start_);
        for (size_t i = 0; i < trail_.size(); ++i) {
          result_.schedule += std::to_string(i + 1) + ". " + trail_[i].name(replay) + "\n";
          trail_[i].apply(replay);
        }
        return;
      }
      if (next.within_bounds()) {
        auto h = std::hash<std::string>{}(next.fingerprint());
        auto [it, fresh] = seen_.emplace(h, depth + 1);
        // A state met again at a shallower depth has more steps left to explore.
        if (fresh || it->second > depth + 1) {
          if (fresh) {
            ++result_.states;
            if (next.change) {
              bool in_ledger = false;
              for (size_t i = 1; i < next.nodes.size(); ++i)
                for (auto& e : next.nodes[i].disk.ledger) in_ledger |= e.decree.membership;
              result_.change_passed += in_ledger;
              result_.change_acknowledged += next.change_passed > 0;
            }
            for (size_t k = 0; k < next.read_done.size(); ++k)
              if (next.read_done[k] == 2) {
                ++result_.reads_answered;
                break;
              }
          }
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
  std::unique_ptr<Parliament> start_;
  std::vector<Step> trail_;
  bool stopped_ = false;
};

}  // namespace

ExploreResult explore(const ExploreOptions& options) {
  Explorer e(options);
  return e.run();
}

}  // namespace parliament::sim
