// paxos-bench: a closed-loop load generator. N clients share M connections; each client
// proposes a decree of --val bytes (--op read: asks for a linearizable read of the latest
// decree it knows), waits for the answer, and sends the next. Latency of every request after
// the warm-up is recorded. Prints a progress line while it runs (one line rewritten in place
// on a terminal, plain lines otherwise) and at the end exactly:
//
// RESULT label=L clients=64 conns=8 val=100 n=N done=D errors=E ops_s=X avg_ms=A p50_ms=P
//        p90_ms=Q p99_ms=R p999_ms=S max_ms=M          (one line)
//
// n counts the measured requests, done every request answered (warm-up included). With
// --watchers W the line goes on: watchers=W watched=K watch_gaps=G watch_errors=E watch_n=S
// watch_p50_ms=P watch_p99_ms=Q (decrees received by all watchers together, decrees that did
// not follow the one before, failed watch connections, and the watch's latency, sampled).
//
// --target president sends to the president (found with status); --target all spreads the
// connections over every priest (followers forward to the president).
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <deque>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <unordered_map>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <asio/ssl/context.hpp>

#include "client/bench_link.hpp"
#include "client/bench_watch.hpp"
#include "client/lib/open.hpp"
#include "net/program.hpp"
#include "net/rpc.hpp"
#include "net/tls_session.hpp"
#include "parliament/client.hpp"
#include "proto/framing.hpp"

using namespace parliament;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

struct Stats {
  std::vector<double> latencies_ms;  // after the warm-up
  uint64_t errors = 0;
  uint64_t done_total = 0;
  std::string last_error;
  std::map<std::string_view, uint64_t> errors_by_code;  // code_name: how many
  // Proposals that passed at a decree numbered a multiple of bench::kSample, and when their
  // "passed" arrived (the watch's latency is counted from there).
  std::vector<std::pair<uint64_t, Clock::time_point>> passed;
};

struct Load {
  std::string label;
  int clients = 64, conns = 8;
  size_t val = 100;
  double duration = 10, warmup = 2;
  bool reads = false;  // linearizable reads of the latest decree instead of proposals
  int watchers = 0;
};

// The closed loop: every client keeps one request outstanding on its connection, and sends
// the next when the answer comes, until the end.
class Bench {
 public:
  Bench(const Load& load, Clock::time_point measure_from, Clock::time_point end)
      : load_(load), decree_json_(json(std::string(load.val, 'x')).dump()),
        measure_from_(measure_from), end_(end) {}

  struct Client {
    uint64_t request = 0;
    uint64_t upto = 1;  // reads: the latest decree it saw, which it asks for again
    Clock::time_point sent;
    size_t conn = 0;
  };
  struct Conn {
    std::unique_ptr<bench::Link> link;
    std::vector<uint64_t> clients;
    std::deque<uint64_t> reads;  // read replies name no client: they come back in order
  };

  void add_conn(asio::io_context& io, tcp::endpoint ep, asio::ssl::context* tls, PriestId expect,
                std::vector<uint64_t> clients) {
    size_t at = conns_.size();
    for (auto c : clients) clients_[c].conn = at;
    conns_.push_back(Conn{nullptr, std::move(clients), {}});
    conns_.back().link = std::make_unique<bench::Link>(
        io, ep, tls, expect,
        bench::Link::Calls{[this, at] {
                             for (auto c : conns_[at].clients) request(c);
                           },
                           [this, at](std::string_view p) { on_frame(at, p); },
                           [this](const std::string& why) { on_link_error(why); }});
  }
  void start() {
    for (auto& c : conns_) c.link->start();
  }

  Stats stats;

 private:
  void request(uint64_t client) {
    auto& c = clients_[client];
    c.sent = Clock::now();
    // Written by hand: the load generator shares the CPUs with the priests it measures, so
    // it spends as little as it can per request (what a JSON tree per request would cost).
    std::string out;
    if (load_.reads) {
      out = R"({"type":"read","from":)" + std::to_string(c.upto) + R"(,"max":1})";
      conns_[c.conn].reads.push_back(client);
    } else {
      out = R"({"type":"propose","client":)" + std::to_string(client) +
            R"(,"request":)" + std::to_string(++c.request) + R"(,"decree":)" + decree_json_ +
            "}";
    }
    conns_[c.conn].link->send(out);
  }

