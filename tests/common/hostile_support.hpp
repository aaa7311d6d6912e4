// Shared by the hostile integration tests (hostile_test.cpp, trust_test.cpp): the honest
// parliament's side of an attack (convene, Honest, unharmed: every priest still passes a
// decree and every ledger holds exactly what the honest client was told) and the attacker's
// tools (a link as a given priest, forged messages, floods, a resident-set watch).
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <limits>

#include "tests/common/harness.hpp"
#include "proto/ballot.hpp"
#include "proto/message.hpp"

namespace hostile {

using namespace harness;

inline constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
// A round no honest priest reaches (Priest::refusal refuses rounds from 2^62).
inline constexpr uint64_t kHonestRounds = uint64_t{1} << 62;
// What a flood may cost a priest's resident set above its idle size.
inline constexpr size_t kRssBoundKib = 64 * 1024;
// server/host.hpp: kFirstFrameDeadline, kClientFrameDeadline.
inline constexpr auto kFirstFrameDeadline = 10s;
inline constexpr auto kClientFrameDeadline = 10s;

using tls::Identity;

// Starts every priest of the configuration, bootstraps them and waits for a president.
inline void convene(Parliament& parl) {
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
}

// The test's honest client: what it was told passed, and where.
struct Honest {
  std::map<uint64_t, std::string> passed;  // decree number -> text
  std::vector<std::string> doubles;        // two texts told the same number
  // Proposes `text` with `proposer`; true if it passed (the outcome is remembered).
  bool pass(Proposer& proposer, const std::string& text, std::chrono::milliseconds deadline = 10s) {
    auto out = proposer.propose(text, deadline);
    UNSCOPED_INFO("proposed \"" << text << "\": " << (out.passed ? "passed at " + std::to_string(out.decree_no) : out.error));
    if (!out.passed) return false;
    if (!passed.emplace(out.decree_no, text).second)
      doubles.push_back(text + " at " + std::to_string(out.decree_no));
    return true;
  }
};

// Priest `id`'s whole ledger, page by page, as one ledger reply ("length" and every decree);
// nullopt if a page was refused (overloaded, say) or did not come.
inline std::optional<nlohmann::json> ledger_of(const Parliament& parl, PriestId id) {
  nlohmann::json all{{"type", "ledger"}, {"length", 0}, {"decrees", nlohmann::json::array()}};
  for (uint64_t from = 1;;) {
    auto r = call_priest(parl.addr.at(id), {{"type", "ledger"}, {"from", from}, {"max", 10000}}, 1000ms);
    if (!r || r->value("type", "") != "ledger") return std::nullopt;
    all["length"] = (*r)["length"];
    for (auto& d : (*r)["decrees"]) all["decrees"].push_back(std::move(d));
    if ((*r)["decrees"].empty() || all["decrees"].size() >= all["length"].get<size_t>()) return all;
    from = all["decrees"].back()["decree_no"].get<uint64_t>() + 1;
  }
}

// The end of every attack: the parliament still passes a decree (through any of `ids`), and
// the priests `ids` hold the same ledger (paxos "ledger" request), whose client decrees are
// exactly those the honest client was told passed, at the numbers it was told; olive-day
// decrees aside, and no membership decree (nobody changed the membership).
// `memberships`: how many membership decrees the test's god passed (they are in the ledger too).
inline void unharmed(const Parliament& parl, Honest& honest, const std::vector<PriestId>& ids,
                     size_t memberships = 0) {
  std::vector<PriestAddress> through;
  for (PriestId id : ids) through.push_back(parl.addr.at(id));
  Proposer proposer(through, random_client_id());
  REQUIRE(honest.pass(proposer, "passed after the attack", 20s));
  uint64_t last = honest.passed.rbegin()->first;
  std::map<PriestId, nlohmann::json> ledgers;
  bool same = eventually(
      [&] {
        ledgers.clear();
        for (PriestId id : ids) {
          auto l = ledger_of(parl, id);
          if (!l) return false;
          ledgers[id] = *l;
        }
        const auto& ref = ledgers.at(ids.front());
        for (auto& [id, l] : ledgers)
          if (l["length"] != ref["length"] || l["decrees"] != ref["decrees"]) return false;
        return ref["length"].get<uint64_t>() >= last;
      },
      20s);
  for (auto& [id, l] : ledgers)
    UNSCOPED_INFO("priest " << id << " ledger length " << l["length"] << ", " << l["decrees"].size() << " decrees read");
  REQUIRE(same);
  const auto& ref = ledgers.at(ids.front());
  CHECK(ref["decrees"].size() == ref["length"].get<size_t>());
  std::map<uint64_t, std::string> in_ledger;
  size_t membership_decrees = 0;
  for (auto& d : ref["decrees"]) {
    std::string kind = d.value("kind", "");
    if (kind == "olive-day") continue;
    if (kind == "membership" && ++membership_decrees <= memberships) continue;
    INFO("decree " << d.dump());
    CHECK(kind == "decree");
    in_ledger[d["decree_no"].get<uint64_t>()] = d.value("decree", "");
  }
  CHECK(honest.doubles.empty());
  CHECK(in_ledger == honest.passed);
}

// A priest's status field `key` as a ballot ("r.p").
inline std::optional<Ballot> ballot_of(const Parliament& parl, PriestId id, const char* key) {
  auto s = parl.status(id);
  if (!s || !s->contains(key)) return std::nullopt;
  return parse_ballot((*s)[key].get<std::string>());
}

inline uint64_t passed_len(const Parliament& parl, PriestId id) {
  auto s = parl.status(id);
  REQUIRE(s);
  return s->value("passed_len", uint64_t(0));
}

// A connection to priest `to` with priest `from`'s certificate, past its hello (as the real
// priest `from` says it: its id and incarnation).
// `certs`: where its key and certificate are (default: the parliament's certs directory).
inline std::unique_ptr<TlsRaw> linked_as(const Parliament& parl, PriestId to, PriestId from, const std::string& incarnation,
                                         const fs::path& certs = {}) {
  auto c = std::make_unique<TlsRaw>(parl.addr.at(to).port,
                                    party_context(certs.empty() ? parl.dir / "certs" : certs, Identity{tls::Role::Priest, from}));
  INFO("as priest " << from << " to priest " << to << ": " << c->why);
  REQUIRE(c->handshaken);
  REQUIRE(c->send_json({{"type", "hello"}, {"from", from}, {"incarnation", incarnation}}));
  return c;
}

inline Message message(Kind kind, PriestId from, PriestId to) {
  Message m;
  m.kind = kind;
  m.from = from;
  m.to = to;
  return m;
}

inline Entry forged_entry(uint64_t decree_no, Ballot b, const std::string& text) {
  return Entry{decree_no, b, Decree{false, 4242, 1, text, b}};
}

// Waits until the priest's log holds a line containing `what`; then how many it holds.
inline size_t log_lines(const Parliament& parl, PriestId id, const std::string& what) {
  eventually([&] { return count_lines(parl.log(id), what) > 0; }, 3s);
  return count_lines(parl.log(id), what);
}

// A figure of /proc/PID/status in KiB ("VmRSS", "VmHWM"); 0 if it cannot be read.
inline size_t proc_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  return 0;
}

