// paxos-god up: the local parliament, one paxos-priest per priest of the configuration,
// bootstrapped, stopped on SIGINT/SIGTERM (see god.hpp).
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

#include "net/rpc.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "server/god.hpp"
#include "server/transport.hpp"  // kExitRemoved

namespace parliament::god {

using nlohmann::json;
namespace fs = std::filesystem;

// ---- up ----

namespace {

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
        exited(c, status);
        break;
      }
    }
  }

  // A priest that exited while the parliament sits: a member is to be restarted (by hand:
  // this god does not supervise), one the membership in force no longer names is not.
  void exited(const Child& c, int status) {
    auto held = discover_membership(config_.priests, Millis(500));
    if (held && !held->find(c.id)) {
      spdlog::info("god: priest {} stopped ({}); it is no longer a member (membership of decree "
                   "{}): it is not to be restarted",
                   c.id, exit_reason(status), held->decree_no);
      return;
    }
    auto lived = std::chrono::duration_cast<Millis>(Clock::now() - c.started);
    const PriestAddress& p = *config_.find(c.id);
    const std::string restart =
        "paxos-god up does not restart priests; restart it with: " + command_line(c.argv) +
        " (a priest started by hand is not this god's: Ctrl-C here will not stop it)";
    if (lived < Millis(3000) && WIFEXITED(status))
      spdlog::error("god: priest {} exited ({}) {} ms after it started; is port {} already "
                    "in use (ss -ltnp 'sport = :{}') or its data directory unusable? See its "
                    "message above. {}",
                    c.id, exit_reason(status), lived.count(), p.port, p.port, restart);
    else
      spdlog::error("god: priest {} exited ({}); {}", c.id, exit_reason(status), restart);
  }

  // After stop(): every priest of the configuration that still answers was not started by
  // this god (or was restarted by hand); named, with the command that stops it.
  void name_survivors(const std::string& config_file) const {
    for (const auto& p : config_.priests) {
      if (!call_priest(p, json{{"type", "status"}}, Millis(300))) continue;
      spdlog::warn("god: priest {} at {}:{} still runs: this god did not start it (restarted by "
                   "hand?); stop it with: pkill -f 'paxos-priest --config {} --id {} '",
                   p.id, p.host, p.port, config_file, p.id);
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
  timespec ts{static_cast<time_t>(wait.count() / 1000),
              static_cast<long>(wait.count() % 1000) * 1000000};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

fs::path default_priest_bin() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "paxos-priest";
  return self.parent_path() / "paxos-priest";
}

}  // namespace

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
        spdlog::info("god: {} received; stopping the priests",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
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
  spdlog::info("god: every priest this god started has stopped");
  parliament.name_survivors(config_file);
  return 0;
}

}  // namespace parliament::god