  // A number that follows `"key":` in an answer, scanned rather than parsed: inside a JSON
  // string every quote is escaped, so `"key":` can only be a key. nullopt: none.
  static std::optional<uint64_t> scan(std::string_view p, std::string_view key) {
    auto at = p.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(p.data() + at + key.size(), p.data() + p.size(), v);
    if (ec != std::errc()) return std::nullopt;
    return v;
  }

  // An answer. One that says "ok":true is scanned for the few numbers the load needs; any
  // other is parsed whole, for its error code and message.
  void on_frame(size_t conn, std::string_view payload) {
    const bool ok = payload.find(R"("ok":true)") != std::string_view::npos;
    std::optional<json> j;
    if (!ok && !(j = parse_object(payload)))
      return on_link_error("a frame that is not a JSON object");
    auto number = [&](std::string_view key) -> uint64_t {
      if (ok) return scan(payload, "\"" + std::string(key) + "\":").value_or(0);
      return j->value(std::string(key), uint64_t(0));
    };
    uint64_t client = 0;
    if (load_.reads) {
      if (conns_[conn].reads.empty()) return;
      client = conns_[conn].reads.front();
      conns_[conn].reads.pop_front();
    } else {
      client = number("client");
    }
    auto it = clients_.find(client);
    if (it == clients_.end()) return;
    auto now = Clock::now();
    ++stats.done_total;
    if (Code code = ok ? Code::Ok : reply_code(*j); code != Code::Ok) {
      ++stats.errors;
      ++stats.errors_by_code[code_name(code)];
      stats.last_error = j->value("error", std::string("?"));
    } else {
      if (it->second.sent >= measure_from_)
        stats.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(now - it->second.sent).count());
      if (load_.reads) it->second.upto = std::max<uint64_t>(1, number("upto"));
      else if (uint64_t no = number("decree_no"); no % bench::kSample == 0)
        stats.passed.emplace_back(no, now);
    }
    if (now < end_) request(client);
  }

  void on_link_error(const std::string& why) {
    stats.last_error = why;
    ++stats.errors;
    ++stats.errors_by_code[code_name(Code::Unreachable)];
  }

  const Load& load_;
  std::string decree_json_;  // the decree, as a JSON string
  Clock::time_point measure_from_, end_;
  std::unordered_map<uint64_t, Client> clients_;
  std::vector<Conn> conns_;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = std::min(sorted.size() - 1, size_t(p * (sorted.size() - 1) + 0.5));
  return sorted[i];
}

// Whom to load: the president (asked of every priest, for up to 10 s), or every priest.
std::vector<PriestAddress> targets_of(client::Parliament& parliament, const Config& config,
                                      const std::string& target) {
  if (target == "all") return config.priests;
  std::vector<PriestAddress> targets;
  auto until = Clock::now() + std::chrono::seconds(10);
  while (targets.empty() && Clock::now() < until) {
    client::Report report;
    if (parliament.status(&report).ok())
      for (const auto& s : report.priests) {
        if (s.role != "president") continue;
        if (auto* p = config.find(static_cast<PriestId>(s.id))) targets.push_back(*p);
        else if (auto a = parse_address(s.address, static_cast<PriestId>(s.id), "president"))
          targets.push_back(*a);
      }
    if (targets.empty()) std::this_thread::sleep_for(Millis(100));
  }
  return targets;
}

// One line on stderr each second while the load runs; the loop stops 5 s after the end at
// the latest, or as soon as the measured time is over.
void watch_progress(asio::io_context& io, const Load& load, Bench& bench, Clock::time_point start,
                    Clock::time_point measure_from, Clock::time_point end) {
  bool tty = isatty(fileno(stderr));
  auto progress = std::make_shared<asio::steady_timer>(io);
  auto last_done = std::make_shared<uint64_t>(0);
  auto tick = std::make_shared<std::function<void()>>();
  *tick = [=, &io, &bench, &load] {
    progress->expires_after(std::chrono::seconds(1));
    progress->async_wait([=, &io, &bench, &load](asio::error_code ec) {
      if (ec) return;
      auto now = Clock::now();
      double t = std::chrono::duration<double>(now - start).count();
      uint64_t done = bench.stats.done_total;
      std::fprintf(stderr, "%s%s %5.1f s  %7llu ops/s  %llu done  %llu errors%s",
                   tty ? "\r\033[K" : "", load.label.c_str(), t,
                   (unsigned long long)(done - *last_done), (unsigned long long)done,
                   (unsigned long long)bench.stats.errors, now < measure_from ? "  (warm-up)" : "");
      if (!tty) std::fprintf(stderr, "\n");
      *last_done = done;
      if (now < end + std::chrono::seconds(5)) (*tick)();
      else io.stop();
    });
  };
  (*tick)();
  auto stopper = std::make_shared<asio::steady_timer>(io);
  auto check = std::make_shared<std::function<void()>>();
  *check = [=, &io] {
    stopper->expires_after(Millis(20));
    stopper->async_wait([=, &io](asio::error_code ec) {
      if (ec) return;
      if (Clock::now() >= end) return io.stop();
      (*check)();
    });
  };
  (*check)();
}

