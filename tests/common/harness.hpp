// The integration tests' harness, shared by cluster_test.cpp and hostile_test.cpp: the real
// binaries started on 127.0.0.1 in a fresh temporary directory (Parliament), bounded waits
// (eventually), and raw connections for bytes and handshakes no well-behaved party would
// make (RawSocket, RawListener, TlsRaw).
//
// Everything here is in namespace harness (named, not anonymous: FailureCounter::failed must
// be one counter for the whole executable) and inline. The listener is registered once, by
// CATCH_REGISTER_LISTENER(FailureCounter) in cluster_test.cpp; no other file may register it
// again (each registration would count every failed assertion once more).
#pragma once

#define CATCH_CONFIG_EXTERNAL_INTERFACES  // for the listener that counts failed assertions
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

#include "client/lib/proposer.hpp"
#include "proto/config.hpp"
#include "server/certs.hpp"
#include "proto/framing.hpp"
#include "proto/membership.hpp"
#include "proto/record.hpp"

namespace fs = std::filesystem;
using namespace parliament;
using namespace std::chrono_literals;


namespace harness {

inline const std::string kBin = PARLIAMENT_BIN_DIR;

// Counts failed assertions, so that a test's files are kept (and named) when any of its
// checks failed, not only a REQUIRE.
struct FailureCounter : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  static inline std::atomic<uint64_t> failed{0};
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) ++failed;
    return true;
  }
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// file_limit > 0: the child may not write past that many bytes in any file (a full disk).
// open_files > 0: the child may hold at most that many file descriptors.
inline pid_t spawn(const std::vector<std::string>& args, const fs::path& log, rlim_t file_limit = 0,
                   rlim_t open_files = 0) {
  std::fflush(nullptr);  // else the child's freopen writes out the parent's buffered output again
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test killed midway leaves no priest behind
    if (file_limit) {
      signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead of killing
      rlimit r{file_limit, file_limit};
      setrlimit(RLIMIT_FSIZE, &r);
    }
    if (open_files) {
      rlimit r{open_files, open_files};
      setrlimit(RLIMIT_NOFILE, &r);
    }
    FILE* f = std::freopen(log.c_str(), "a", stdout);
    if (f) dup2(fileno(stdout), 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls `ok` every 20 ms until it holds or the deadline passes.
template <class F>
inline bool eventually(F ok, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return ok();
}

inline bool port_free(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// A program run by a test (paxos-god, paxos-client): started at once, its exit status and
// what it printed read later; killed if the test ends first.
struct Program {
  pid_t pid = -1;
  fs::path log;
  std::optional<int> code;  // once it has exited
  Program(const std::vector<std::string>& args, fs::path log_file) : log(std::move(log_file)) {
    pid = spawn(args, log);
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program() {
    if (pid > 0 && !code) {
      kill(pid, SIGKILL);
      wait_exit(pid);
    }
  }
  bool exited() {
    if (code) return true;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return code.has_value();
  }
  // Waits up to `limit` for it to exit; false if it is still running.
  bool finish(std::chrono::milliseconds limit) { return eventually([&] { return exited(); }, limit); }
  std::string output() const { return slurp(log); }
};

struct Parliament {
  fs::path dir;
  Config config;
  std::string config_path;
  std::map<PriestId, pid_t> pids;
  // Every priest the test may start: those of the configuration, then `spare` more (ids
  // after them, on the next ports) that the configuration does not name, to be added.
  std::map<PriestId, PriestAddress> addr;
  int god_runs = 0;

  // tls: mutual TLS as users run it (the test holds the god's certificate); false: the
  // config says "tls": false and every connection is plaintext.
  bool tls = true;
  // with_http: each priest of the configuration has an "http_port" (base + 50 + id).
  explicit Parliament(int priests = 5, int spare = 0, bool with_tls = true, bool with_http = false) : tls(with_tls) {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("parliament-it-" + std::to_string(rd()));
    fs::create_directories(dir);
    // Below Linux's ephemeral range (32768-60999), where outgoing connections take ports,
    // and every port checked free.
    uint16_t base = 0;
    while (!base) {
      base = 10000 + rd() % 22000;
      for (int i = 1; i <= priests + spare; ++i)
        if (!port_free(base + i) || (with_http && !port_free(base + 50 + i))) base = 0;
    }
    nlohmann::json cfg{{"tick_ms", 10}, {"heartbeat_ticks", 5}, {"election_timeout_ticks", 30}};
    if (tls) {
      std::vector<PriestId> ids;
      for (int i = 1; i <= priests + spare; ++i) ids.push_back(i);
      REQUIRE(certs::make_credentials((dir / "certs").string(), certs::parties(ids)));
      cfg["certs"] = "certs";
    } else {
      cfg["tls"] = false;
    }
    for (int i = 1; i <= priests; ++i) {
      cfg["priests"].push_back({{"id", i}, {"host", "127.0.0.1"}, {"port", base + i}});
      if (with_http) cfg["priests"].back()["http_port"] = base + 50 + i;
    }
    config_path = (dir / "parliament.json").string();
    std::ofstream(config_path) << cfg.dump(2);
    config = *parse_config(cfg.dump(), config_path);
    REQUIRE(use_tls(config, config_path, {tls::Role::God}));
    for (int i = 1; i <= priests + spare; ++i)
      addr[PriestId(i)] = PriestAddress{PriestId(i), "127.0.0.1", uint16_t(base + i), "127.0.0.1", 0};
  }
  ~Parliament() {
    for (auto& [id, pid] : pids) {
      kill(pid, SIGKILL);
      wait_exit(pid);
    }
    for (auto& t : log_copiers) t.join();
    // The files go once the test has passed; they stay (named by the test's INFO) when any
    // check failed or an exception is on its way, or when PARLIAMENT_KEEP_FILES is set.
    if (std::uncaught_exceptions() == 0 && FailureCounter::failed == failed_before &&
        !std::getenv("PARLIAMENT_KEEP_FILES")) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
  uint64_t failed_before = FailureCounter::failed;
  std::vector<std::thread> log_copiers;

  fs::path data(PriestId id) const { return dir / ("priest-" + std::to_string(id)); }
  fs::path log(PriestId id) const { return dir / ("priest-" + std::to_string(id) + ".log"); }
  std::string host_port(PriestId id) const { return "127.0.0.1:" + std::to_string(addr.at(id).port); }
  void start(PriestId id, rlim_t file_limit = 0, rlim_t open_files = 0) {
    fs::path out = log(id);
    if (file_limit) {
      // The file size limit would cut the priest's own log: it logs into a pipe instead,
      // and we copy that to its log file.
      out = dir / ("priest-" + std::to_string(id) + ".fifo");
      REQUIRE(mkfifo(out.c_str(), 0600) == 0);
      log_copiers.emplace_back([fifo = out, to = log(id)] {
        std::ifstream in(fifo, std::ios::binary);
        std::ofstream copy(to, std::ios::binary | std::ios::app);
        std::string line;
        while (std::getline(in, line)) copy << line << '\n' << std::flush;
      });
    }
    std::vector<std::string> args{kBin + "/paxos-priest", "--config", config_path, "--id",
                                  std::to_string(id), "--data-dir", data(id).string()};
    if (!config.find(id)) args.insert(args.end(), {"--address", host_port(id)});  // to be added
    pids[id] = spawn(args, out, file_limit, open_files);
  }
  void bootstrap() {
    pid_t god = spawn({kBin + "/paxos-god", "--config", config_path, "bootstrap", "--timeout", "20"},
                      dir / "god.log");
    REQUIRE(wait_exit(god) == 0);
  }
  // paxos-god --config FILE ARGS..., started now; each run logs to its own file.
  std::unique_ptr<Program> god(const std::vector<std::string>& args) {
    std::vector<std::string> all{kBin + "/paxos-god", "--config", config_path};
    all.insert(all.end(), args.begin(), args.end());
    return std::make_unique<Program>(all, dir / ("god-" + std::to_string(++god_runs) + ".log"));
  }
  // The same, waited for (at most `limit`, then killed): exit status (-1 if it did not
  // finish) and what it printed.
  std::pair<int, std::string> run_god(const std::vector<std::string>& args,
                                      std::chrono::milliseconds limit = 90s) {
    auto g = god(args);
    bool done = g->finish(limit);
    return {done ? *g->code : -1, g->output()};
  }
  void kill9(PriestId id) {
    kill(pids.at(id), SIGKILL);
    wait_exit(pids.at(id));
    pids.erase(id);
  }
  // Waits up to `within` for priest `id` to exit by itself: its exit status, or nullopt if it
  // is still running. A priest that exited is forgotten (start() may run it again).
  std::optional<int> exit_status(PriestId id, std::chrono::milliseconds within) {
    std::optional<int> code;
    eventually([&] {
      int status = 0;
      if (waitpid(pids.at(id), &status, WNOHANG) != pids.at(id)) return false;
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return true;
    }, within);
    if (code) pids.erase(id);
    return code;
  }
  std::optional<nlohmann::json> status(PriestId id) const {
    auto r = call_priest(addr.at(id), {{"type", "status"}}, 500ms);
    if (!r) return std::nullopt;
    return *r;
  }
  // The president among `among` (default: every priest the test knows).
  std::optional<PriestId> president(std::vector<PriestId> among = {}) const {
    if (among.empty())
      for (auto& [id, a] : addr) among.push_back(id);
    for (PriestId id : among)
      if (auto s = status(id); s && s->value("role", "") == "president") return id;
    return std::nullopt;
  }
  // The priest's incarnation as its status says it (it must answer within `within`).
  std::string incarnation(PriestId id, std::chrono::milliseconds within = 10s) const {
    std::string inc;
    eventually(
        [&] {
          auto s = status(id);
          if (s) inc = s->value("incarnation", "");
          return !inc.empty();
        },
        within);
    return inc;
  }
  std::string ledger(PriestId id) const { return slurp(data(id) / "ledger.csv"); }
};

// The membership a priest's status names: {"decree_no", "priests", ...}, or null.
inline nlohmann::json membership_of(const Parliament& parl, PriestId id) {
  auto s = parl.status(id);
  return s && s->contains("membership") ? (*s)["membership"] : nlohmann::json();
}

// A raw TCP connection, for bytes no well-behaved client would send.
struct RawSocket {
  int fd = -1;
  explicit RawSocket(uint16_t port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      fd = -1;
    }
  }
  ~RawSocket() {
    if (fd >= 0) close(fd);
  }
  bool send_bytes(const std::string& b) { return ::send(fd, b.data(), b.size(), MSG_NOSIGNAL) == ssize_t(b.size()); }
  // The next whole frame the peer sends within `within`, parsed; nullopt if none.
  std::optional<nlohmann::json> read_frame(std::chrono::milliseconds within) {
    timeval tv{0, 50 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    FrameDecoder d(1 << 20);
    std::optional<nlohmann::json> got;
    eventually(
        [&] {
          char buf[4096];
          ssize_t n = recv(fd, buf, sizeof buf, 0);
          if (n > 0) d.feed(std::string_view(buf, n));
          if (auto p = d.next()) got = parse_object(*p).value_or(nlohmann::json());
          return got.has_value() || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        },
        within);
    return got;
  }
  // True once the peer has closed the connection (read returns 0 or an error).
  bool closed_by_peer(std::chrono::milliseconds within) {
    timeval tv{0, 50 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return eventually(
        [&] {
          char buf[4096];
          ssize_t n;
          while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
          }  // (whatever it said before closing)
          return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        },
        within);
  }
};

// The lines of a log file that contain `what` and, if `also` is not empty, one of `also`.
inline size_t count_lines(const fs::path& log, const std::string& what, const std::vector<std::string>& also = {}) {
  std::ifstream in(log);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(what) == std::string::npos) continue;
    bool any = also.empty();
    for (auto& a : also) any |= line.find(a) != std::string::npos;
    n += any;
  }
  return n;
}

// A listening socket on 127.0.0.1 that the test serves itself.
struct RawListener {
  int fd = -1;
  explicit RawListener(uint16_t port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0) {
      close(fd);
      fd = -1;
    }
  }
  ~RawListener() {
    if (fd >= 0) close(fd);
  }
  // Accepts every connection for `window` and closes it at once; returns how many there were.
  size_t accept_and_close(std::chrono::milliseconds window) {
    size_t n = 0;
    auto until = std::chrono::steady_clock::now() + window;
    for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
      pollfd p{fd, POLLIN, 0};
      int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) + 1;
      if (poll(&p, 1, left) <= 0) continue;
      int c = accept(fd, nullptr, nullptr);
      if (c < 0) continue;
      close(c);
      ++n;
    }
    return n;
  }
};

