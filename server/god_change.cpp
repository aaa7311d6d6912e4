// paxos-god add, remove, replace and revoke: each a membership decree (see god.hpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "net/rpc.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "server/certs.hpp"
#include "server/god.hpp"

namespace parliament::god {

using nlohmann::json;

// ---- membership changes ----

namespace {

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
    std::printf("  retired priest %u incarnation %s%s%s\n", r.id,
                incarnation_text(r.incarnation).c_str(), r.key.empty() ? "" : "  key ",
                r.key.substr(0, 16).c_str());
}

// Why a replace may not keep the key the membership records for the life it replaces ("" if
// it may): `remove` and `replace` cut the old identity off at their decree, and an identity
// is its key, so a replacement that presents the old key would leave whoever holds it
// speaking for that priest. `keep_key` (--keep-key): the operator knows the key is safe (a
// disk lost, the key kept on the host); the old incarnation is still retired.
std::string same_key(const Membership& held, const Change& c, bool keep_key) {
  const PriestAddress* was = held.find(c.priest.id);
  if (c.op != Change::Op::Replace || keep_key || !was || was->key.empty() ||
      was->key != c.priest.key)
    return "";
  const std::string id = std::to_string(c.priest.id);
  return "priest " + id +
         " presents the key the membership records for the incarnation it replaces (" +
         incarnation_text(was->incarnation) +
         "): whoever holds that key would still speak for priest " + id +
         ". Make it a new key (paxos-god --config FILE certs --priest " + id +
         " --new-key), restart it with the new files and run this again; or, if the key is safe "
         "(only the disk "
         "was lost), run again with --keep-key";
}

// The priest to add or replace, running at `target`: who it says it is, checked against the
// change and the membership in force, then joined to that membership if it is blank or
// learning an older one. Sets c.priest; nullopt to go on, else the exit status.
std::optional<int> join_newcomer(const Membership& held, Change& c, PriestAddress target,
                                 Clock::time_point deadline, bool keep_key, bool as_json) {
  const std::string who = "priest " + std::to_string(c.priest.id);
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
                  "directory; without its key and certificate, make them where the CA is: "
                  "paxos-god --config FILE certs --priest {}), then run this again",
                  who, target.host, target.port, st.error(), c.priest.id);
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
  if (already_applied(held, c)) {
    spdlog::info("god: {} with incarnation {} is a member already", who, incarnation_text(*inc));
    print_membership(held, as_json);
    return 0;
  }
  const PriestAddress* was = held.find(c.priest.id);
  std::string refused;
  if (was && c.op == Change::Op::Add)
    refused = who + " is a member already (incarnation " + incarnation_text(was->incarnation) +
              "); to give it a new data directory, replace it";
  else if (!was && c.op == Change::Op::Replace)
    refused = who + " is not a member; add it instead";
  else if (auto why = same_key(held, c, keep_key); !why.empty())
    refused = why;
  else if (st->value("begun", false) && !st->contains("membership"))
    refused = who + " at " + target.host + ":" + std::to_string(target.port) +
              " is not blank (it holds a promise or decrees)";
  if (!refused.empty()) {
    spdlog::error("god: {}", refused);
    return 2;
  }
  // A blank priest, or one still learning a membership older than the one in force (the
  // priests that could teach it may have been replaced since): join it to the one in force.
  const bool learning_older = st->contains("membership") && !st->value("voter", false) &&
                              (*st)["membership"].value("decree_no", uint64_t(0)) < held.decree_no;
  if (st->contains("membership") && !learning_older) return std::nullopt;
  auto j = call_priest(target, json{{"type", "join"}, {"membership", membership_to_json(held)}},
                       Millis(5000));
  if (!j || j->value("type", "") != "joined") {
    spdlog::error("god: {} did not join: {}", who, j ? j->value("error", j->dump()) : j.error());
    return 1;
  }
  spdlog::info("god: {} (incarnation {}) joined: it learns the ledger from the president", who,
               incarnation_text(*inc));
  return std::nullopt;
}

