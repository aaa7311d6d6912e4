// paxos-god: creates the priests and tells them who the parliament is.
//
//   paxos-god --config FILE bootstrap [--timeout 30]
//       Bootstraps a parliament that has not begun: asks every priest of the configuration
//       its incarnation, then sends each the membership (ids, incarnations, addresses) until
//       it says "bootstrapped". Harmless to repeat. Refused, naming the priest and the safe
//       command, where a priest is blank (a new incarnation) in a parliament that has begun.
//   paxos-god --config FILE add ID HOST:PORT | remove ID [--force] | replace ID [HOST:PORT]
//       [--json] [--timeout 60]
//       Changes the membership by decree, one change at a time, and exits 0 once the
//       membership decree has passed, printing the membership in force. add and replace
//       first tell the (blank, running) priest at HOST:PORT to join: the president teaches
//       it the ledger before the change makes it a voter. The membership records each
//       priest's key as the god saw it; replace refuses a new incarnation that presents the
//       key of the one it replaces unless --keep-key (see same_key).
//   paxos-god --config FILE up [--data-dir data] [--priest-bin PATH] [--timeout 30]
//       Starts one paxos-priest per priest of the configuration, bootstraps them, and stays in
//       the foreground until SIGINT/SIGTERM, then stops them (SIGTERM, then SIGKILL after 5 s).
//       A priest that dies is reported with the command that restarts it, not restarted.
//   paxos-god --config FILE certs [--out DIR] [--priest ID]... [--client NAME]... [--force|--new-key]
//       Makes the parliament's CA (DIR/ca.crt, ca.key) if DIR has none, and a key and
//       certificate for every priest of the configuration, the god and the client, keeping
//       files that exist (--force: everything anew, the CA included; --new-key: anew for the
//       --priest and --client parties named). --rotate-ca begin|sign|finish: rotate the CA
//       without stopping the parliament, one step at a time. See server/certs.hpp.
//   paxos-god --config FILE revoke NAME [--json] [--timeout 60]
//       Revokes a named client's certificate by decree.
//
// Exit status: 0 done, 1 the parliament could not be created, 2 bad input.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "client/rpc.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "server/certs.hpp"
#include "server/transport.hpp"  // kExitRemoved

using namespace parliament;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

Result<Config> load_config(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Result<Config>::failure("cannot read " + file + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), file);
}

std::string id_list(const std::vector<PriestId>& ids) {
  std::string s;
  for (auto id : ids) s += (s.empty() ? "" : ", ") + std::to_string(id);
  return s;
}

// ---- bootstrap ----

enum class Outcome { Done, Refused, TimedOut, Interrupted };

struct BootstrapHooks {
  std::function<bool()> interrupted = [] { return false; };       // stop asking
  std::function<bool(PriestId)> gone = [](PriestId) { return false; };  // its process died
};

// What became of one priest's bootstrap.
struct Knock {
  std::atomic<bool> done{false};     // bootstrapped, or refused, or given up
  std::atomic<bool> give_up{false};  // set by the god: stop asking this priest
  bool bootstrapped = false;
  bool refused = false;
  std::string last_error = "not asked yet";
};

// A short pause between knocks, never past the deadline.
void pause_before(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
  if (left.count() > 0) std::this_thread::sleep_for(std::min(Millis(200), left));
}

// Asks one priest until it answers, the deadline passes, or the god gives up on it.
void knock(const PriestAddress& p, const json& request, Clock::time_point deadline, Knock& k) {
  while (!k.give_up) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto reply = call_priest(p, request, std::min(left, Millis(1000)));
    if (!reply) {
      k.last_error = reply.error();
      pause_before(deadline);
      continue;
    }
    const json& r = *reply;
    const std::string type = r.value("type", "");
    auto id = r.find("id");
    if (type == "bootstrapped" && id != r.end() && id->is_number_unsigned() &&
        id->get<uint64_t>() != p.id) {
      spdlog::error("god: the priest at {}:{} says it is priest {}, but the configuration names "
                    "priest {} there; fix the configuration or that priest's --id",
                    p.host, p.port, id->dump(), p.id);
      k.refused = true;
    } else if (type == "bootstrapped") {
      if (r.value("already", false))
        spdlog::info("god: priest {} was already bootstrapped with this membership", p.id);
      else
        spdlog::info("god: priest {} bootstrapped", p.id);
      k.bootstrapped = true;
    } else if (type == "error") {
      spdlog::error("god: priest {} refused the membership: {}", p.id,
                    r.value("error", std::string("(no reason given)")));
      k.refused = true;
    } else {
      k.last_error = "unexpected reply " + r.dump();
      pause_before(deadline);
      continue;
    }
    break;
  }
  k.done = true;
}

