// paxos-god: creates the priests and tells them who the parliament is.
//
//   paxos-god --config FILE bootstrap [--timeout 30]
//       Sends every priest the membership until each says "bootstrapped". Harmless to repeat.
//   paxos-god --config FILE up [--data-dir data] [--priest-bin PATH] [--timeout 30]
//       Starts one paxos-priest per priest of the configuration, bootstraps them, and stays in
//       the foreground until SIGINT/SIGTERM, then stops them (SIGTERM, then SIGKILL after 5 s).
//       A priest that dies is reported with the command that restarts it, not restarted.
//
// Exit status: 0 done, 1 the parliament could not be created, 2 bad input.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
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

// Sends the membership to every priest, all at once, until each has it. Bounded by
// `timeout`; a silent priest does not hold up the others.
Outcome bootstrap(const Config& config, Millis timeout, const BootstrapHooks& hooks = {}) {
  const json request = {{"type", "bootstrap"}, {"priests", priests_to_json(config.priests)}};
  const auto deadline = Clock::now() + timeout;
  std::vector<Knock> knocks(config.priests.size());
  std::vector<std::thread> knockers;
  for (size_t i = 0; i < config.priests.size(); ++i)
    knockers.emplace_back(knock, std::cref(config.priests[i]), std::cref(request), deadline,
                          std::ref(knocks[i]));
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
             const fs::path& data_dir) {
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
       std::string priest_bin, Millis timeout) {
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

  if (!parliament.start(priest_bin, config_file, data_dir)) {
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
  auto outcome = stopping ? Outcome::Interrupted : bootstrap(config, timeout, hooks);
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
  if (*boot) return bootstrap(*config, millis(timeout_s)) == Outcome::Done ? 0 : 1;
  return up(*config, config_file, data_dir, priest_bin, millis(up_timeout_s));
}
