// The parliament in docker compose, partitioned for real. Run by tests/docker/run.sh, which
// builds the image, starts the compose project (its own name, ports and data directory) and
// always tears it down; this program drives the scenarios against it.
//
// Each scenario: load from 6 clients on the host (Proposer threads against the published
// ports, 12 proposals/s each), a fault (iptables rules in the containers' network namespaces
// via scripts/partition.sh, docker pause, docker kill) held 10 s, then heal. While the fault
// holds, one more client talks only to the priests cut off from the majority and must never
// be told that a decree passed. Checked and reported per scenario:
//   - the majority passes decrees again within two election timeouts of the fault: a probe
//     of fresh one-shot clients proposes to the majority side from the moment the fault is
//     in place; the first to pass marks the recovery. (A priest stands after 1 to 2 times
//     election_timeout_ticks of silence, so the limit is 4 times it.) When the load clients
//     themselves pass decrees again is reported beside it;
//   - no client talking only to the minority is told a decree passed;
//   - after healing, the five data/priest-N/ledger.csv files on the host are identical
//     within 10 s (the load goes on for 3 s after the heal, then stops);
//   - every decree a client was told passed is in the ledger exactly once, at its number,
//     and every decree in the ledger was proposed by some client (olive-day decrees aside).
// One scenario empties a priest's data directory (a lost disk): bootstrap must refuse the
// blank priest, and `paxos-god replace` must make it a voter again.
// Then the whole parliament goes down and up again on the same data: every ledger is kept,
// the god's second bootstrap is a no-op, and the next decree gets the next number.
//
// Environment (set by run.sh): PARLIAMENT_COMPOSE (the compose command with -p and -f),
// PARLIAMENT_PROJECT, PARLIAMENT_DATA, PARLIAMENT_PORT_PREFIX, PARLIAMENT_HTTP_PREFIX (the
// priests' HTTP ports), PARLIAMENT_WORK (where logs go), PARLIAMENT_DOCKER_REPORT (a copy of
// everything printed).
//
// What people watch (the live page): while the president is isolated, the HTTP
// port of every priest of the majority must name the new president, and the isolated
// priest's must show that it hears no one, within a second of the election that the probe
// saw. The page itself, served by paxos-client console on the host, is photographed by
// headless Chromium then (build/docker-page-partition.png), and at the end the run's ballot
// timeline is drawn from the priests' events.jsonl (build/docker-timeline.html).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "client/lib/proposer.hpp"
#include "net/tls.hpp"
#include "proto/config.hpp"
#include "proto/record.hpp"

namespace fs = std::filesystem;
using namespace parliament;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kSource = PARLIAMENT_SOURCE_DIR;
const std::string kBin = PARLIAMENT_BIN_DIR;
const Clock::time_point kStart = Clock::now();