// Every priest's status, asked until each answers (or the deadline, or the hooks say stop),
// each with "key": the public key of the certificate that answered, as the god saw it on
// that connection (never what the priest wrote). nullopt if some never answered;
// `answered` then holds the answers there were.
std::optional<std::vector<json>> survey(const Config& config, Clock::time_point deadline,
                                        const BootstrapHooks& hooks,
                                        std::vector<std::optional<json>>& answered) {
  std::vector<std::optional<json>> got(config.priests.size());
  std::vector<std::string> why(config.priests.size(), "not asked yet");
  for (;;) {
    std::vector<std::thread> askers;
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i]) continue;
      askers.emplace_back([&, i] {
        std::string key;
        auto r = call_priest(config.priests[i], json{{"type", "status"}}, Millis(1000), &key);
        if (r && r->value("type", "") == "status" && r->contains("incarnation")) {
          got[i] = *r;
          (*got[i])["key"] = key;
        }
        else why[i] = r ? "unexpected reply " + r->dump() : r.error();
      });
    }
    for (auto& t : askers) t.join();
    bool all = std::all_of(got.begin(), got.end(), [](auto& g) { return g.has_value(); });
    if (all) break;
    bool dead = false;
    for (size_t i = 0; i < got.size(); ++i) dead |= !got[i] && hooks.gone(config.priests[i].id);
    if (Clock::now() >= deadline || hooks.interrupted() || dead) {
      for (size_t i = 0; i < got.size(); ++i)
        if (!got[i])
          spdlog::error("god: priest {} at {}:{} did not answer: {}", config.priests[i].id,
                        config.priests[i].host, config.priests[i].port, why[i]);
      answered = got;
      return std::nullopt;
    }
    pause_before(deadline);
  }
  std::vector<json> out;
  for (auto& g : got) out.push_back(*g);
  return out;
}

// The membership to bootstrap, from every priest's status: the configuration with each
// priest's incarnation, for a parliament that has not begun; the membership the
// bootstrapped priests already hold, to finish a bootstrap that was cut short. Refused (with
// the safe command) where a priest is a new incarnation in a parliament that has begun.
Result<std::vector<PriestAddress>> bootstrap_membership(const Config& config,
                                                        const std::vector<json>& status,
                                                        const std::string& config_file) {
  using R = Result<std::vector<PriestAddress>>;
  std::optional<Membership> held;
  PriestId holder = 0;
  for (size_t i = 0; i < status.size(); ++i) {
    if (!status[i].contains("membership")) continue;
    auto m = parse_membership(status[i]["membership"], "status.membership");
    if (m && (!held || m->decree_no > held->decree_no)) held = *m, holder = config.priests[i].id;
  }
  std::vector<PriestAddress> out = config.priests;
  for (size_t i = 0; i < status.size(); ++i) {
    auto inc = parse_incarnation(status[i].value("incarnation", ""));
    if (!inc) return R::failure("priest " + std::to_string(config.priests[i].id) + " did not say its incarnation");
    out[i].incarnation = *inc;
    out[i].key = status[i].value("key", "");
  }
  if (!held) {
    for (size_t i = 0; i < status.size(); ++i)
      if (status[i].value("begun", false))
        return R::failure("priest " + std::to_string(config.priests[i].id) +
                          " holds a promise or decrees but no membership; its data directory is not a bootstrapped one");
    return out;
  }
  // The parliament has begun (a priest holds a membership). Each priest must be the very
  // incarnation that membership names; a blank one is a new priest, replaced by decree.
  for (size_t i = 0; i < status.size(); ++i) {
    const PriestAddress& p = out[i];
    if (status[i].contains("membership")) continue;  // in the parliament already
    const PriestAddress* named = held->find(p.id);
    if (named && named->incarnation == p.incarnation && held->decree_no == 0) continue;
    std::string cmd = "paxos-god --config " + config_file + (named ? " replace " : " add ") +
                      std::to_string(p.id) + (named ? "" : " " + p.host + ":" + std::to_string(p.port));
    return R::failure(
        "priest " + std::to_string(p.id) + " at " + p.host + ":" + std::to_string(p.port) +
        " is incarnation " + incarnation_text(p.incarnation) +
        (named ? ", but the parliament (as priest " + std::to_string(holder) + " holds it, membership of decree " +
                     std::to_string(held->decree_no) + ") names incarnation " + incarnation_text(named->incarnation) +
                     ": its data directory was lost or replaced, and a priest that forgot its promises and votes must "
                     "never count as the one that remembered them"
               : ", and the parliament (membership of decree " + std::to_string(held->decree_no) + ") does not name it") +
        ". Bootstrap refused. Change the membership by decree instead: " + cmd);
  }
  return held->priests;
}