// A priest to add that does not answer may have no key and certificate yet (it cannot start
// without them): when the CA's key is here and the priest's certificate is not, they are made
// and the priest's command line printed (exit 1: start it, then add again). nullopt to go on
// (the god waits for it; if it never answers, the error names the command that makes them).
std::optional<int> newcomer_credentials(const Config& config, const ChangeFiles& files,
                                        const PriestAddress& target) {
  namespace fs = std::filesystem;
  const std::string n = std::to_string(target.id);
  std::error_code ec;
  if (!config.tls || files.certs.empty() || fs::exists(files.certs + "/priest-" + n + ".crt", ec))
    return std::nullopt;
  if (!fs::exists(files.certs + "/ca.key", ec)) return std::nullopt;  // not where the CA is
  certs::Options o;
  o.hosts[target.id] = target.host;
  o.on_file = [](const std::string& path, bool made) {
    if (made) spdlog::info("god: made {}", path);
  };
  if (auto s = certs::make_credentials(files.certs, {{tls::Role::Priest, target.id}}, o); !s) {
    spdlog::error("god: {}", s.error());
    return 2;
  }
  spdlog::info("god: start priest {} (a blank data directory), then run this again:\n  "
               "paxos-priest --config {} --id {} --address {}:{} --data-dir data/priest-{}",
               n, files.config_file, n, target.host, target.port, n);
  return 1;
}

// Asks the members in turn for the membership decree until one says it passed (then prints
// the membership in force), one refuses for good, or the deadline passes.
int pass_change(const Membership& held, const Change& c, bool as_json, Clock::time_point deadline,
                Millis timeout, const std::function<std::optional<int>()>& before_retry) {
  std::string last = "no priest answered";
  for (size_t turn = 0; Clock::now() < deadline; ++turn) {
    // (Made anew each turn: a rejoin may have found the newcomer as another life.)
    const json request = {{"type", "change"}, {"change", change_to_json(c)}};
    const PriestAddress& p = held.priests[turn % held.priests.size()];
    if (p.id == c.priest.id && c.op != Change::Op::Add && c.op != Change::Op::Revoke)
      continue;  // ask the others
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
        auto now_held = discover_membership(held.priests, Millis(1000));
        if (now_held && now_held->decree_no >= n) {
          print_membership(*now_held, as_json);
          return 0;
        }
        if (Clock::now() >= deadline) break;
        std::this_thread::sleep_for(Millis(100));
      }
      print_membership(held, as_json);
      return 0;
    }
    last = "priest " + std::to_string(p.id) + ": " + r->value("error", r->dump());
    // A retry can get past an election, another change under way or a lost answer; not
    // past an impossible change or a certificate that may not ask (the reply's code).
    if (!retryable(reply_code(*r))) {
      spdlog::error("god: {} refused: {}", describe(c), last);
      return 1;
    }
    spdlog::info("god: {}; trying again", last);
    pause_before(deadline);
    if (auto exit = before_retry()) return *exit;
  }
  spdlog::error("god: {} did not pass within {} ms: {}", describe(c), timeout.count(), last);
  return 1;
}

}  // namespace

// add / remove / replace / revoke: join the new priest (add, replace), then ask the
// parliament for the membership decree until it passed or the deadline. Exit 0 passed (or
// was in force already), 1 not done, 2 bad input.
int change_membership(const Config& config, Change c, const std::string& address,
                      bool as_json, Millis timeout, bool keep_key, const ChangeFiles& files) {
  const auto deadline = Clock::now() + timeout;
  auto held = discover_membership(config.priests, Millis(1000));
  if (!held) {
    spdlog::error("god: no priest of the configuration answered with a membership: is the "
                  "parliament running, and bootstrapped?");
    return 1;
  }
  const std::string who =
      c.op == Change::Op::Revoke ? "client " + c.client : "priest " + std::to_string(c.priest.id);
  PriestAddress target;
  if (c.op == Change::Op::Add || c.op == Change::Op::Replace) {
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
    if (!call_priest(target, json{{"type", "status"}}, Millis(1000)))
      if (auto exit = newcomer_credentials(config, files, target)) return *exit;
    if (auto exit = join_newcomer(*held, c, target, deadline, keep_key, as_json)) return *exit;
  } else if (already_applied(*held, c)) {
    spdlog::info("god: {} {}", who,
                 c.op == Change::Op::Revoke ? "is revoked already" : "is not a member");
    print_membership(*held, as_json);
    return 0;
  }
  // Another god's change may pass while this one waits (one change at a time): a newcomer
  // joined to the membership before it would learn from priests it does not know, and they
  // would not teach it. Before each retry, it is joined again to any newer membership.
  auto rejoin = [&]() -> std::optional<int> {
    if (!c.teaches()) return std::nullopt;
    auto now = discover_membership(config.priests, Millis(1000));
    if (!now || now->decree_no <= held->decree_no) return std::nullopt;
    held = std::move(now);
    spdlog::info("god: the membership in force is now that of decree {}", held->decree_no);
    return join_newcomer(*held, c, target, deadline, keep_key, as_json);
  };
  return pass_change(*held, c, as_json, deadline, timeout, rejoin);
}

}  // namespace parliament::god
