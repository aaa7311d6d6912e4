// paxos-bench: a closed-loop load generator. N clients share M connections; each client
// proposes a decree of --val bytes, waits for "passed", and proposes the next. Latency of
// every request after the warm-up is recorded. Prints a progress line while it runs (one
// line rewritten in place on a terminal, plain lines otherwise) and at the end exactly:
//
// RESULT label=L clients=64 conns=8 val=100 n=N errors=E ops_s=X avg_ms=A p50_ms=P
//        p90_ms=Q p99_ms=R p999_ms=S max_ms=M          (one line)
//
// --target president sends to the president (found with status); --target all spreads the
// connections over every priest (followers forward to the president).
#include <unistd.h>

#include <algorithm>
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
};

class Bench;

// One connection carrying the requests of several clients.
class Link {
 public:
  // expect: the priest id that must answer at ep (0: any priest of the parliament).
  Link(asio::io_context& io, Bench& bench, tcp::endpoint ep, asio::ssl::context* tls,
       PriestId expect)
      : sock_(io), bench_(bench), ep_(ep), tls_context_(tls), expect_(expect) {}
  void start(std::vector<uint64_t> clients);
  void propose(uint64_t client);

 private:
  void read();
  void write();
  void begin();
  tcp::socket sock_;
  Bench& bench_;
  tcp::endpoint ep_;
  asio::ssl::context* tls_context_;  // null: plaintext
  PriestId expect_ = 0;
  std::unique_ptr<tls::Session> tls_;  // as the priests do it: one write and one read per batch
  FrameDecoder decoder_{64 << 20};
  std::array<char, 65536> buf_{};
  std::string out_, writing_;
  std::vector<uint64_t> clients_;
};

class Bench {
 public:
  Bench(asio::io_context& io, std::string decree, Clock::time_point measure_from,
        Clock::time_point end)
      : io_(io), decree_(std::move(decree)), measure_from_(measure_from), end_(end) {}

  struct Client {
    uint64_t request = 0;
    Clock::time_point sent;
    Link* link = nullptr;
  };

  json next_request(uint64_t client) {
    auto& c = clients_[client];
    c.sent = Clock::now();
    return json{
        {"type", "propose"}, {"client", client}, {"request", ++c.request}, {"decree", decree_}};
  }

  void on_reply(const json& j) {
    auto it = clients_.find(j.value("client", uint64_t(0)));
    if (it == clients_.end()) return;
    auto now = Clock::now();
    ++stats.done_total;
    if (Code code = reply_code(j); code != Code::Ok) {
      ++stats.errors;
      ++stats.errors_by_code[code_name(code)];
      stats.last_error = j.value("error", std::string("?"));
    } else if (it->second.sent >= measure_from_) {
      stats.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(now - it->second.sent).count());
    }
    if (now < end_) it->second.link->propose(it->first);
  }

  void on_link_error(const std::string& why) {
    stats.last_error = why;
    ++stats.errors;
    ++stats.errors_by_code[code_name(Code::Unreachable)];
  }

  std::unordered_map<uint64_t, Client> clients_;
  Stats stats;

 private:
  asio::io_context& io_;
  std::string decree_;
  Clock::time_point measure_from_, end_;
};

void Link::start(std::vector<uint64_t> clients) {
  clients_ = std::move(clients);
  sock_.async_connect(ep_, [this](asio::error_code ec) {
    if (ec) return bench_.on_link_error("connect: " + ec.message());
    sock_.set_option(tcp::no_delay(true));
    if (tls_context_) {
      tls_ = std::make_unique<tls::Session>(*tls_context_, tls::Session::Side::Client);
      write();  // the hello; the clients begin once the handshake is done
    } else {
      begin();
    }
    read();
  });
}

void Link::begin() {
  for (auto c : clients_) {
    bench_.clients_[c].link = this;
    propose(c);
  }
}

void Link::propose(uint64_t client) {
  append_frame(out_, bench_.next_request(client).dump());
  write();
}

void Link::write() {
  if (!writing_.empty()) return;  // the write under way calls again when done
  if (!tls_) {
    writing_.swap(out_);
  } else {
    if (tls_->established() && !out_.empty()) {
      if (tls_->seal(out_) != tls::Session::Status::Ok) return bench_.on_link_error(tls_->error());
      out_.clear();
    }
    tls_->take_output(writing_);
  }
  if (writing_.empty()) return;
  asio::async_write(sock_, asio::buffer(writing_), [this](asio::error_code ec, size_t) {
    writing_.clear();
    if (ec) return bench_.on_link_error("write: " + ec.message());
    write();
  });
}