// Sends the membership to every priest, all at once, until each has it. Bounded by
// `timeout`; a silent priest does not hold up the others.
Outcome bootstrap(const Config& config, const std::string& config_file, Millis timeout,
                  const BootstrapHooks& hooks = {}) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::optional<json>> answered;
  auto status = survey(config, deadline, hooks, answered);
  if (!status) {
    // Not every priest answered, so nothing is bootstrapped; but a blank priest among
    // those that did, in a parliament they show has begun, is named now.
    Config some = config;
    std::vector<json> got;
    some.priests.clear();
    for (size_t i = 0; i < answered.size(); ++i)
      if (answered[i]) some.priests.push_back(config.priests[i]), got.push_back(*answered[i]);
    if (auto m = bootstrap_membership(some, got, config_file); !m) {
      spdlog::error("god: {}", m.error());
      return Outcome::Refused;
    }
    return hooks.interrupted() ? Outcome::Interrupted : Outcome::TimedOut;
  }
  auto members = bootstrap_membership(config, *status, config_file);
  if (!members) {
    spdlog::error("god: {}", members.error());
    return Outcome::Refused;
  }
  const json request = {{"type", "bootstrap"}, {"priests", priests_to_json(*members)}};
  std::vector<Knock> knocks(config.priests.size());
  std::vector<std::thread> knockers;
  for (size_t i = 0; i < config.priests.size(); ++i) {
    if ((*status)[i].contains("membership")) {  // nothing to send: it is in the parliament
      spdlog::info("god: priest {} was already bootstrapped (it is in the parliament)", config.priests[i].id);
      knocks[i].bootstrapped = true;
      knocks[i].done = true;
      continue;
    }
    knockers.emplace_back(knock, std::cref(config.priests[i]), std::cref(request), deadline,
                          std::ref(knocks[i]));
  }
  std::vector<PriestId> dead;
  bool interrupted = false;
  for (;;) {
    bool all_done = true, refused = false;
    for (size_t i = 0; i < knocks.size(); ++i) {
      all_done = all_done && knocks[i].done;
      refused = refused || (knocks[i].done && knocks[i].refused);
      if (!knocks[i].done && !knocks[i].give_up && hooks.gone(config.priests[i].id)) {
        knocks[i].give_up = true;
        dead.push_back(config.priests[i].id);
      }
    }
    if (all_done) break;
    if (refused || hooks.interrupted()) {
      interrupted = !refused;
      for (auto& k : knocks) k.give_up = true;
    }
    std::this_thread::sleep_for(Millis(50));
  }
  for (auto& t : knockers) t.join();

  std::vector<PriestId> silent;
  for (size_t i = 0; i < knocks.size(); ++i) {
    if (knocks[i].refused) return Outcome::Refused;
    if (!knocks[i].bootstrapped) silent.push_back(config.priests[i].id);
  }
  if (interrupted) return Outcome::Interrupted;
  if (!dead.empty())
    spdlog::warn("god: priest{} {} exited before being bootstrapped; once restarted, run "
                 "paxos-god bootstrap again", dead.size() == 1 ? "" : "s", id_list(dead));
  std::erase_if(silent, [&](PriestId id) {
    return std::find(dead.begin(), dead.end(), id) != dead.end();
  });
  if (!silent.empty()) {
    spdlog::error("god: bootstrap gave up after {} ms: priest{} {} never answered",
                  timeout.count(), silent.size() == 1 ? "" : "s", id_list(silent));
    for (size_t i = 0; i < knocks.size(); ++i)
      if (std::find(silent.begin(), silent.end(), config.priests[i].id) != silent.end())
        spdlog::error("god:   priest {}: {}", config.priests[i].id, knocks[i].last_error);
  }
  if (!silent.empty() || !dead.empty()) return Outcome::TimedOut;
  spdlog::info("god: all {} priests know the parliament's membership", config.priests.size());
  return Outcome::Done;
}

// ---- membership changes ----

void print_membership(const Membership& m, bool as_json) {
  if (as_json) {
    std::printf("%s\n", membership_to_json(m).dump().c_str());
    return;
  }
  std::printf("membership in force (set by %s): %zu priests, quorum %zu\n",
              m.decree_no ? ("decree " + std::to_string(m.decree_no)).c_str() : "the bootstrap",
              m.priests.size(), m.quorum());
  for (const auto& p : m.priests)
    std::printf("  priest %-3u %s:%u  incarnation %s%s%s\n", p.id, p.host.c_str(), p.port,
                incarnation_text(p.incarnation).c_str(), p.key.empty() ? "" : "  key ",
                p.key.substr(0, 16).c_str());
  for (const auto& n : m.revoked) std::printf("  revoked client %s\n", n.c_str());
  for (const auto& r : m.retired)
    std::printf("  retired priest %u incarnation %s%s%s\n", r.id, incarnation_text(r.incarnation).c_str(),
                r.key.empty() ? "" : "  key ", r.key.substr(0, 16).c_str());
}