// A connection of the test's own to a priest at 127.0.0.1:port, for handshakes and frames no
// well-behaved party would make: TLS 1.3 with `context` (any party's credentials, another
// parliament's, or none at all), or plaintext when `context` is null. Blocking: each call
// runs the connection's own io_context for at most its deadline. Nothing is ever cancelled:
// an operation that has not finished by its deadline stays under way, and a later call goes on
// waiting for it. Everything the priest sends is read and kept, frame by frame.
struct TlsRaw {
  asio::io_context io;  // (first: the socket and stream below are destroyed before it)
  std::shared_ptr<asio::ssl::context> context;
  asio::ip::tcp::socket plain{io};
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> tls;
  bool connected = false;   // the TCP connection is made
  bool handshaken = false;  // our side of the TLS handshake completed (plaintext: connected)
  bool closed = false;      // the connection is over: the priest closed it, or a read or write failed
  std::string why;          // what ended it (or the handshake's failure), for INFO
  std::deque<nlohmann::json> frames;  // received and not yet taken by read_frame (null: not an object)

  // `receive_buffer` > 0: the socket's receive buffer (SO_RCVBUF) in bytes, set before it
  // connects, so that the kernel holds little of what the priest sends and this side does not read.
  TlsRaw(uint16_t port, std::shared_ptr<asio::ssl::context> ctx, std::chrono::milliseconds within = 5s,
         int receive_buffer = 0)
      : context(std::move(ctx)) {
    if (context) tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(io, *context);
    asio::ip::tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
    if (receive_buffer > 0) {
      asio::error_code ignored;
      sock().open(asio::ip::tcp::v4(), ignored);
      sock().set_option(asio::socket_base::receive_buffer_size(receive_buffer), ignored);
    }
    bool done = false;
    sock().async_connect(ep, [this, &done](asio::error_code ec) {
      done = true;
      if (ec) end("connect: " + ec.message());
      else connected = true;
    });
    run_until([&] { return done; }, within);
    if (!connected) {
      if (!closed) end("connect: no answer within the deadline");
      return;
    }
    asio::error_code ignored;
    sock().set_option(asio::ip::tcp::no_delay(true), ignored);
    if (!tls) {
      handshaken = true;
      return;
    }
    tls->async_handshake(asio::ssl::stream_base::client, [this](asio::error_code ec) {
      if (ec) end("TLS handshake: " + ec.message());
      else handshaken = true;
    });
    run_until([&] { return handshaken || closed; }, within);
  }
  TlsRaw(const TlsRaw&) = delete;
  TlsRaw& operator=(const TlsRaw&) = delete;