void Link::read() {
  sock_.async_read_some(asio::buffer(buf_), [this](asio::error_code ec, size_t n) {
    if (ec) return bench_.on_link_error("read: " + ec.message());
    std::string_view got(buf_.data(), n);
    std::string plain;
    if (tls_) {
      bool was_established = tls_->established();
      if (tls_->receive(got, plain) == tls::Session::Status::Failed)
        return bench_.on_link_error(tls_->error());
      write();
      if (!was_established && tls_->established()) {
        // Clients check whom they reached (rpc.hpp, check_priest_ids).
        auto who = tls::peer_identity(tls_->native());
        if (!who || who->role != tls::Role::Priest || (expect_ && who->id != expect_))
          return bench_.on_link_error("the process at " + ep_.address().to_string() + ":" +
                                      std::to_string(ep_.port()) + " is " +
                                      (who ? tls::describe(*who) : who.error()) + ", not priest " +
                                      std::to_string(expect_));
        begin();
      }
      got = plain;
    }
    if (!decoder_.feed(got)) return bench_.on_link_error(decoder_.error());
    while (auto p = decoder_.next())
      if (auto j = parse_object(*p)) bench_.on_reply(*j);
    read();
  });
}

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

struct Load {
  std::string label;
  int clients = 64, conns = 8;
  size_t val = 100;
  double duration = 10, warmup = 2;
};

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

// The RESULT line; 1 if nothing was measured.
int report(const Load& load, Bench& bench) {
  auto& lat = bench.stats.latencies_ms;
  std::sort(lat.begin(), lat.end());
  double sum = 0;
  for (double l : lat) sum += l;
  double avg = lat.empty() ? 0 : sum / lat.size();
  if (!bench.stats.last_error.empty()) {
    std::string codes;
    for (auto& [code, n] : bench.stats.errors_by_code)
      codes += " " + std::string(code) + "=" + std::to_string(n);
    std::fprintf(stderr, "errors by code:%s; last error: %s\n", codes.c_str(),
                 bench.stats.last_error.c_str());
  }
  std::printf(
      "RESULT label=%s clients=%d conns=%d val=%zu n=%zu errors=%llu ops_s=%.0f avg_ms=%.3f "
      "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
      load.label.c_str(), load.clients, load.conns, load.val, lat.size(),
      (unsigned long long)bench.stats.errors, lat.size() / load.duration, avg, percentile(lat, 0.5),
      percentile(lat, 0.9), percentile(lat, 0.99), percentile(lat, 0.999),
      lat.empty() ? 0 : lat.back());
  return lat.empty() ? 1 : 0;
}

// Runs the closed loop: `load.clients` clients over `load.conns` connections to `targets`.
int run_load(const Load& load, const std::vector<PriestAddress>& targets, asio::ssl::context* tls,
             bool named) {
  asio::io_context io(1);
  tcp::resolver resolver(io);
  auto start = Clock::now();
  auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  auto measure_from = start + seconds(load.warmup);
  auto end = measure_from + seconds(load.duration);
  std::string decree(load.val, 'x');
  Bench bench(io, decree, measure_from, end);
  std::vector<std::unique_ptr<Link>> links;
  uint64_t base = random_client_id() & ~uint64_t(0xFFFFF);
  for (int c = 0; c < load.conns; ++c) {
    const auto& p = targets[c % targets.size()];
    auto ep = *resolver.resolve(p.host, std::to_string(p.port)).begin();
    links.push_back(std::make_unique<Link>(io, bench, ep.endpoint(), tls, named ? p.id : 0));
  }
  std::vector<std::vector<uint64_t>> per_link(load.conns);
  for (int i = 0; i < load.clients; ++i) per_link[i % load.conns].push_back(base + i + 1);
  for (int c = 0; c < load.conns; ++c) links[c]->start(per_link[c]);
  watch_progress(io, load, bench, start, measure_from, end);
  io.run();
  if (isatty(fileno(stderr))) std::fprintf(stderr, "\n");
  return report(load, bench);
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
  return run_load(load, targets, current_tls().get(), cluster.empty());
}