// The largest resident set of a process while it is watched: VmRSS sampled every 20 ms,
// and VmHWM at the end (which alone may lag: the kernel folds per-thread counts in later).
struct RssWatch {
  pid_t pid;
  std::atomic<size_t> max_kib{0};
  std::atomic<bool> stop{false};
  std::thread sampler;
  explicit RssWatch(pid_t p) : pid(p), sampler([this] {
    while (!stop) {
      max_kib = std::max<size_t>(max_kib, proc_kib(pid, "VmRSS"));
      std::this_thread::sleep_for(20ms);
    }
  }) {}
  RssWatch(const RssWatch&) = delete;
  ~RssWatch() { finish(); }
  // Stops sampling; the peak.
  size_t finish() {
    if (sampler.joinable()) {
      stop = true;
      sampler.join();
    }
    return std::max<size_t>({max_kib.load(), proc_kib(pid, "VmRSS"), proc_kib(pid, "VmHWM")});
  }
};

// The test process may open `need` files: the soft limit is raised to the hard one, which
// must allow that many (the priests it starts afterwards inherit the same limit).
inline void raise_fd_limit(rlim_t need) {
  rlimit r{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &r) == 0);
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
  }
  INFO("this test opens " << need << " files, but RLIMIT_NOFILE is " << r.rlim_cur << " (hard " << r.rlim_max
                          << "): raise it (ulimit -n) to run it");
  REQUIRE(r.rlim_cur >= need);
}

// Many raw TCP connections from the test to one priest.
struct Flood {
  std::vector<int> fds;
  size_t failed = 0;  // connections that could not be made
  Flood() = default;
  Flood(const Flood&) = delete;
  ~Flood() {
    for (int fd : fds) close(fd);
  }
  void connect_to(uint16_t port, size_t n, const std::string& first_bytes = "") {
    for (size_t i = 0; i < n; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) {
        ++failed;
        continue;
      }
      timeval tv{2, 0};
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // (bounds connect too)
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
          (!first_bytes.empty() && ::send(fd, first_bytes.data(), first_bytes.size(), MSG_NOSIGNAL) != ssize_t(first_bytes.size()))) {
        close(fd);
        ++failed;
        continue;
      }
      fds.push_back(fd);
    }
  }
  // How many the priest has closed: by a FIN (recv returns 0) and by a reset.
  struct Closed {
    size_t fin = 0, reset = 0;
    size_t all() const { return fin + reset; }
  };
  static bool over(int fd, Closed& c) {
    char buf[4096];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) continue;  // (an error frame before the close)
      if (n == 0) ++c.fin;
      else if (errno != EAGAIN && errno != EWOULDBLOCK) ++c.reset;
      else return false;
      return true;
    }
  }
  Closed closed() const {
    Closed c;
    for (int fd : fds) over(fd, c);
    return c;
  }
};

}  // namespace hostile