// An error a retry can get past: an election, another change under way, a lost answer.
bool worth_retrying(const json& reply) {
  std::string e = reply.value("error", "");
  return reply.value("outcome_unknown", false) || e.find("retry") != std::string::npos ||
         e.rfind("no quorum", 0) == 0 || e.rfind("ballot ", 0) == 0 ||
         e.find("not in a parliament yet") != std::string::npos;
}

// Why a replace may not keep the key the membership records for the life it replaces ("" if
// it may): `remove` and `replace` cut the old identity off at their decree, and an identity
// is its key, so a replacement that presents the old key would leave whoever holds it
// speaking for that priest. `keep_key` (--keep-key): the operator knows the key is safe (a
// disk lost, the key kept on the host); the old incarnation is still retired.
std::string same_key(const Membership& held, const Change& c, bool keep_key) {
  const PriestAddress* was = held.find(c.priest.id);
  if (c.op != Change::Op::Replace || keep_key || !was || was->key.empty() || was->key != c.priest.key) return "";
  const std::string id = std::to_string(c.priest.id);
  return "priest " + id + " presents the key the membership records for the incarnation it replaces (" +
         incarnation_text(was->incarnation) + "): whoever holds that key would still speak for priest " + id +
         ". Make it a new key (paxos-god --config FILE certs --priest " + id +
         " --new-key), restart it with the new files and run this again; or, if the key is safe (only the disk "
         "was lost), run again with --keep-key";
}