  asio::ip::tcp::socket& sock() { return tls ? tls->next_layer() : plain; }

  // Writes `bytes`; true once all of them are written within `within`.
  bool send_bytes(std::string bytes, std::chrono::milliseconds within = 2s) {
    if (closed || !handshaken) return false;
    pending_ += bytes;
    write();
    run_until([&] { return closed || (!writing_ && pending_.empty()); }, within);
    return !closed && !writing_ && pending_.empty();
  }
  // One frame holding `payload` (proto/framing.hpp).
  bool send_frame(std::string_view payload, std::chrono::milliseconds within = 2s) {
    std::string framed;
    append_frame(framed, payload);
    return send_bytes(std::move(framed), within);
  }
  bool send_json(const nlohmann::json& j, std::chrono::milliseconds within = 2s) { return send_bytes(frame(j), within); }
  // The next frame the priest sends within `within`, parsed; nullopt if none came.
  std::optional<nlohmann::json> read_frame(std::chrono::milliseconds within) {
    read();
    run_until([&] { return !frames.empty() || closed; }, within);
    if (frames.empty()) return std::nullopt;
    auto j = std::move(frames.front());
    frames.pop_front();
    return j;
  }
  // True once the connection is over (the priest closed it, or reset it) within `within`.
  // Frames it sent before are kept in `frames`.
  bool closed_by_peer(std::chrono::milliseconds within) {
    read();
    run_until([&] { return closed; }, within);
    return closed;
  }