std::string env(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
long ms(Clock::duration d) { return long(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); }

// Every line goes to stdout (ctest keeps it) and to the report file.
std::ofstream& report() {
  static std::ofstream out(env("PARLIAMENT_DOCKER_REPORT", "/dev/null"), std::ios::trunc);
  return out;
}
void say(const std::string& line) {
  // Seconds since the start, and the wall-clock time of day (UTC) to match the priests' logs.
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  long milli = long(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  char stamp[48];
  std::snprintf(stamp, sizeof stamp, "[%7.2f s %02d:%02d:%02d.%03ld] ", secs(Clock::now() - kStart), tm.tm_hour,
                tm.tm_min, tm.tm_sec, milli);
  std::printf("%s%s\n", stamp, line.c_str());
  std::fflush(stdout);
  report() << stamp << line << std::endl;
}

// Runs a shell command; returns its exit status, and its output (stdout and stderr) in *out.
int sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  int status = pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class F>
bool eventually(F ok, Clock::duration deadline, Clock::duration every = 50ms) {
  auto until = Clock::now() + deadline;
  while (Clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(every);
  }
  return ok();
}

std::string ids_text(const std::vector<PriestId>& ids) {
  std::string s;
  for (auto id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// ---- the parliament under test ----

struct Docker {
  std::string compose = env("PARLIAMENT_COMPOSE");
  std::string project = env("PARLIAMENT_PROJECT", "parliament-test");
  fs::path data = env("PARLIAMENT_DATA");
  std::string prefix = env("PARLIAMENT_PORT_PREFIX", "2720");
  std::string http_prefix = env("PARLIAMENT_HTTP_PREFIX", "2730");
  Config docker_config;  // config/docker.json: the timeouts the priests run with
  std::vector<PriestAddress> host;  // the priests as the host reaches them

  Docker() {
    auto cfg = parse_config(slurp(fs::path(kSource) / "config/docker.json"), "config/docker.json");
    if (!cfg) FAIL(cfg.error());
    docker_config = *cfg;
    // The host's client holds the certificates the compose file's certs service made.
    Config host_config = docker_config;
    host_config.certs = (data / "certs").string();
    if (auto s = use_tls(host_config, "config/docker.json", {tls::Role::Client}); !s) FAIL(s.error());
    for (const auto& p : docker_config.priests)
      host.push_back({p.id, "127.0.0.1", uint16_t(std::stoi(prefix + std::to_string(p.id))), ""});
  }
  // Runs `command` with sh inside priest `id`'s container, as the image's user.
  // paxos-client health --priest `of`, run in priest `in`'s container as its compose
  // healthcheck runs it: its exit status (what it printed in `out`).
  int health_in(PriestId in, PriestId of, std::string* out) const {
    return sh_in(in,
                 "paxos-client --config /etc/parliament/docker.json --certs /etc/parliament/certs "
                 "--priest-cert " + std::to_string(in) + " health --priest " + std::to_string(of),
                 out);
  }
  // Each priest container's health as Docker keeps it ("healthy", "unhealthy", "starting").
  std::vector<std::string> container_health() const {
    std::string out;
    sh("docker inspect -f '{{.State.Health.Status}}' $(" + compose +
           " ps -q priest1 priest2 priest3 priest4 priest5)", &out);
    std::vector<std::string> all;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) all.push_back(trim(line));
    return all;
  }
  int sh_in(PriestId id, const std::string& command, std::string* out) const {
    std::string quoted;
    for (char c : command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return sh(compose + " exec -T priest" + std::to_string(id) + " sh -c '" + quoted + "'", out);
  }
  // A priest stands after hearing nothing from the president for election_timeout_ticks,
  // randomised up to twice that (docs/OPERATIONS.md, "Configuration"): its election timeout
  // is at most twice the configured one, and "two election timeouts" is twice that again.
  Clock::duration configured_timeout() const {
    return std::chrono::milliseconds(docker_config.tick_ms * docker_config.election_timeout_ticks);
  }
  Clock::duration election_timeout() const { return 2 * configured_timeout(); }
  Clock::duration recovery_limit() const { return 2 * election_timeout(); }
  const PriestAddress& at(PriestId id) const { return host.at(id - 1); }
  fs::path ledger(PriestId id) const { return data / ("priest-" + std::to_string(id)) / "ledger.csv"; }

  // scripts/partition.sh against this project; the whole command and its answer are logged.
  std::string partition(const std::string& args) {
    std::string out;
    int rc = sh(kSource + "/scripts/partition.sh -p " + project + " " + args, &out);
    say("  $ partition.sh " + args + "  ->  " + trim(out));
    if (rc != 0) FAIL("partition.sh " << args << " failed (" << rc << "): " << out);
    return trim(out);
  }
  int compose_cmd(const std::string& args, std::string* out = nullptr) {
    return sh(compose + " " + args, out);
  }

  // Priest id's /status through its published HTTP port, as the client (what the page reads).
  std::optional<nlohmann::json> http_status(PriestId id) const {
    auto files = tls::files_for((data / "certs").string(), {tls::Role::Client});
    httplib::Client c("https://127.0.0.1:" + http_prefix + std::to_string(id), files.cert, files.key);
    c.set_ca_cert_path(files.ca.c_str());
    c.enable_server_certificate_verification(true);
    c.set_connection_timeout(0, 300000);
    c.set_read_timeout(1, 0);
    auto r = c.Get("/status");
    if (!r || r->status != 200) return std::nullopt;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  }
  // A configuration for the host's paxos-client (console): the published ports.
  std::string host_config(const fs::path& dir) const {
    nlohmann::json cfg{{"certs", (data / "certs").string()}, {"priests", nlohmann::json::array()}};
    for (PriestId id = 1; id <= 5; ++id)
      cfg["priests"].push_back({{"id", id}, {"host", "127.0.0.1"}, {"port", std::stoi(prefix + std::to_string(id))},
                                {"http_port", std::stoi(http_prefix + std::to_string(id))}});
    std::string path = (dir / "docker-host-test.json").string();
    std::ofstream(path) << cfg.dump(2);
    return path;
  }

  std::optional<nlohmann::json> status(PriestId id) const {
    auto r = call_priest(at(id), {{"type", "status"}}, 700ms);
    if (!r || r->value("type", "") != "status") return std::nullopt;
    return *r;
  }
  // The highest promise round among the priests that answer (-1: none answers).
  long max_round() const {
    long best = -1;
    for (const auto& p : host)
      if (auto s = status(p.id); s && s->contains("next_bal") && (*s)["next_bal"].is_string()) {
        std::string b = (*s)["next_bal"];
        best = std::max(best, std::stol(b.substr(0, b.find('.'))));
      }
    return best;
  }
  // The one priest that says it is president, when all five answer and agree on it.
  std::optional<PriestId> settled_president() const {
    std::optional<PriestId> found;
    for (const auto& p : host) {
      auto s = status(p.id);
      if (!s || !s->value("bootstrapped", false)) return std::nullopt;
      if (s->value("role", "") == "president") {
        if (found) return std::nullopt;
        found = p.id;
      }
    }
    if (!found) return std::nullopt;
    for (const auto& p : host) {
      auto s = status(p.id);
      if (!s) return std::nullopt;
      auto pr = s->find("president");
      if (pr == s->end() || !pr->is_number() || pr->get<PriestId>() != *found) return std::nullopt;
    }
    return found;
  }
  // The five ledger files, when they are identical (the content), else nullopt.
  std::optional<std::string> same_ledgers() const {
    std::string first = slurp(ledger(1));
    for (PriestId id = 2; id <= 5; ++id)
      if (slurp(ledger(id)) != first) return std::nullopt;
    return first;
  }
};

// ---- clients ----

struct Proposal {
  uint64_t client, request;
  std::string text;
};

// Everything every client proposed and was told, shared by all of them.
struct Book {
  std::mutex mu;
  std::map<uint64_t, Proposal> acked;                         // decree number -> what passed there
  std::map<std::pair<uint64_t, uint64_t>, std::string> proposed;  // (client, request) -> text
  std::vector<std::pair<Clock::time_point, Clock::time_point>> passes;  // (proposed, told) per ack
  std::vector<std::string> violations;
  size_t refused = 0;  // load proposals that ended without "passed"
  std::string last_refusal;
  size_t reads_ok = 0, reads_unanswered = 0;  // linearizable reads (Reader)
};

// Linearizable reads while the faults come and go (docs/OPERATIONS.md "Reads you can
// trust"): the highest decree acknowledged so far is noted, then read through the priests in turn; an
// answer must hold that decree (a read that began after it was acknowledged). A priest that
// cannot confirm (cut off from the president, or an election under way) does not answer,
// which is allowed; an answer without the decree is a violation.
class Reader {
 public:
  Reader(Book& book, std::vector<PriestAddress> priests) : book_(book), priests_(std::move(priests)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Reader() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    for (size_t i = 0; !stop_; ++i) {
      std::this_thread::sleep_for(50ms);
      uint64_t must_hold = 0;
      std::string text;
      {
        std::lock_guard lock(book_.mu);
        if (book_.acked.empty()) continue;
        must_hold = book_.acked.rbegin()->first;
        text = book_.acked.rbegin()->second.text;
      }
      const PriestAddress& at = priests_[i % priests_.size()];
      auto r = call_priest(at, {{"type", "read"}, {"from", must_hold}, {"max", 1}}, 500ms);
      std::lock_guard lock(book_.mu);
      if (!r || !r->value("ok", false)) {
        ++book_.reads_unanswered;
        continue;
      }
      ++book_.reads_ok;
      const auto& page = (*r)["decrees"];
      if (r->value("upto", uint64_t(0)) < must_hold || !page.is_array() || page.empty() ||
          page[0].value("decree_no", uint64_t(0)) != must_hold || page[0].value("decree", std::string()) != text)
        book_.violations.push_back("a read through priest " + std::to_string(at.id) + " begun after decree " +
                                   std::to_string(must_hold) + " ('" + text + "') was acknowledged answered " +
                                   r->dump());
    }
  }

  Book& book_;
  std::vector<PriestAddress> priests_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One client thread: a Proposer at a steady pace, recording everything in the book.
class Client {
 public:
  Client(Book& book, std::vector<PriestAddress> priests, double per_second, Millis deadline,
         std::string tag, bool minority = false, Clock::time_point stop_by = Clock::time_point::max())
      : book_(book), proposer_(std::move(priests), random_client_id()), period_(1.0 / per_second),
        deadline_(deadline), tag_(std::move(tag)), minority_(minority), stop_by_(stop_by) {
    thread_ = std::thread([this] { run(); });
  }
  ~Client() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t attempts() const { return attempts_; }
  const std::string& sample_refusal() const { return sample_; }

 private:
  void run() {
    auto next = Clock::now();
    for (uint64_t request = 1; !stop_; ++request) {
      std::this_thread::sleep_until(next);
      if (stop_) break;
      auto started = Clock::now();
      // A minority client's answers must all be in before the heal.
      if (minority_ && started + deadline_ + 200ms > stop_by_) break;
      std::string text = tag_ + " " + std::to_string(proposer_.client_id()) + " #" + std::to_string(request);
      {
        std::lock_guard lock(book_.mu);
        book_.proposed[{proposer_.client_id(), request}] = text;
      }
      ++attempts_;
      auto out = proposer_.propose(text, deadline_);
      auto told = Clock::now();
      std::lock_guard lock(book_.mu);
      if (out.passed && minority_) {
        book_.violations.push_back("minority client " + tag_ + " was told decree " +
                                   std::to_string(out.decree_no) + " passed: " + text);
      } else if (out.passed) {
        auto [it, fresh] = book_.acked.emplace(out.decree_no, Proposal{proposer_.client_id(), request, text});
        if (!fresh)
          book_.violations.push_back("two decrees acknowledged at number " + std::to_string(out.decree_no) +
                                     ": '" + it->second.text + "' and '" + text + "'");
        book_.passes.emplace_back(started, told);
      } else {
        if (sample_.empty()) sample_ = out.error;
        if (!minority_) {
          ++book_.refused;
          book_.last_refusal = out.error;
        }
      }
      next = std::max(next + std::chrono::duration_cast<Clock::duration>(period_), Clock::now());
    }
  }

  Book& book_;
  Proposer proposer_;
  std::chrono::duration<double> period_;
  Millis deadline_;
  std::string tag_;
  bool minority_;
  Clock::time_point stop_by_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> attempts_{0};
  std::string sample_;
  std::thread thread_;
};

constexpr int kClients = 6;
constexpr double kPerClient = 12;  // proposals per second each: 72 offered in all
constexpr auto kWarmup = 3s, kHold = 10s, kAfter = 3s;

// Checks the ledger (identical on all five) against the book: numbers 1..n in order, every
// decree proposed by some client, none twice, every acknowledged one at its number.
void check_ledger(const std::string& ledger, Book& book, const std::string& when) {
  INFO("checking the ledger " << when);
  std::vector<std::string> header;
  size_t hlen = parse_header(ledger, header);
  REQUIRE(hlen > 0);
  REQUIRE(header == std::vector<std::string>{"decree_no", "ballot", "kind", "client", "request", "decree", "crc32"});
  auto parsed = parse_records(std::string_view(ledger).substr(hlen), 6);
  REQUIRE(parsed.torn.empty());
  REQUIRE(parsed.corrupt.empty());
  std::lock_guard lock(book.mu);
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> placed;
  // The ledger keys each request by the client's certificate too (tls::ledger_client); the
  // test's clients hold the shared client certificate.
  const tls::Identity client{tls::Role::Client};
  std::map<std::pair<uint64_t, uint64_t>, std::string> proposed;
  for (const auto& [k, text] : book.proposed) proposed[{tls::ledger_client(client, k.first), k.second}] = text;
  size_t olive = 0, membership = 0;
  for (size_t i = 0; i < parsed.records.size(); ++i) {
    const auto& r = parsed.records[i];
    REQUIRE(r[0] == std::to_string(i + 1));
    if (r[2] == "olive-day") {
      ++olive;
      continue;
    }
    if (r[2] == "membership") {  // a replace by paxos-god: its text names the change
      INFO("decree " << i + 1 << ": " << r[5]);
      REQUIRE(r[5].find("\"change\":\"replace priest ") != std::string::npos);
      ++membership;
      continue;
    }
    REQUIRE(r[2] == "decree");
    auto key = std::pair{std::stoull(r[3]), std::stoull(r[4])};
    INFO("decree " << i + 1 << ": client " << r[3] << " request " << r[4] << " '" << r[5] << "'");
    auto p = proposed.find(key);
    REQUIRE(p != proposed.end());  // some client proposed it
    REQUIRE(p->second == r[5]);         // with this text
    REQUIRE(placed.emplace(key, i + 1).second);  // exactly once
  }
  for (const auto& [n, a] : book.acked) {
    INFO("acknowledged decree " << n << ": '" << a.text << "'");
    REQUIRE(n <= parsed.records.size());
    const auto& r = parsed.records[n - 1];
    REQUIRE(r[2] == "decree");
    REQUIRE(r[3] == std::to_string(tls::ledger_client(client, a.client)));
    REQUIRE(r[4] == std::to_string(a.request));
    REQUIRE(r[5] == a.text);
  }
  say("  ledger " + when + ": " + std::to_string(parsed.records.size()) + " decrees (" +
      std::to_string(olive) + " olive-day, " + std::to_string(membership) + " membership), all " +
      std::to_string(book.acked.size()) +
      " acknowledged ones at their numbers, each once, nothing unproposed");
}

// Fresh clients, one proposal each with a short deadline, sent only to the majority side,
// several at a time: the first to pass after the fault is when the majority passes decrees
// again. (The load clients see it later when a request of theirs is stuck at a follower that
// forwarded it to a president who is now cut off: they wait out their own per-call timeout.)
class Probe {
 public:
  // kThreads threads, started kStagger apart, each proposing with a kDeadline deadline: an
  // attempt stuck at a follower that still forwards to the old president costs its thread
  // kDeadline, so the first pass is seen within about kStagger of when it became possible.
  static constexpr size_t kThreads = 6;
  static constexpr auto kStagger = 50ms, kDeadline = 300ms;
  Probe(Book& book, std::vector<PriestAddress> majority, Clock::time_point from) : from_(from) {
    for (size_t t = 0; t < kThreads; ++t)
      threads_.emplace_back([this, &book, majority, t] {
        std::this_thread::sleep_for(t * kStagger);
        for (size_t i = t; !stop_; i += kThreads) {
          std::vector<PriestAddress> order;
          for (size_t k = 0; k < majority.size(); ++k) order.push_back(majority[(i + k) % majority.size()]);
          Proposer p(order, random_client_id());
          auto started = Clock::now();
          std::string text = "probe " + std::to_string(p.client_id());
          {
            std::lock_guard lock(book.mu);
            book.proposed[{p.client_id(), 1}] = text;
          }
          auto out = p.propose(text, kDeadline);
          std::lock_guard lock(book.mu);
          if (!out.passed) continue;
          auto [it, fresh] = book.acked.emplace(out.decree_no, Proposal{p.client_id(), 1, text});
          if (!fresh)
            book.violations.push_back("two decrees acknowledged at number " + std::to_string(out.decree_no));
          if (started >= from_ && (!first_ || Clock::now() < *first_)) first_ = Clock::now();
          stop_ = true;  // first_ is read only after every thread has been joined
        }
      });
  }
  ~Probe() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  // Waits up to `limit` for the first pass; stops probing.
  std::optional<Clock::time_point> wait(Clock::duration limit) {
    eventually([&] { return stop_.load(); }, limit, 5ms);
    stop();
    return first_;
  }

 private:
  Clock::time_point from_;
  std::atomic<bool> stop_{false};
  std::optional<Clock::time_point> first_;
  std::vector<std::thread> threads_;
};

struct Outcome {
  std::string name;
  long fault_ms = 0;          // how long putting the fault in place took
  long recovery_ms = -1;      // fault in place -> a fresh proposal to the majority passed
  long load_recovery_ms = -1; // fault in place -> the first load proposal made after it passed
  double rate_before = 0, rate_during = 0, rate_after = 0;
  size_t refused = 0;
  std::string minority;
  size_t minority_attempts = 0;
  long converge_ms = -1;      // heal -> five identical ledger files (load stops 3 s after heal)
  std::string presidents;     // before -> after
  // How far the highest promise of the priests that answer climbed: while the fault held,
  // and from the heal to the end (each climb is a priest standing: an election).
  long rounds_during = -1, rounds_after = -1;
  size_t reads = 0;  // linearizable reads answered, each holding the last decree acknowledged before it
};

struct Sides {
  std::vector<PriestId> minority;  // cut off from the majority (the minority client's priests)
  std::vector<PriestId> majority;  // where the probe proposes
};

struct Fault {
  std::string name;
  std::function<Sides(Docker&, PriestId)> apply;  // puts the fault in place, given the president
  std::function<void(Docker&)> heal;              // undoes it (the network heal runs after anyway)
};

// Set by the test when Chromium and the console are there: the command that photographs the
// live page, and where the picture goes.
std::string page_shot, shot_path;

Outcome run_scenario(Docker& d, Book& book, const Fault& fault) {
  Outcome o;
  o.name = fault.name;
  say("=== " + fault.name);
  std::optional<PriestId> president;
  REQUIRE(eventually([&] { return (president = d.settled_president()).has_value(); }, 20s, 100ms));
  say("  president: priest " + std::to_string(*president));

  std::vector<std::unique_ptr<Client>> load;
  for (int c = 0; c < kClients; ++c) {
    std::vector<PriestAddress> order;  // client c starts at priest c+1 and goes round
    for (size_t i = 0; i < d.host.size(); ++i) order.push_back(d.host[(c + i) % d.host.size()]);
    load.push_back(std::make_unique<Client>(book, order, kPerClient, 5000ms, "load"));
  }
  Reader reader(book, d.host);
  size_t reads_before;
  {
    std::lock_guard lock(book.mu);
    reads_before = book.reads_ok;
  }
  auto count_passes = [&](Clock::time_point from, Clock::time_point to) {
    std::lock_guard lock(book.mu);
    size_t n = 0;
    for (auto& [s, t] : book.passes) n += t >= from && t < to;
    return n;
  };
  size_t refused_before;
  {
    std::lock_guard lock(book.mu);
    refused_before = book.refused;
  }
  auto warm = Clock::now();
  std::this_thread::sleep_for(kWarmup);
  auto fault_start = Clock::now();
  o.rate_before = count_passes(warm + 1s, fault_start) / secs(fault_start - (warm + 1s));

  long round0 = d.max_round();
  Sides sides = fault.apply(d, *president);
  auto in_place = Clock::now();
  o.fault_ms = ms(in_place - fault_start);
  auto heal_at = in_place + kHold;
  std::vector<PriestAddress> majority;
  for (auto id : sides.majority) majority.push_back(d.at(id));
  Probe probe(book, majority, in_place);
  std::unique_ptr<Client> lonely;
  if (!sides.minority.empty()) {
    std::vector<PriestAddress> only;
    for (auto id : sides.minority) only.push_back(d.at(id));
    lonely = std::make_unique<Client>(book, only, 5, 1000ms, "minority", true, heal_at);
    o.minority = ids_text(sides.minority);
  } else {
    o.minority = "(none)";
  }
  say("  fault in place (the command took " + std::to_string(o.fault_ms) + " ms); majority side " +
      ids_text(sides.majority) + ", minority side " + o.minority);

  // What the page shows of the isolated president: polled from the fault on, as the page polls.
  std::optional<Clock::time_point> shown;  // every majority priest names one new president, and
  std::optional<PriestId> shown_president;  // the isolated one says it hears no one
  std::thread watcher;
  if (fault.name == "president isolated")
    watcher = std::thread([&, old = *president] {
      auto until = in_place + kHold - 1s;
      while (Clock::now() < until && !shown) {
        std::optional<PriestId> named;
        bool agreed = true;
        for (PriestId id : sides.majority) {
          auto st = d.http_status(id);
          auto p = st && st->contains("president") && (*st)["president"].is_number()
                       ? std::optional<PriestId>((*st)["president"].get<PriestId>()) : std::nullopt;
          if (!p || *p == old || (named && *named != *p)) agreed = false;
          named = p;
        }
        auto lone = d.http_status(old);
        bool cut = lone && (*lone)["reachable"] == nlohmann::json::array({old});
        if (agreed && cut) {
          shown = Clock::now();
          shown_president = named;
        }
        std::this_thread::sleep_for(50ms);
      }
    });
  auto probed = probe.wait(kHold - 1s);
  // Recovery for the load clients: the first of their proposals made after the fault passing.
  std::optional<Clock::time_point> load_recovered;
  eventually(
      [&] {
        std::lock_guard lock(book.mu);
        for (auto& [s, t] : book.passes)
          if (s >= in_place && (!load_recovered || t < *load_recovered)) load_recovered = t;
        return load_recovered.has_value();
      },
      kHold - 1s, 10ms);
  if (probed) o.recovery_ms = ms(*probed - in_place);
  if (load_recovered) o.load_recovery_ms = ms(*load_recovered - in_place);
  if (watcher.joinable()) {
    watcher.join();
    say("  the HTTP ports show the cut and the new president " +
        (shown ? std::to_string(ms(*shown - in_place)) + " ms after the fault (priest " + std::to_string(*shown_president) + ")"
               : std::string("NEVER")) +
        "; the first fresh decree passed " + std::to_string(o.recovery_ms) + " ms after it");
    REQUIRE(shown.has_value());
    // Within a second of the election (which the first fresh decree follows).
    CHECK(ms(*shown - in_place) <= std::max(o.recovery_ms, 0L) + 1000);
    if (!page_shot.empty()) {
      std::string out;
      int rc = sh(page_shot, &out);
      say("  the live page during the cut: " + (rc == 0 ? shot_path : "no screenshot (" + trim(out) + ")"));
    }
  }
  say("  the majority passes decrees again " + (probed ? std::to_string(o.recovery_ms) + " ms" : std::string("NEVER")) +
      " after the fault (fresh proposals); the load clients' first " +
      (load_recovered ? std::to_string(o.load_recovery_ms) + " ms after" : std::string("NEVER")) +
      "; limit (two election timeouts) " + std::to_string(ms(d.recovery_limit())) + " ms");

  std::this_thread::sleep_until(heal_at);
  if (lonely) {
    lonely->stop();
    o.minority_attempts = lonely->attempts();
    say("  minority client (priests " + o.minority + "): " + std::to_string(lonely->attempts()) +
        " proposals, none passed; e.g. told: " + lonely->sample_refusal());
  }
  o.rate_during = count_passes(in_place, Clock::now()) / secs(Clock::now() - in_place);
  long round1 = d.max_round();
  if (fault.heal) fault.heal(d);
  d.partition("heal");
  auto healed = Clock::now();
  std::this_thread::sleep_for(kAfter);
  auto load_stop = Clock::now();
  o.rate_after = count_passes(healed, load_stop) / secs(load_stop - healed);
  for (auto& c : load) c->stop();
  reader.stop();
  {
    std::lock_guard lock(book.mu);
    o.refused = book.refused - refused_before;
    o.reads = book.reads_ok - reads_before;
    if (o.refused) say("  " + std::to_string(o.refused) + " load proposals not passed, last: " + book.last_refusal);
  }
  char rates[160];
  std::snprintf(rates, sizeof rates, "  passed per second: %.0f before, %.0f during the fault, %.0f after healing",
                o.rate_before, o.rate_during, o.rate_after);
  say(rates);
  std::string lens;
  for (PriestId id = 1; id <= 5; ++id) {
    auto s = d.status(id);
    lens += " " + std::to_string(id) + ":" + (s ? std::to_string(s->value("passed_len", 0)) : "?");
  }
  say("  load stopped " + std::to_string(ms(load_stop - healed)) + " ms after healing; passed_len" + lens);

  std::optional<std::string> same;
  bool converged = eventually([&] { return (same = d.same_ledgers()).has_value(); }, 10s - (Clock::now() - healed), 20ms);
  if (converged) o.converge_ms = ms(Clock::now() - healed);
  std::optional<PriestId> after;
  eventually([&] { return (after = d.settled_president()).has_value(); }, 5s, 100ms);
  o.presidents = std::to_string(*president) + "->" + (after ? std::to_string(*after) : "?");
  long round2 = d.max_round();
  o.rounds_during = round1 - round0;
  o.rounds_after = round2 - round1;
  say("  the highest promise climbed " + std::to_string(o.rounds_during) + " rounds while the fault held, " +
      std::to_string(o.rounds_after) + " after healing; " + std::to_string(o.reads) +
      " linearizable reads answered, each holding the last decree acknowledged before it began");
  CHECK(o.reads > 0);
  std::string sizes;
  for (PriestId id = 1; id <= 5; ++id) sizes += " " + std::to_string(fs::file_size(d.ledger(id)));
  say("  five ledgers identical " +
      (converged ? std::to_string(o.converge_ms) + " ms after healing" : "NOT within 10 s of healing") +
      " (bytes:" + sizes + "); president now " + (after ? std::to_string(*after) : "unsettled"));

  {
    std::lock_guard lock(book.mu);
    for (auto& v : book.violations) UNSCOPED_INFO(v);
    CHECK(book.violations.empty());
  }
  CHECK(o.recovery_ms >= 0);
  CHECK(o.recovery_ms <= ms(d.recovery_limit()));
  CHECK(o.load_recovery_ms >= 0);  // the load clients too pass decrees again while the fault holds
  CHECK(o.rate_before >= 50);
  // No election for nothing (pre-ballots and the lease: docs/SAFETY.md).
  if (fault.name == "a follower isolated" || fault.name.rfind("bridge", 0) == 0) {
    CHECK(o.rounds_during == 0);
    CHECK(o.presidents == std::to_string(*president) + "->" + std::to_string(*president));
  }
  if (fault.name == "a follower isolated" || fault.name.rfind("president isolated", 0) == 0 ||
      fault.name.rfind("bridge", 0) == 0)
    CHECK(o.rounds_after == 0);
  REQUIRE(converged);
  check_ledger(*same, book, "after " + fault.name);
  return o;
}

// The priest partition.sh names after `lead` in what it printed ("isolated priest 3 from
// ...": 3); the test fails if it names none.
PriestId named_priest(const std::string& said, const std::string& lead) {
  auto at = said.find(lead);
  if (at == std::string::npos) FAIL("partition.sh did not say \"" << lead << "N\": " << said);
  return static_cast<PriestId>(std::stoul(said.substr(at + lead.size())));
}

std::vector<PriestId> others(PriestId p) {
  std::vector<PriestId> v;
  for (PriestId i = 1; i <= 5; ++i)
    if (i != p) v.push_back(i);
  return v;
}

}  // namespace

// The walk-throughs of OPERATIONS' "More priests", "Down, up and removing the data" and
// "Backups": a snapshot saved from the host; priest 6 grown from docker-compose.grow.yml and
// added by decree; `down` with both files leaving no container or network; the data moved
// aside and the snapshot restored into blank directories by the certs service; `up` again,
// and the restored ledgers are the snapshot's, with the next decree after them.
void grow_down_and_restore(Docker& d, const std::string& ledger) {
  say("=== snapshot, grow by the override file, down with both files, restore");
  fs::path work = env("PARLIAMENT_WORK", fs::temp_directory_path().string());
  const std::string client = kBin + "/paxos-client --config " + d.host_config(work);
  const std::string snap = (d.data / "backup.json").string();
  std::string out;
  REQUIRE(sh(client + " snapshot save " + snap, &out) == 0);
  say("  " + trim(out));
  std::vector<std::string> header;
  size_t hlen = parse_header(ledger, header);
  const size_t upto = parse_records(std::string_view(ledger).substr(hlen), 6).records.size();
  REQUIRE(out.find("decrees 1 to " + std::to_string(upto) + " ") != std::string::npos);

  const std::string both = d.compose + " -f " + kSource + "/docker-compose.grow.yml";
  const std::string run = d.compose + " run --rm --no-deps -T ";
  REQUIRE(sh(run + "certs parliament-keys /etc/parliament/docker.json --priest 6", &out) == 0);
  REQUIRE(sh(both + " up -d priest6", &out) == 0);
  int rc = sh(run + "god paxos-god --config /etc/parliament/docker.json add 6 priest6:7100 "
                    "--timeout 60", &out);
  INFO(out);
  REQUIRE(rc == 0);
  say("  priest 6 added by decree: " + trim(out.substr(out.rfind("membership in force"))));
  REQUIRE(sh(both + " down", &out) == 0);
  std::string left;
  sh("docker ps -aq --filter label=com.docker.compose.project=" + d.project, &left);
  CHECK(trim(left).empty());
  sh("docker network ls -q --filter name=" + d.project + "_default", &left);
  CHECK(trim(left).empty());
  say("  down with both files: no container and no network left");

  fs::path aside = d.data / "before-restore";
  fs::create_directories(aside);
  for (PriestId id = 1; id <= 6; ++id) {
    std::string n = "priest-" + std::to_string(id);
    if (fs::exists(d.data / n)) fs::rename(d.data / n, aside / n);
  }
  rc = sh(run + "certs sh -c 'paxos-god --config /etc/parliament/docker.json --certs /data/certs "
                "restore --from /data/backup.json --data-dir /data && chown -R 10001:10001 "
                "/data/priest-1 /data/priest-2 /data/priest-3 /data/priest-4 /data/priest-5'",
          &out);
  INFO(out);
  REQUIRE(rc == 0);
  for (PriestId id = 1; id <= 5; ++id) REQUIRE(slurp(d.ledger(id)) == ledger);
  say("  restored: five blank directories whose ledgers are the snapshot's, byte for byte");
  REQUIRE(d.compose_cmd("up -d", &out) == 0);
  REQUIRE(eventually([&] { return d.settled_president().has_value(); }, 60s, 200ms));
  Proposer proposer(d.host, random_client_id());
  auto next = proposer.propose("after the restore", 10s);
  INFO(next.error);
  REQUIRE(next.passed);
  CHECK(next.decree_no == upto + 1);
  say("  'after the restore' passed as decree " + std::to_string(next.decree_no));
}

// The table of every scenario run: how soon each side passed decrees again, and after.
static void say_summary(const Docker& d, const std::vector<Outcome>& outcomes) {
  say("");
  say("scenario                                majority   load  fault  passed/s before  not    minority  identical  president rounds");
  say("                                        again     again  cmd    /during/after    passed (tries)    after heal  during/after");
  for (const auto& o : outcomes) {
    char line[340];
    std::snprintf(line, sizeof line, "%-38s %6ld ms %5ld ms %4ld ms  %3.0f/%3.0f/%3.0f  %6zu   %-5s(%2zu)  %6ld ms  %-9s %ld/%ld",
                  o.name.c_str(), o.recovery_ms, o.load_recovery_ms, o.fault_ms, o.rate_before, o.rate_during,
                  o.rate_after, o.refused, o.minority.c_str(), o.minority_attempts, o.converge_ms, o.presidents.c_str(),
                  o.rounds_during, o.rounds_after);
    say(line);
  }
  say("majority again: from the fault in place to the first fresh proposal to the majority passing; limit two "
      "election timeouts, " + std::to_string(ms(d.recovery_limit())) + " ms (a priest stands after " +
      std::to_string(ms(d.configured_timeout())) + "-" + std::to_string(ms(d.election_timeout())) +
      " ms of silence). load again: the same for the 6 load clients. identical: from the heal; the load stops 3 s after it. "
      "rounds: how far the highest promise climbed while the fault held / after healing (a climb is an election).");
}

TEST_CASE("docker: five priests in containers keep passing decrees through real partitions") {
  Docker d;
  REQUIRE(!d.compose.empty());
  REQUIRE(!d.data.empty());
  say("compose project " + d.project + ", data in " + d.data.string() + ", host ports " + d.prefix + "1-" +
      d.prefix + "5, election timeout " + std::to_string(ms(d.configured_timeout())) + "-" +
      std::to_string(ms(d.election_timeout())) + " ms (randomised)");
  Book book;

  // Keys stay home: a priest's container holds ca.crt and its own pair only (no ca.key, no
  // god.key, no other priest's key), and its processes are not root.
  for (PriestId id : {1u, 3u}) {
    std::string n = std::to_string(id), out;
    int rc = d.sh_in(id, "id -u; ls /etc/parliament/certs", &out);
    INFO("priest " << n << "'s container: " << out);
    REQUIRE(rc == 0);
    CHECK(trim(out) == "10001\nca.crt\npriest-" + n + ".crt\npriest-" + n + ".key");
    CHECK(d.sh_in(id, "cat /etc/parliament/certs/priest-" + std::to_string(id % 5 + 1) + ".key", &out) != 0);
    CHECK(d.sh_in(id, "find / -name ca.key -o -name god.key 2>/dev/null | grep -q .", &out) != 0);
  }
  say("keys stay home: each priest container holds ca.crt and its own pair, as uid 10001");
  // The compose healthcheck (health --priest N in each container): every priest turns healthy
  // once it follows a president that hears a majority.
  REQUIRE(eventually([&] {
    auto h = d.container_health();
    return h.size() == 5 && std::count(h.begin(), h.end(), "healthy") == 5;
  }, 90s, 1s));
  say("compose healthcheck: all five priests healthy");
  // partition.sh reads each priest's status inside its container with the priest's own
  // certificate: its table names the president.
  REQUIRE(eventually([&] { return d.partition("status").find("president") != std::string::npos; }, 10s, 500ms));

  // The live page from the host: paxos-client console on the published HTTP ports.
  fs::path work = env("PARLIAMENT_WORK", fs::temp_directory_path().string());
  fs::path build_dir = fs::path(env("PARLIAMENT_DOCKER_REPORT", (fs::path(kBin) / "x").string())).parent_path();
  std::string console_port = "27399";
  std::string console_pid;
  sh("nohup " + kBin + "/paxos-client --config " + d.host_config(work) + " console --listen 127.0.0.1:" + console_port +
         " > " + (work / "console.log").string() + " 2>&1 9>&- & echo $!",
     &console_pid);
  // Stopped however the test ends (a failed REQUIRE too), so no console outlives it.
  struct StopConsole {
    const std::string& pid;
    ~StopConsole() {
      if (!trim(pid).empty()) sh("kill " + trim(pid) + " 2>/dev/null");
    }
  } stop_console{console_pid};
  if (sh("command -v chromium >/dev/null") == 0) {
    shot_path = (build_dir / "docker-page-partition.png").string();
    page_shot = "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                " --user-data-dir=" + (work / "chromium").string() + " --virtual-time-budget=2500 --window-size=1280,1500"
                " --screenshot=" + shot_path + " http://127.0.0.1:" + console_port + "/";
  } else {
    say("no Chromium here: the page during the partition is checked through the HTTP ports only, not photographed");
  }

  auto without = [](std::vector<PriestId> all, const std::vector<PriestId>& drop) {
    std::erase_if(all, [&](PriestId x) { return std::find(drop.begin(), drop.end(), x) != drop.end(); });
    return all;
  };
  const std::vector<PriestId> all{1, 2, 3, 4, 5};
  std::vector<Fault> faults = {
      {"president isolated (by role name)",
       [&](Docker& d, PriestId) {
         // As the walk-through says it: partition.sh finds the president itself.
         PriestId n = named_priest(d.partition("isolate president"), "isolated priest ");
         return Sides{{n}, others(n)};
       }, nullptr},
      {"a follower isolated",
       [&](Docker& d, PriestId p) {
         PriestId f = others(p)[0];
         d.partition("isolate " + std::to_string(f));
         // The healthcheck: the cut-off follower is unhealthy (its president does not answer
         // it), the president, asked from another container, still healthy.
         std::string out;
         CHECK(eventually([&] { return d.health_in(f, f, &out) == 1; }, 10s, 500ms));
         say("  health --priest " + std::to_string(f) + " in its container -> " + trim(out));
         CHECK(eventually([&] { return d.health_in(others(f)[1], p, &out) == 0; }, 10s, 500ms));
         return Sides{{f}, others(f)};
       }, nullptr},
      {"2|3 with the president in the minority",
       [&](Docker& d, PriestId p) {
         auto o = others(p);
         d.partition("split " + ids_text({p, o[0]}) + " " + ids_text({o[1], o[2], o[3]}));
         return Sides{{p, o[0]}, {o[1], o[2], o[3]}};
       }, nullptr},
      {"2|3 with the president in the majority",
       [&](Docker& d, PriestId p) {
         auto o = others(p);
         d.partition("split " + ids_text({o[0], o[1]}) + " " + ids_text({p, o[2], o[3]}));
         return Sides{{o[0], o[1]}, {p, o[2], o[3]}};
       }, nullptr},
      {"bridge: president on one side",
       [&](Docker& d, PriestId p) {
         auto o = others(p);
         d.partition("bridge " + std::to_string(o[0]) + " " + ids_text({p, o[1]}) + " " + ids_text({o[2], o[3]}));
         return Sides{{}, all};  // each side with the bridge is a majority: no minority
       }, nullptr},
      {"one-way: the president hears no one",
       [&](Docker& d, PriestId p) {
         d.partition("oneway " + ids_text(others(p)) + " " + std::to_string(p));
         return Sides{{p}, others(p)};
       }, nullptr},
      {"one-way: no one hears the president",
       [&](Docker& d, PriestId p) {
         d.partition("oneway " + std::to_string(p) + " " + ids_text(others(p)));
         return Sides{{p}, others(p)};
       }, nullptr},
      {"president paused > election timeout (by role name)",
       [&](Docker& d, PriestId) {
         PriestId n = named_priest(d.partition("pause president"), "pause: priest(s) ");
         return Sides{{n}, others(n)};
       }, nullptr},  // the network heal unpauses
  };
  // kill -9 of the president and one more, both started again at the heal.
  auto killed = std::make_shared<std::vector<PriestId>>();
  faults.push_back({"kill -9 president + follower, restart",
                    [&, killed](Docker& d, PriestId p) {
                      *killed = {p, others(p)[1]};
                      d.partition("kill " + ids_text(*killed));
                      return Sides{*killed, without(all, *killed)};
                    },
                    [killed](Docker& d) { d.partition("start " + ids_text(*killed)); }});

  // A follower's disk lost under load: its host data directory is emptied while it is
  // down, and it comes back blank, as a new incarnation. Bootstrap refuses it; `paxos-god
  // replace` makes it a voter again once it has learned the ledger.
  auto wiped = std::make_shared<PriestId>(0);
  faults.push_back({"data directory lost, priest replaced",
                    [&, wiped](Docker& d, PriestId p) {
                      *wiped = others(p)[2];
                      std::string n = std::to_string(*wiped);
                      d.partition("kill " + n);
                      std::error_code ec;
                      for (auto& entry : fs::directory_iterator(d.data / ("priest-" + n), ec))
                        fs::remove_all(entry.path(), ec);
                      REQUIRE(fs::is_empty(d.data / ("priest-" + n)));
                      d.partition("start " + n);
                      return Sides{{*wiped}, without(all, {*wiped})};
                    },
                    [wiped](Docker& d) {
                      std::string n = std::to_string(*wiped), out;
                      // In the god's own container: no priest's holds god.key.
                      const std::string god = d.compose + " run --rm --no-deps -T god paxos-god --config /etc/parliament/docker.json ";
                      int rc = sh(god + "bootstrap --timeout 20", &out);
                      INFO(out);
                      CHECK(rc != 0);
                      CHECK(out.find("replace " + n) != std::string::npos);
                      say("  bootstrap of the blank priest " + n + " refused (exit " + std::to_string(rc) + ")");
                      auto t0 = Clock::now();
                      rc = sh(god + "replace " + n + " --keep-key --timeout 30", &out);
                      INFO(out);
                      REQUIRE(rc == 0);
                      say("  paxos-god replace " + n + " passed in " + std::to_string(ms(Clock::now() - t0)) + " ms");
                    }});

  // PARLIAMENT_DOCKER_SCENARIO=text runs only the scenarios whose name holds it, each
  // PARLIAMENT_DOCKER_REPEAT times, and ends with their summary (no restart, no snapshot).
  const std::string only = env("PARLIAMENT_DOCKER_SCENARIO");
  const int repeat = only.empty() ? 1 : std::max(1, std::atoi(env("PARLIAMENT_DOCKER_REPEAT", "1").c_str()));
  std::vector<Outcome> outcomes;
  for (const auto& f : faults)
    if (f.name.find(only) != std::string::npos)
      for (int i = 0; i < repeat; ++i) outcomes.push_back(run_scenario(d, book, f));
  REQUIRE(!outcomes.empty());
  if (!only.empty()) return say_summary(d, outcomes);
  if (!trim(console_pid).empty()) sh("kill " + trim(console_pid));
  {
    std::string cmd = kBin + "/paxos-client timeline", out;
    for (PriestId id = 1; id <= 5; ++id) cmd += " --data " + (d.data / ("priest-" + std::to_string(id))).string();
    int rc = sh(cmd + " --out " + (build_dir / "docker-timeline.html").string(), &out);
    say("ballot timeline of the run: " + trim(out));
    CHECK(rc == 0);
  }

  // ---- the whole parliament down and up again on the same data ----
  say("=== whole parliament: down, then up on the same data");
  auto before = d.same_ledgers();
  REQUIRE(before.has_value());
  std::vector<std::string> header;
  size_t hlen = parse_header(*before, header);
  size_t length = parse_records(std::string_view(*before).substr(hlen), 6).records.size();
  std::string out;
  if (auto work = env("PARLIAMENT_WORK"); !work.empty())  // down removes the containers and their logs
    sh(d.compose + " logs --no-color --timestamps > " + work + "/logs-before-restart.txt");
  auto t0 = Clock::now();
  REQUIRE(d.compose_cmd("down", &out) == 0);
  say("  down in " + std::to_string(ms(Clock::now() - t0)) + " ms; ledgers on the host: " + std::to_string(length) + " decrees");
  t0 = Clock::now();
  INFO(out);
  REQUIRE(d.compose_cmd("up -d", &out) == 0);
  say("  up -d (priests and the god started) in " + std::to_string(ms(Clock::now() - t0)) + " ms");
  // The god runs once more and finds every priest already bootstrapped.
  std::string god_state;
  REQUIRE(eventually(
      [&] {
        sh("docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' $(" + d.compose + " ps -q god)", &god_state);
        return trim(god_state).rfind("exited", 0) == 0;
      },
      60s, 200ms));
  REQUIRE(trim(god_state) == "exited 0");
  d.compose_cmd("logs --no-color god", &out);
  size_t already = 0;
  for (size_t at = 0; (at = out.find("was already bootstrapped", at)) != std::string::npos; ++at) ++already;
  INFO(out);
  REQUIRE(already == 5);
  say("  god: exited 0, all 5 priests were already bootstrapped (no new bootstrap)");
  for (PriestId id = 1; id <= 5; ++id) REQUIRE(slurp(d.ledger(id)) == *before);
  say("  all five ledgers unchanged by down + up");
  std::optional<PriestId> president;
  REQUIRE(eventually([&] { return (president = d.settled_president()).has_value(); }, 30s, 100ms));
  Proposer proposer(d.host, random_client_id());
  {
    std::lock_guard lock(book.mu);
    book.proposed[{proposer.client_id(), 1}] = "after the restart";
  }
  auto next = proposer.propose("after the restart", 10s);
  INFO(next.error);
  REQUIRE(next.passed);
  say("  president " + std::to_string(*president) + "; 'after the restart' passed as decree " +
      std::to_string(next.decree_no) + " (ledger held " + std::to_string(length) + ")");
  CHECK(next.decree_no == length + 1);
  {
    std::lock_guard lock(book.mu);
    book.acked.emplace(next.decree_no, Proposal{proposer.client_id(), 1, "after the restart"});
  }
  std::optional<std::string> same;
  REQUIRE(eventually([&] { return (same = d.same_ledgers()).has_value() && same->size() > before->size(); }, 10s, 20ms));
  REQUIRE(same->compare(0, before->size(), *before) == 0);
  check_ledger(*same, book, "after the restart");
  grow_down_and_restore(d, *same);

  say_summary(d, outcomes);
}