// add / remove / replace: join the new priest (add, replace), then ask the parliament for
// the membership decree until it passed or the deadline. Exit 0 passed (or was in force
// already), 1 not done, 2 bad input.
int change_membership(const Config& config, Change c, const std::string& address,
                      bool as_json, Millis timeout, bool keep_key = false) {
  const auto deadline = Clock::now() + timeout;
  auto held = discover_membership(config.priests, Millis(1000));
  if (!held) {
    spdlog::error("god: no priest of the configuration answered with a membership: is the "
                  "parliament running, and bootstrapped?");
    return 1;
  }
  const std::string who = c.op == Change::Op::Revoke ? "client " + c.client : "priest " + std::to_string(c.priest.id);
  if (c.op == Change::Op::Revoke) {
    if (already_applied(*held, c)) {
      spdlog::info("god: {} is revoked already", who);
      print_membership(*held, as_json);
      return 0;
    }
  } else if (c.op != Change::Op::Remove) {
    PriestAddress target;
    if (!address.empty()) {
      auto a = parse_address(address, c.priest.id, "ADDRESS");
      if (!a) {
        spdlog::error("god: {}", a.error());
        return 2;
      }
      target = *a;
    } else if (const PriestAddress* was = held->find(c.priest.id)) {
      target = *was;
    } else {
      spdlog::error("god: {} is not a member; give its address", who);
      return 2;
    }
    target.id = c.priest.id;
    // The priest to join must be running: ask it who it is, until it answers.
    Result<json> st = Result<json>::failure("not asked");
    while (Clock::now() < deadline) {
      st = call_priest(target, json{{"type", "status"}}, Millis(1000), &target.key);
      if (st) break;
      pause_before(deadline);
    }
    if (!st) {
      spdlog::error("god: {} at {}:{} did not answer ({}); start it first (a blank data "
                    "directory), then run this again", who, target.host, target.port, st.error());
      return 1;
    }
    if (st->value("id", 0u) != c.priest.id) {
      spdlog::error("god: the priest at {}:{} says it is priest {}, not {}", target.host,
                    target.port, st->value("id", 0u), c.priest.id);
      return 2;
    }
    auto inc = parse_incarnation(st->value("incarnation", ""));
    if (!inc) {
      spdlog::error("god: {} did not say its incarnation: {}", who, st->dump());
      return 1;
    }
    target.incarnation = *inc;
    c.priest = target;
    if (already_applied(*held, c)) {
      spdlog::info("god: {} with incarnation {} is a member already", who, incarnation_text(*inc));
      print_membership(*held, as_json);
      return 0;
    }
    if (const PriestAddress* was = held->find(c.priest.id);
        was && c.op == Change::Op::Add) {
      spdlog::error("god: {} is a member already (incarnation {}); to give it a new data "
                    "directory, replace it", who, incarnation_text(was->incarnation));
      return 2;
    }
    if (!held->find(c.priest.id) && c.op == Change::Op::Replace) {
      spdlog::error("god: {} is not a member; add it instead", who);
      return 2;
    }
    if (auto why = same_key(*held, c, keep_key); !why.empty()) {
      spdlog::error("god: {}", why);
      return 2;
    }
    if (st->value("begun", false) && !st->contains("membership")) {
      spdlog::error("god: {} at {}:{} is not blank (it holds a promise or decrees)", who,
                    target.host, target.port);
      return 2;
    }
    // A blank priest, or one still learning a membership older than the one in force (the
    // priests that could teach it may have been replaced since): join it to the one in force.
    const bool learning_older = st->contains("membership") && !st->value("voter", false) &&
                                (*st)["membership"].value("decree_no", uint64_t(0)) < held->decree_no;
    if (!st->contains("membership") || learning_older) {
      auto j = call_priest(target, json{{"type", "join"}, {"membership", membership_to_json(*held)}},
                           Millis(5000));
      if (!j || j->value("type", "") != "joined") {
        spdlog::error("god: {} did not join: {}", who, j ? j->value("error", j->dump()) : j.error());
        return 1;
      }
      spdlog::info("god: {} (incarnation {}) joined: it learns the ledger from the president",
                   who, incarnation_text(*inc));
    }
  } else if (already_applied(*held, c)) {
    spdlog::info("god: {} is not a member", who);
    print_membership(*held, as_json);
    return 0;
  }

  const json request = {{"type", "change"}, {"change", change_to_json(c)}};
  std::string last = "no priest answered";
  for (size_t turn = 0; Clock::now() < deadline; ++turn) {
    const PriestAddress& p = held->priests[turn % held->priests.size()];
    if (p.id == c.priest.id && c.op != Change::Op::Add && c.op != Change::Op::Revoke) continue;  // ask the others
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    // (A priest that neither answers nor closes is left after 15 s; asking again is safe:
    // a change already in force is answered as such.)
    auto r = call_priest(p, request, std::clamp(left, Millis(1), Millis(15000)));
    if (!r) {
      last = r.error();
      continue;
    }
    if (r->value("ok", false)) {
      uint64_t n = r->value("decree_no", uint64_t{0});
      spdlog::info("god: {} by decree {}", describe(c), n);
      // Print what is in force, as the priests now say (the decree has passed).
      for (;;) {
        auto now_held = discover_membership(held->priests, Millis(1000));
        if (now_held && now_held->decree_no >= n) {
          print_membership(*now_held, as_json);
          return 0;
        }
        if (Clock::now() >= deadline) break;
        std::this_thread::sleep_for(Millis(100));
      }
      print_membership(*held, as_json);
      return 0;
    }
    last = "priest " + std::to_string(p.id) + ": " + r->value("error", r->dump());
    if (!worth_retrying(*r)) {
      spdlog::error("god: {} refused: {}", describe(c), last);
      return 1;
    }
    spdlog::info("god: {}; trying again", last);
    pause_before(deadline);
  }
  spdlog::error("god: {} did not pass within {} ms: {}", describe(c), timeout.count(), last);
  return 1;
}

// ---- up ----

struct Child {
  PriestId id = 0;
  pid_t pid = -1;
  std::vector<std::string> argv;
  Clock::time_point started;
  bool alive = false;
};

std::string quoted(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./:=,@+") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + quoted(a);
  return s;
}

std::string relative_to_cwd(const fs::path& p) {
  std::error_code ec;
  auto rel = fs::proximate(p, ec);
  return ec ? p.string() : rel.string();
}

pid_t spawn(const std::vector<std::string>& argv) {
  const pid_t god = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;  // parent (or -1)
  // Child: signals as a fresh process would have them; die with the god.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != god) _exit(1);  // the god died before the line above
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  std::fprintf(stderr, "paxos-god: cannot run %s: %s\n", args[0], std::strerror(errno));
  _exit(127);
}

std::string exit_reason(int status) {
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(WEXITSTATUS(status));
}

class Parliament {
 public:
  explicit Parliament(const Config& config) : config_(config) {}