 private:
  FrameDecoder decoder_{64 << 20};
  std::vector<char> buf_ = std::vector<char>(64 * 1024);
  bool reading_ = false, writing_ = false;
  std::string pending_, writing_buf_;

  void end(const std::string& reason) {
    if (closed) return;
    closed = true;
    why = reason;
  }
  template <class Done>
  void run_until(Done done, std::chrono::milliseconds within) {
    auto until = std::chrono::steady_clock::now() + within;
    while (!done()) {
      auto now = std::chrono::steady_clock::now();
      if (now >= until) break;
      io.restart();
      io.run_one_for(until - now);
    }
  }
  void read() {
    if (reading_ || closed || !handshaken) return;
    reading_ = true;
    auto on_read = [this](asio::error_code ec, size_t n) {
      reading_ = false;
      if (ec) return end("read: " + ec.message());
      decoder_.feed(std::string_view(buf_.data(), n));
      while (auto p = decoder_.next()) frames.push_back(parse_object(*p).value_or(nlohmann::json()));
      read();
    };
    if (tls) tls->async_read_some(asio::buffer(buf_), on_read);
    else plain.async_read_some(asio::buffer(buf_), on_read);
  }
  void write() {
    if (writing_ || closed || pending_.empty()) return;
    writing_ = true;
    writing_buf_ = std::move(pending_);
    pending_.clear();
    auto on_write = [this](asio::error_code ec, size_t) {
      writing_ = false;
      if (ec) return end("write: " + ec.message());
      write();
    };
    if (tls) asio::async_write(*tls, asio::buffer(writing_buf_), on_write);
    else asio::async_write(plain, asio::buffer(writing_buf_), on_write);
  }
};

// The credentials of a party (net/tls.hpp) from a certificate directory, as a priest,
// the god or a client loads them.
inline std::shared_ptr<asio::ssl::context> party_context(const fs::path& certs, const tls::Identity& who) {
  auto ctx = tls::make_context(tls::files_for(certs.string(), who), who);
  INFO((ctx ? std::string() : ctx.error()));
  REQUIRE(ctx.ok());
  return *ctx;
}

// A TLS 1.3 context with no certificate at all, that checks nothing of the priest's.
inline std::shared_ptr<asio::ssl::context> bare_tls_context() {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  ctx->set_verify_mode(asio::ssl::verify_none);
  return ctx;
}

}  // namespace harness

using namespace harness;