// The watch's latency, in ms: from the "passed" of each sampled decree passed after the
// warm-up to each watcher's receipt of it.
std::vector<double> watch_latencies(const Stats& stats, const bench::WatchFigures& watched,
                                    Clock::time_point measure_from) {
  std::unordered_map<uint64_t, Clock::time_point> passed;
  for (auto& [no, at] : stats.passed)
    if (at >= measure_from) passed.emplace(no, at);
  std::vector<double> out;
  for (auto& [no, at] : watched.seen)
    if (auto it = passed.find(no); it != passed.end())
      out.push_back(std::chrono::duration<double, std::milli>(at - it->second).count());
  std::sort(out.begin(), out.end());
  return out;
}

// The RESULT line; 1 if nothing was measured.
int report(const Load& load, Stats& stats, const bench::WatchFigures* watched,
           Clock::time_point measure_from) {
  auto& lat = stats.latencies_ms;
  std::sort(lat.begin(), lat.end());
  double sum = 0;
  for (double l : lat) sum += l;
  double avg = lat.empty() ? 0 : sum / lat.size();
  if (!stats.last_error.empty()) {
    std::string codes;
    for (auto& [code, n] : stats.errors_by_code)
      codes += " " + std::string(code) + "=" + std::to_string(n);
    std::fprintf(stderr, "errors by code:%s; last error: %s\n", codes.c_str(),
                 stats.last_error.c_str());
  }
  std::string watch;
  if (watched) {
    auto w = watch_latencies(stats, *watched, measure_from);
    if (!watched->last_error.empty())
      std::fprintf(stderr, "watchers: last error: %s\n", watched->last_error.c_str());
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  " watchers=%d watched=%llu watch_gaps=%llu watch_errors=%llu watch_n=%zu "
                  "watch_p50_ms=%.3f watch_p99_ms=%.3f",
                  load.watchers, (unsigned long long)watched->decrees,
                  (unsigned long long)watched->gaps, (unsigned long long)watched->errors,
                  w.size(), percentile(w, 0.5), percentile(w, 0.99));
    watch = buf;
  }
  std::printf(
      "RESULT label=%s clients=%d conns=%d val=%zu n=%zu done=%llu errors=%llu ops_s=%.0f "
      "avg_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f%s\n",
      load.label.c_str(), load.clients, load.conns, load.val, lat.size(),
      (unsigned long long)stats.done_total, (unsigned long long)stats.errors,
      lat.size() / load.duration, avg, percentile(lat, 0.5), percentile(lat, 0.9),
      percentile(lat, 0.99), percentile(lat, 0.999), lat.empty() ? 0 : lat.back(),
      watch.c_str());
  return lat.empty() ? 1 : 0;
}

tcp::endpoint endpoint_of(tcp::resolver& resolver, const PriestAddress& p) {
  return resolver.resolve(p.host, std::to_string(p.port)).begin()->endpoint();
}