  // Reaps children that have exited; logs each as a sentence with the restart command.
  void reap(bool stopping) {
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      for (auto& c : children_) {
        if (c.pid != pid || !c.alive) continue;
        c.alive = false;
        if (stopping) {
          spdlog::info("god: priest {} stopped ({})", c.id, exit_reason(status));
          break;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == kExitRemoved) {
          spdlog::info("god: priest {} stopped for good: a membership decree removed or replaced "
                       "it (its log says which); it is not to be restarted", c.id);
          break;
        }
        auto lived = std::chrono::duration_cast<Millis>(Clock::now() - c.started);
        const PriestAddress& p = *config_.find(c.id);
        if (lived < Millis(3000) && WIFEXITED(status))
          spdlog::error("god: priest {} exited ({}) {} ms after it started; is port {} already "
                        "in use (ss -ltnp 'sport = :{}') or its data directory unusable? See its "
                        "message above. Restart it with: {}",
                        c.id, exit_reason(status), lived.count(), p.port, p.port,
                        command_line(c.argv));
        else
          spdlog::error("god: priest {} exited ({}); restart it with: {}", c.id,
                        exit_reason(status), command_line(c.argv));
        break;
      }
    }
  }

  bool start(const std::string& priest_bin, const std::string& config_file,
             const fs::path& data_dir, const std::string& certs_override) {
    for (const auto& p : config_.priests) {
      fs::path dir = data_dir / ("priest-" + std::to_string(p.id));
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) {
        spdlog::error("god: cannot create {}: {}", dir.string(), ec.message());
        return false;
      }
      Child c;
      c.id = p.id;
      c.argv = {priest_bin, "--config", config_file, "--id", std::to_string(p.id), "--data-dir",
                dir.string()};
      if (!certs_override.empty()) c.argv.insert(c.argv.end(), {"--certs", certs_override});
      c.pid = spawn(c.argv);
      if (c.pid < 0) {
        spdlog::error("god: cannot start priest {}: fork: {}", p.id, std::strerror(errno));
        return false;
      }
      c.started = Clock::now();
      c.alive = true;
      spdlog::info("god: started priest {} (pid {}) on {}:{}: {}", p.id, c.pid, p.host, p.port,
                   command_line(c.argv));
      children_.push_back(std::move(c));
    }
    return true;
  }

  bool alive(PriestId id) const {
    for (const auto& c : children_)
      if (c.id == id) return c.alive;
    return false;
  }

  size_t alive_count() const {
    size_t n = 0;
    for (const auto& c : children_) n += c.alive;
    return n;
  }

  // SIGTERM to every living priest, up to 5 s for them to go, then SIGKILL.
  void stop() {
    for (const auto& c : children_)
      if (c.alive) kill(c.pid, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (alive_count() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(Millis(50));
      reap(true);
    }
    for (auto& c : children_) {
      if (!c.alive) continue;
      spdlog::warn("god: priest {} did not stop within 5 s; killing it", c.id);
      kill(c.pid, SIGKILL);
      int status = 0;
      waitpid(c.pid, &status, 0);
      c.alive = false;
    }
  }

 private:
  const Config& config_;
  std::vector<Child> children_;
};

// Waits up to `wait` for SIGINT/SIGTERM/SIGCHLD (all blocked, taken synchronously).
// Returns the signal, or 0 when none came.
int next_signal(Millis wait) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  timespec ts{static_cast<time_t>(wait.count() / 1000), static_cast<long>(wait.count() % 1000) * 1000000};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

fs::path default_priest_bin() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "paxos-priest";
  return self.parent_path() / "paxos-priest";
}

