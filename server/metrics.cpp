#include "server/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace parliament {

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    std::string le = i < kBounds.size() ? fmt::format("{}", kBounds[i]) : "+Inf";
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, le, cumulative);
  }
  out += fmt::format("{}_sum {}\n", name,
                     static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  out += fmt::format("{}_count {}\n", name, cumulative);
}

void Counters::count(const Event& e) {
  ++events.at(static_cast<size_t>(e.kind));
  if (e.kind == Event::Kind::Passed) decrees_passed += e.upto_no - e.from_no + 1;
}

namespace {

// One family: its HELP and TYPE lines, then its samples.
struct Family {
  std::string& out;
  std::string name;
  Family(std::string& o, std::string n, const char* type, const char* help)
      : out(o), name(std::move(n)) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  Family& sample(double v, const std::string& labels = "") {
    std::string value = v == std::floor(v) && std::fabs(v) < 1e15
                            ? fmt::format("{}", static_cast<int64_t>(v))
                            : fmt::format("{}", v);
    if (labels.empty()) out += fmt::format("{} {}\n", name, value);
    else out += fmt::format("{}{{{}}} {}\n", name, labels, value);
    return *this;
  }
};

std::string label(const char* k, const std::string& v) { return fmt::format("{}=\"{}\"", k, v); }

// What this priest counted since it started.
void render_counters(std::string& o, PriestId id, const Counters& c) {
  using K = Event::Kind;
  auto ev = [&](K k) { return static_cast<double>(c.events.at(static_cast<size_t>(k))); };
  Family(o, "paxos_priest_info", "gauge", "Always 1; its label id is this priest's id.")
      .sample(1, label("id", std::to_string(id)));
  Family(o, "paxos_decrees_passed_total", "counter",
         "Decrees added to this priest's ledger since it started.")
      .sample(static_cast<double>(c.decrees_passed));
  Family(o, "paxos_ballots_begun_total", "counter", "Begin ballots this priest sent as president.")
      .sample(ev(K::Begin));
  Family(o, "paxos_pre_ballots_total", "counter",
         "Times it asked whether a majority would promise its ballot.")
      .sample(ev(K::PreBallot));
  Family(o, "paxos_elections_stood_total", "counter",
         "Times it stood for president (sent next ballot).")
      .sample(ev(K::Stood));
  Family(o, "paxos_elections_won_total", "counter", "Times it became president.")
      .sample(ev(K::President));
  Family(o, "paxos_step_downs_total", "counter", "Times it stopped being president or candidate.")
      .sample(ev(K::StepDown));
  Family(o, "paxos_promises_total", "counter", "Higher ballots it promised (next_bal raised).")
      .sample(ev(K::Promised));
  Family(o, "paxos_last_votes_total", "counter", "Last vote messages it sent.")
      .sample(ev(K::LastVote));
  Family(o, "paxos_votes_total", "counter",
         "Its votes: yes to begin ballots; no to any ballot below its promise.")
      .sample(ev(K::VoteYes), label("vote", "yes"))
      .sample(ev(K::VoteNo), label("vote", "no"));
  Family(o, "paxos_peer_changes_total", "counter", "Times a priest began or stopped being heard.")
      .sample(ev(K::Heard), label("change", "heard"))
      .sample(ev(K::Lost), label("change", "lost"));
  Family(o, "paxos_catch_up_messages_total", "counter",
         "Catch-up messages (decrees from a ledger).")
      .sample(static_cast<double>(c.catch_up_sent), label("direction", "sent"))
      .sample(static_cast<double>(c.catch_up_received), label("direction", "received"));
  Family(o, "paxos_catch_up_decrees_total", "counter", "Decrees carried by catch-up messages.")
      .sample(static_cast<double>(c.catch_up_decrees_sent), label("direction", "sent"))
      .sample(static_cast<double>(c.catch_up_decrees_received), label("direction", "received"));
  Family(o, "paxos_client_proposals_total", "counter",
         "Client proposals answered by this priest, by outcome.")
      .sample(static_cast<double>(c.proposals_passed), label("outcome", "passed"))
      .sample(static_cast<double>(c.proposals_refused), label("outcome", "refused"))
      .sample(static_cast<double>(c.proposals_unknown), label("outcome", "unknown"));
  Family(o, "paxos_client_reads_total", "counter",
         "Linearizable reads answered by this priest, by outcome.")
      .sample(static_cast<double>(c.reads_ok), label("outcome", "ok"))
      .sample(static_cast<double>(c.reads_failed), label("outcome", "error"));
  Family(o, "paxos_strangers_refused_total", "counter",
         "Priest links refused or closed: their certificate's priest (with the incarnation it "
         "named) is not a member of the membership in force here.")
      .sample(static_cast<double>(c.strangers_refused));
  Family(o, "paxos_received_bytes_total", "counter",
         "Bytes received on all connections (after TLS).")
      .sample(static_cast<double>(c.bytes_in));
  Family(o, "paxos_sent_bytes_total", "counter", "Bytes sent on all connections (before TLS).")
      .sample(static_cast<double>(c.bytes_out));
}

// What this priest holds now.
void render_gauges(std::string& o, const Gauges& g) {
  {
    Family f(o, "paxos_connections", "gauge", "Open connections, by kind.");
    for (auto& [kind, n] : g.connections) f.sample(static_cast<double>(n), label("kind", kind));
  }
  Family(o, "paxos_bootstrapped", "gauge", "1 once this priest knows its membership.")
      .sample(g.bootstrapped);
  Family(o, "paxos_clients_revoked", "gauge",
         "Named clients whose certificates the membership in force revokes.")
      .sample(static_cast<double>(g.status.membership.revoked.size()));
  Family(o, "paxos_halted", "gauge", "1 if a disk fault stopped this priest from voting.")
      .sample(g.halted);
  Family(o, "paxos_ledger_decrees", "gauge", "Decrees in this priest's ledger.")
      .sample(static_cast<double>(g.ledger_length));
  Family(o, "paxos_votes_file_bytes", "gauge", "Size of votes.csv.")
      .sample(static_cast<double>(g.votes_file_bytes));
  if (g.bootstrapped) {
    const auto& s = g.status;
    {
      Family f(o, "paxos_role", "gauge", "1 for this priest's role.");
      for (Role r : {Role::Follower, Role::Candidate, Role::President})
        f.sample(s.role == r, label("role", name_of(r)));
    }
    Family(o, "paxos_president", "gauge",
           "The id of the president this priest follows or is (0: none).")
        .sample(s.president ? *s.president : 0);
    Family(o, "paxos_ballot_round", "gauge", "The round of the ballot it leads or follows.")
        .sample(static_cast<double>(s.ballot.round));
    Family(o, "paxos_promise_round", "gauge", "The round of its promise (next_bal).")
        .sample(static_cast<double>(s.next_bal.round));
    Family(o, "paxos_reachable_priests", "gauge",
           "Priests heard within an election timeout, itself included.")
        .sample(static_cast<double>(s.reachable.size()));
    Family(o, "paxos_members", "gauge", "Priests in the membership it knows.")
        .sample(static_cast<double>(s.membership.priests.size()));
    Family(o, "paxos_in_flight_decrees", "gauge", "President: decrees begun and not yet passed.")
        .sample(static_cast<double>(s.in_flight));
    Family(o, "paxos_queued_proposals", "gauge", "Proposals waiting for a ballot.")
        .sample(static_cast<double>(s.queued));
    Family(o, "paxos_waiting_requests", "gauge",
           "Client requests waiting for an answer in the core.")
        .sample(static_cast<double>(s.waiting));
  }
  Family(o, "paxos_waiting_clients", "gauge", "Client requests this host waits to answer.")
      .sample(static_cast<double>(g.waiting_clients));
}

// The process_* families every Prometheus client library exports, read from /proc.
void render_process(std::string& o) {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
  auto paren = stat.rfind(')');
  if (paren == std::string::npos) return;
  std::istringstream fields(stat.substr(paren + 2));  // from field 3, the state
  std::vector<std::string> f{"", "", ""};
  for (std::string x; fields >> x;) f.push_back(x);
  if (f.size() < 25) return;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double boot = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string key; proc_stat >> key;)
    if (key == "btime" && proc_stat >> boot) break;
  size_t fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++fds;
    closedir(d);
    fds -= 3;  // ".", ".." and the descriptor of the directory itself
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  Family(o, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.")
      .sample((std::stod(f[14]) + std::stod(f[15])) / tick);
  Family(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
      .sample(std::stod(f[24]) * page);
  Family(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.")
      .sample(std::stod(f[23]));
  Family(o, "process_open_fds", "gauge", "Number of open file descriptors.")
      .sample(static_cast<double>(fds));
  Family(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.")
      .sample(static_cast<double>(limit.rlim_cur));
  Family(o, "process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch in seconds.")
      .sample(boot + std::stod(f[22]) / tick);
}

}  // namespace

std::string render_metrics(PriestId id, const Counters& c, const Gauges& g,
                           const Histogram& votes_sync, const Histogram& proposal_time) {
  std::string o;
  Family(o, "paxos_build_info", "gauge", "Always 1; its label version is this priest's version.")
      .sample(1, label("version", PARLIAMENT_VERSION));
  render_counters(o, id, c);
  render_gauges(o, g);
  Family(o, "paxos_votes_fdatasync_seconds", "histogram",
         "Time of each fdatasync of votes.csv (what a vote waits for).");
  votes_sync.render(o, "paxos_votes_fdatasync_seconds");
  Family(o, "paxos_proposal_seconds", "histogram",
         "From a client's proposal arriving at this priest to its answer that the decree "
         "passed (at the president: the time one decree takes to pass).");
  proposal_time.render(o, "paxos_proposal_seconds");
  render_process(o);
  return o;
}

}  // namespace parliament