// Runs the closed loop: `load.clients` clients over `load.conns` connections to `targets`,
// watched by `load.watchers` watchers spread over `everyone` from decree `next` on.
int run_load(const Load& load, const std::vector<PriestAddress>& targets,
             const std::vector<PriestAddress>& everyone, uint64_t next, asio::ssl::context* tls,
             bool named) {
  asio::io_context io(1);
  tcp::resolver resolver(io);
  std::unique_ptr<bench::Watchers> watchers;
  if (load.watchers > 0) {
    std::vector<bench::WatchTarget> at;
    for (const auto& p : everyone) at.push_back({endpoint_of(resolver, p), named ? p.id : 0});
    watchers = std::make_unique<bench::Watchers>(at, load.watchers, next, tls);
    watchers->start();
  }
  auto start = Clock::now();
  auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  auto measure_from = start + seconds(load.warmup);
  auto end = measure_from + seconds(load.duration);
  Bench bench(load, measure_from, end);
  uint64_t base = random_client_id() & ~uint64_t(0xFFFFF);
  std::vector<std::vector<uint64_t>> per_link(load.conns);
  for (int i = 0; i < load.clients; ++i) per_link[i % load.conns].push_back(base + i + 1);
  for (int c = 0; c < load.conns; ++c) {
    const auto& p = targets[c % targets.size()];
    bench.add_conn(io, endpoint_of(resolver, p), tls, named ? p.id : 0, per_link[c]);
  }
  bench.start();
  watch_progress(io, load, bench, start, measure_from, end);
  io.run();
  if (isatty(fileno(stderr))) std::fprintf(stderr, "\n");
  std::optional<bench::WatchFigures> watched;
  if (watchers) {
    std::this_thread::sleep_for(Millis(200));  // the last pushes of what passed
    watched = watchers->stop();
  }
  return report(load, bench.stats, watched ? &*watched : nullptr, measure_from);
}

// The next decree to pass: after the longest ledger.
uint64_t next_decree(client::Parliament& parliament) {
  client::Report report;
  uint64_t longest = 0;
  if (parliament.status(&report).ok())
    for (const auto& s : report.priests) longest = std::max(longest, s.ledger_length);
  return longest + 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paxos-bench: closed-loop benchmark of the parliament"};
  app.set_version_flag("--version", std::string("paxos-bench ") + PARLIAMENT_VERSION);
  std::string config_path, cluster, target = "president";
  Load load;
  load.label = "bench";
  auto cfg_opt = app.add_option("--config", config_path, "parliament config (JSON)");
  app.add_option("--cluster", cluster, "host:port,host:port,... instead of --config")
      ->excludes(cfg_opt);
  app.add_option("--clients", load.clients, "concurrent clients (closed loop)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--conns", load.conns, "connections they share")->check(CLI::Range(1, 10000));
  app.add_option("--val", load.val, "decree size in bytes")->check(CLI::Range(1, 16 << 20));
  app.add_option("--duration", load.duration, "seconds measured")->check(CLI::PositiveNumber);
  app.add_option("--warmup", load.warmup, "seconds before measuring")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--target", target, "president | all")->check(CLI::IsMember({"president", "all"}));
  app.add_option("--label", load.label, "label of the RESULT line");
  std::string op = "propose";
  app.add_option("--op", op, "propose | read (linearizable reads of the latest decree)")
      ->check(CLI::IsMember({"propose", "read"}));
  app.add_option("--watchers", load.watchers,
                 "watchers spread over every priest while the load runs (the RESULT line adds "
                 "their latency from a decree's \"passed\" to its receipt)")
      ->check(CLI::Range(0, 10000));
  std::string certs;
  bool plaintext = false;
  app.add_option("--certs", certs, "directory of the TLS files (default: the config's \"certs\"; "
                                   "with --cluster: data/certs)");
  app.add_flag("--plaintext", plaintext, "no TLS (a parliament whose config says \"tls\": false)");
  if (auto exit = parse_command_line(app, argc, argv)) return *exit;
  if (config_path.empty() && cluster.empty()) {
    std::fprintf(stderr, "paxos-bench: give --config FILE or --cluster host:port,...\n");
    return 2;
  }
  client::Options options;
  options.config_file = config_path;
  if (!cluster.empty()) options.addresses = {cluster};  // (parse_cluster splits the list)
  options.certs_dir = certs;
  options.plaintext = plaintext;
  auto config = client::parliament_config(options);  // and this process's TLS credentials
  std::unique_ptr<client::Parliament> parliament;
  auto opened = config ? client::Parliament::open(options, &parliament)
                       : client::Status(Code::Invalid, config.error());
  if (!opened.ok()) {
    std::fprintf(stderr, "paxos-bench: %s\n", opened.message().c_str());
    return 2;
  }
  load.conns = std::min(load.conns, load.clients);
  auto targets = targets_of(*parliament, *config, target);
  if (targets.empty()) {
    std::fprintf(stderr, "paxos-bench: no president found within 10 s\n");
    return 1;
  }
  load.reads = op == "read";
  return run_load(load, targets, config->priests, next_decree(*parliament), current_tls().get(),
                  cluster.empty());
}