int up(const Config& config, const std::string& config_file, const std::string& data_dir,
       std::string priest_bin, Millis timeout, const std::string& certs_override) {
  if (priest_bin.empty()) priest_bin = default_priest_bin().string();
  if (access(priest_bin.c_str(), X_OK) != 0) {
    spdlog::error("god: cannot run the priest program {}: {}; build it (cmake --build build "
                  "--target paxos-priest) or name it with --priest-bin",
                  priest_bin, std::strerror(errno));
    return 2;
  }
  // Signals are taken synchronously with sigtimedwait; children unblock them before execv.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, nullptr);

  Parliament parliament(config);
  bool stopping = false;
  auto poll_signals = [&](Millis wait) {
    for (int sig = next_signal(wait); sig != 0; sig = next_signal(Millis(0))) {
      if (sig == SIGCHLD) {
        parliament.reap(stopping);
      } else if (!stopping) {
        spdlog::info("god: {} received; stopping the priests", sig == SIGINT ? "SIGINT" : "SIGTERM");
        stopping = true;
      }
    }
    parliament.reap(stopping);
  };

  if (!parliament.start(priest_bin, config_file, data_dir, certs_override)) {
    parliament.stop();
    return 1;
  }
  BootstrapHooks hooks;
  hooks.interrupted = [&] {
    poll_signals(Millis(0));
    return stopping;
  };
  hooks.gone = [&](PriestId id) { return !parliament.alive(id); };
  // Give the priests a moment to bind their ports before the first knock.
  poll_signals(Millis(200));
  auto outcome = stopping ? Outcome::Interrupted : bootstrap(config, config_file, timeout, hooks);
  if (outcome == Outcome::Refused) {
    spdlog::error("god: stopping the priests: the parliament cannot sit with a disputed membership "
                  "(remove the old data directories or fix the configuration)");
    parliament.stop();
    return 1;
  }
  if (outcome == Outcome::TimedOut)
    spdlog::warn("god: the parliament is running without every priest; once they are up, "
                 "run: paxos-god --config {} bootstrap", quoted(config_file));
  if (!stopping) {
    fs::path self_dir = default_priest_bin().parent_path();
    spdlog::info("god: the parliament is in session ({} priests). Propose with: {} --config {} "
                 "propose \"...\"; stop with Ctrl-C",
                 config.priests.size(), relative_to_cwd(self_dir / "paxos-client"),
                 quoted(config_file));
  }
  while (!stopping) {
    poll_signals(Millis(500));
    if (parliament.alive_count() == 0) {
      spdlog::error("god: every priest has exited; nothing left to run");
      return 1;
    }
  }
  parliament.stop();
  spdlog::info("god: all priests stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_pattern("%H:%M:%S.%e %^%l%$ %v");
  CLI::App app{"paxos-god: creates the priests of the parliament and bootstraps its membership"};
  std::string config_file;
  app.add_option("--config", config_file, "the parliament's configuration file")->required();
  std::string certs_override;
  app.add_option("--certs", certs_override, "directory of the TLS files (default: the config's \"certs\")");
  app.require_subcommand(1);
  app.fallthrough();

  double timeout_s = 30;
  auto* boot = app.add_subcommand("bootstrap", "tell every priest the parliament's membership");
  boot->add_option("--timeout", timeout_s, "seconds to keep trying (default 30)")
      ->check(CLI::Range(0.001, 86400.0));

  std::string data_dir = "data", priest_bin;
  double up_timeout_s = 30;
  auto* up_cmd = app.add_subcommand("up", "start every priest here, bootstrap, stay in the foreground");
  up_cmd->add_option("--data-dir", data_dir, "directory for the priests' files (default data)");
  up_cmd->add_option("--priest-bin", priest_bin,
                     "the paxos-priest program (default: next to paxos-god)");
  up_cmd->add_option("--timeout", up_timeout_s, "seconds to wait for bootstrap (default 30)")
      ->check(CLI::Range(0.001, 86400.0));

  PriestId change_id = 0;
  std::string change_address;
  bool change_json = false, force = false;
  double change_timeout_s = 60;
  auto* add_cmd = app.add_subcommand("add", "add a priest (blank, running at HOST:PORT) by decree");
  auto* remove_cmd = app.add_subcommand("remove", "remove a priest by decree");
  auto* replace_cmd = app.add_subcommand(
      "replace", "replace a priest by its new incarnation (a blank data directory) by decree");
  for (auto* cmd : {add_cmd, remove_cmd, replace_cmd}) {
    cmd->add_option("ID", change_id, "the priest's id")->required()->check(CLI::Range(1, 1000000));
    cmd->add_flag("--json", change_json, "print the membership in force as JSON");
    cmd->add_option("--timeout", change_timeout_s, "seconds to keep trying (default 60)")
        ->check(CLI::Range(0.001, 86400.0));
  }
  add_cmd->add_option("ADDRESS", change_address, "HOST:PORT the new priest listens at")->required();
  replace_cmd->add_option("ADDRESS", change_address,
                          "HOST:PORT of the new incarnation (default: the priest's address)");
  remove_cmd->add_flag("--force", force, "allow fewer than three priests");
  bool keep_key = false;
  replace_cmd->add_flag("--keep-key", keep_key,
                        "the new incarnation may keep the old one's key (it is safe: only the disk was lost)");
  std::string revoke_name;
  auto* revoke_cmd = app.add_subcommand(
      "revoke", "revoke a named client's certificate by decree: from that decree on no priest serves it");
  revoke_cmd->add_option("NAME", revoke_name, "the client's name (paxos-god certs --client NAME)")
      ->required()
      ->check([](const std::string& n) { return tls::valid_client_name(n) ? "" : "not a client name (a-z 0-9 . _ -)"; });
  revoke_cmd->add_flag("--json", change_json, "print the membership in force as JSON");
  revoke_cmd->add_option("--timeout", change_timeout_s, "seconds to keep trying (default 60)")
      ->check(CLI::Range(0.001, 86400.0));

  std::string certs_dir;
  bool certs_force = false;
  auto* certs_cmd = app.add_subcommand(
      "certs", "make the parliament's CA and a TLS key and certificate for every party");
  certs_cmd->add_option("--out", certs_dir, "directory for the files, made 0700 (default: the config's \"certs\")");
  certs_cmd->add_flag("--force", certs_force, "make everything anew, the CA included");
  std::string rotate_step;
  certs_cmd->add_option("--rotate-ca", rotate_step,
                        "rotate the CA without stopping the parliament, one step at a time (begin, sign, "
                        "finish); after each, every party takes the files and each priest is restarted in turn")
      ->check(CLI::IsMember({"begin", "sign", "finish"}));
  bool certs_new_key = false;
  certs_cmd->add_flag("--new-key", certs_new_key,
                      "a new key and certificate for each --priest and --client named, even if it has "
                      "them (the CA and everyone else's are kept)");
  std::vector<PriestId> certs_more;
  certs_cmd->add_option("--priest", certs_more, "also for this priest id, not in the config (to be added)")
      ->check(CLI::Range(1, 1000000));
  std::vector<std::string> certs_clients;
  certs_cmd->add_option("--client", certs_clients,
                        "also a named client identity, client-NAME.crt and .key (NAME: a-z 0-9 . _ -); "
                        "exactly-once and revocation are kept per identity")
      ->check([](const std::string& n) {
        return tls::valid_client_name(n) ? std::string()
                                         : "a client name is 1 to 64 of a-z 0-9 . _ - (not first . or -)";
      });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  auto config = load_config(config_file);
  if (!config) {
    spdlog::error("god: {}", config.error());
    return 2;
  }
  auto millis = [](double s) { return Millis(static_cast<int64_t>(s * 1000 + 0.5)); };
  if (*certs_cmd) {
    certs::Options o;
    o.force = certs_force;
    for (auto& p : config->priests) o.hosts[p.id] = p.host;
    const std::string dir = certs_dir.empty() ? tls::certs_dir(*config, config_file, certs_override) : certs_dir;
    if (!rotate_step.empty()) {
      auto step = rotate_step == "begin" ? certs::Rotation::Begin
                  : rotate_step == "sign" ? certs::Rotation::Sign : certs::Rotation::Finish;
      auto s = certs::rotate_ca(dir, step, o);
      if (!s) spdlog::error("god: {}", s.error());
      return s ? 0 : 2;
    }
    if (certs_new_key) {
      if (certs_more.empty() && certs_clients.empty()) {
        spdlog::error("god: certs --new-key: name the parties to make anew (--priest ID, --client NAME)");
        return 2;
      }
      for (PriestId id : certs_more) o.new_key.push_back({tls::Role::Priest, id});
      for (auto& n : certs_clients) o.new_key.push_back({tls::Role::Client, 0, n});
    }
    o.on_file = [](const std::string& path, bool made) {
      std::printf("%s %s\n", made ? "made" : "kept", path.c_str());
    };
    auto s = certs::make_credentials(dir,
                                     [&] {
                                       auto ids = config->ids();
                                       ids.insert(ids.end(), certs_more.begin(), certs_more.end());
                                       std::sort(ids.begin(), ids.end());
                                       ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
                                       auto who = certs::parties(ids);
                                       for (auto& n : certs_clients) who.push_back({tls::Role::Client, 0, n});
                                       return who;
                                     }(), o);
    if (!s) spdlog::error("god: {}", s.error());
    return s ? 0 : 2;
  }
  std::string certs = tls::certs_dir(*config, config_file, certs_override);
  if (*up_cmd && config->tls) {
    // A new user does nothing for TLS: the parliament's files are made the first time.
    certs::Options o;
    for (auto& p : config->priests) o.hosts[p.id] = p.host;
    o.on_file = [](const std::string& path, bool made) {
      if (made) spdlog::info("god: made {}", path);
    };
    if (auto s = certs::make_credentials(certs, certs::parties(config->ids()), o); !s) {
      spdlog::error("god: {}", s.error());
      return 2;
    }
  }
  if (!config->tls)
    spdlog::warn("god: {} says \"tls\": false: every connection is plaintext, and any process that "
                 "reaches a priest's port can speak as the god", config_file);
  if (auto s = use_tls(*config, config_file, {tls::Role::God}, certs_override); !s) {
    spdlog::error("god: {}", s.error());
    return 2;
  }
  if (*boot) {
    auto o = bootstrap(*config, config_file, millis(timeout_s));
    return o == Outcome::Done ? 0 : 1;
  }
  if (*add_cmd || *remove_cmd || *replace_cmd) {
    Change c;
    c.op = *add_cmd ? Change::Op::Add : *remove_cmd ? Change::Op::Remove : Change::Op::Replace;
    c.priest.id = change_id;
    c.force = force;
    return change_membership(*config, c, change_address, change_json, millis(change_timeout_s), keep_key);
  }
  if (*revoke_cmd) {
    Change c;
    c.op = Change::Op::Revoke;
    c.client = revoke_name;
    return change_membership(*config, c, "", change_json, millis(change_timeout_s));
  }
  return up(*config, config_file, data_dir, priest_bin, millis(up_timeout_s), certs_override);
}
