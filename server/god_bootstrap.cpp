// paxos-god bootstrap: asks every priest its incarnation and key, then sends each the
// membership until it says "bootstrapped" (see god.hpp).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "net/rpc.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "server/god.hpp"

namespace parliament::god {

using nlohmann::json;

// A short pause between knocks, never past the deadline.
void pause_before(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
  if (left.count() > 0) std::this_thread::sleep_for(std::min(Millis(200), left));
}

namespace {

// ---- bootstrap ----


// What became of one priest's bootstrap.
struct Knock {
  std::atomic<bool> done{false};     // bootstrapped, or refused, or given up
  std::atomic<bool> give_up{false};  // set by the god: stop asking this priest
  bool bootstrapped = false;
  bool refused = false;
  std::string last_error = "not asked yet";
};


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
    } else if (type == "error" && retryable(reply_code(r))) {
      k.last_error = r.value("error", r.dump());  // (too many connections there, say)
      pause_before(deadline);
      continue;
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
    if (!inc)
      return R::failure("priest " + std::to_string(config.priests[i].id) +
                        " did not say its incarnation");
    out[i].incarnation = *inc;
    out[i].key = status[i].value("key", "");
  }
  if (!held) {
    for (size_t i = 0; i < status.size(); ++i)
      if (status[i].value("begun", false))
        return R::failure("priest " + std::to_string(config.priests[i].id) +
                          " holds a promise or decrees but no membership; its data directory is "
                          "not a bootstrapped one");
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
                      std::to_string(p.id) +
                      (named ? "" : " " + p.host + ":" + std::to_string(p.port));
    return R::failure(
        "priest " + std::to_string(p.id) + " at " + p.host + ":" + std::to_string(p.port) +
        " is incarnation " + incarnation_text(p.incarnation) +
        (named ? ", but the parliament (as priest " + std::to_string(holder) +
                     " holds it, membership of decree " + std::to_string(held->decree_no) +
                     ") names incarnation " + incarnation_text(named->incarnation) +
                     ": its data directory was lost or replaced, and a priest that forgot its "
                     "promises and votes must "
                     "never count as the one that remembered them"
               : ", and the parliament (membership of decree " + std::to_string(held->decree_no) +
                     ") does not name it") +
        ". Bootstrap refused. Change the membership by decree instead: " + cmd);
  }
  return held->priests;
}

// Waits until every knock is done, one is refused, or the god is interrupted (then every
// knock gives up); a priest whose process exited is given up on and named in `dead`. True
// if interrupted.
bool await_knocks(const Config& config, std::vector<Knock>& knocks, const BootstrapHooks& hooks,
                  std::vector<PriestId>& dead) {
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
    if (all_done) return interrupted;
    if (refused || hooks.interrupted()) {
      interrupted = !refused;
      for (auto& k : knocks) k.give_up = true;
    }
    std::this_thread::sleep_for(Millis(50));
  }
}

}  // namespace

// Sends the membership to every priest, all at once, until each has it. Bounded by
// `timeout`; a silent priest does not hold up the others.
Outcome bootstrap(const Config& config, const std::string& config_file, Millis timeout,
                  const BootstrapHooks& hooks) {
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
      spdlog::info("god: priest {} was already bootstrapped (it is in the parliament)",
                   config.priests[i].id);
      knocks[i].bootstrapped = true;
      knocks[i].done = true;
      continue;
    }
    knockers.emplace_back(knock, std::cref(config.priests[i]), std::cref(request), deadline,
                          std::ref(knocks[i]));
  }
  std::vector<PriestId> dead;
  bool interrupted = await_knocks(config, knocks, hooks, dead);
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

}  // namespace parliament::god
