// Watching the parliament from outside: each priest's HTTP port (server/http.hpp) serves
// Prometheus metrics that move as decrees pass, elections happen and connections open; its
// ballot events; its status; and only to parties of the parliament (mutual TLS).
#include "tests/common/harness.hpp"

#include <csignal>
#include <cstdio>

#include <httplib.h>

#include "net/tls.hpp"
#include "tests/common/prom_text.hpp"

using namespace harness;

namespace {

// A connection the priest closes mid-write (the refused handshakes below) must not end the tests.
const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// GETs `path` from priest `id`'s HTTP port as the god (any party of the parliament may).
struct Scraper {
  const Parliament& parl;
  std::optional<std::string> get(PriestId id, const std::string& path) const {
    auto files = tls::files_for((parl.dir / "certs").string(), {tls::Role::God});
    httplib::Client c("https://127.0.0.1:" + std::to_string(parl.config.http.at(id).port), files.cert, files.key);
    c.set_ca_cert_path(files.ca.c_str());
    c.enable_server_certificate_verification(true);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(3, 0);
    auto r = c.Get(path);
    if (!r || r->status != 200) return std::nullopt;
    return r->body;
  }
  std::optional<prom::Samples> metrics(PriestId id) const {
    auto text = get(id, "/metrics");
    if (!text) return std::nullopt;
    auto s = prom::parse(*text);
    INFO(*text);
    REQUIRE(s);
    return *s;
  }
  double metric(PriestId id, const std::string& key) const {
    auto m = metrics(id);
    return m ? m->at(key) : std::nan("");
  }
};

// promtool (Debian's prometheus package) on the text, when it is installed: true if it
// found no fault, and its complaint otherwise.
std::optional<std::string> promtool_complaint(const std::string& text, const fs::path& dir) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) return std::nullopt;
  fs::path in = dir / "metrics.txt", out = dir / "promtool.txt";
  std::ofstream(in) << text;
  int rc = std::system(("promtool check metrics < " + in.string() + " > " + out.string() + " 2>&1").c_str());
  return rc == 0 ? std::string() : slurp(out);
}

}  // namespace

TEST_CASE("metrics: values move as decrees pass, elections happen and connections open", "[observe]") {
  Parliament parl(3, 0, true, true);
  INFO("files in " << parl.dir);
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
  PriestId president = *parl.president();
  Scraper scrape{parl};

  // The format, by promtool where Debian's prometheus package is installed, and always by the
  // tests' own reader (Scraper::metrics).
  auto text = scrape.get(president, "/metrics");
  REQUIRE(text);
  if (auto complaint = promtool_complaint(*text, parl.dir)) {
    INFO("promtool check metrics: " << *complaint);
    CHECK(complaint->empty());
  } else {
    WARN("promtool is not installed (Debian package prometheus): the format was checked by the tests' own reader only");
  }

  std::map<PriestId, double> passed_before, bytes_before;
  for (PriestId id : {1, 2, 3}) {
    passed_before[id] = scrape.metric(id, "paxos_decrees_passed_total");
    bytes_before[id] = scrape.metric(id, "paxos_received_bytes_total");
    REQUIRE_FALSE(std::isnan(passed_before[id]));
  }
  double begun_before = scrape.metric(president, "paxos_ballots_begun_total");
  auto answered = [&] {  // by the priests the client asked, whichever they were
    double n = 0;
    for (PriestId id : {1, 2, 3}) n += scrape.metric(id, "paxos_client_proposals_total{outcome=\"passed\"}");
    return n;
  };
  double answered_before = answered();
  CHECK(scrape.metric(president, "paxos_role{role=\"president\"}") == 1);

  // Decrees pass: every priest's count rises by exactly that many.
  Proposer proposer(parl.config.priests, random_client_id());
  for (int i = 0; i < 20; ++i) REQUIRE(proposer.propose("metric " + std::to_string(i), 10s).passed);
  for (PriestId id : {1, 2, 3}) {
    INFO("priest " << id);
    CHECK(eventually([&] { return scrape.metric(id, "paxos_decrees_passed_total") == passed_before[id] + 20; }, 5s));
    CHECK(scrape.metric(id, "paxos_received_bytes_total") > bytes_before[id]);
    CHECK(scrape.metric(id, "paxos_votes_fdatasync_seconds_count") > 0);
  }
  CHECK(scrape.metric(president, "paxos_ballots_begun_total") > begun_before);
  CHECK(answered() == answered_before + 20);
  CHECK(scrape.metric(president, "paxos_connections{kind=\"peer_in\"}") == 2);
  CHECK(scrape.metric(president, "paxos_connections{kind=\"peer_out\"}") == 2);

  // A connection opens (and says nothing yet): counted while it is open.
  double pending = scrape.metric(president, "paxos_connections{kind=\"unknown\"}");
  {
    RawSocket idle(parl.addr.at(president).port);
    REQUIRE(idle.fd >= 0);
    CHECK(eventually([&] { return scrape.metric(president, "paxos_connections{kind=\"unknown\"}") == pending + 1; }, 5s));
  }
  CHECK(eventually([&] { return scrape.metric(president, "paxos_connections{kind=\"unknown\"}") == pending; }, 5s));

  // An election: the president is killed; another stands and wins, and the survivors lose it.
  std::map<PriestId, double> won, lost;
  for (PriestId id : {1, 2, 3}) {
    won[id] = scrape.metric(id, "paxos_elections_won_total");
    lost[id] = scrape.metric(id, "paxos_peer_changes_total{change=\"lost\"}");
  }
  parl.kill9(president);
  std::vector<PriestId> rest;
  for (PriestId id : {1, 2, 3})
    if (id != president) rest.push_back(id);
  REQUIRE(eventually([&] { return parl.president(rest).has_value(); }, 15s));
  PriestId next = *parl.president(rest);
  CHECK(eventually([&] { return scrape.metric(next, "paxos_elections_won_total") == won[next] + 1; }, 5s));
  CHECK(scrape.metric(next, "paxos_elections_stood_total") >= 1);
  CHECK(scrape.metric(next, "paxos_role{role=\"president\"}") == 1);
  for (PriestId id : rest) {
    INFO("priest " << id);
    CHECK(eventually([&] { return scrape.metric(id, "paxos_peer_changes_total{change=\"lost\"}") > lost[id]; }, 5s));
    CHECK(scrape.metric(id, "paxos_president") == next);
  }

  // The same story in the new president's events, and its status as paxos-client shows it.
  auto events = scrape.get(next, "/events?since=0");
  REQUIRE(events);
  auto ev = nlohmann::json::parse(*events);
  bool stood = false, became = false;
  for (auto& e : ev["events"]) {
    stood |= e["kind"] == "stood";
    became |= e["kind"] == "president";
  }
  CHECK(stood);
  CHECK(became);
  auto status = scrape.get(next, "/status");
  REQUIRE(status);
  auto st = nlohmann::json::parse(*status);
  CHECK(st["role"] == "president");
  CHECK(st["id"] == next);
  CHECK(st["passed_len"].get<uint64_t>() >= 20);
  auto ledger = scrape.get(next, "/ledger?from=1&max=5");
  REQUIRE(ledger);
  CHECK(nlohmann::json::parse(*ledger)["decrees"].size() == 5);
}

TEST_CASE("the HTTP port serves parties of the parliament only", "[observe]") {
  Parliament parl(1, 0, true, true);
  INFO("files in " << parl.dir);
  parl.start(1);
  uint16_t port = parl.config.http.at(1).port;
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  auto files = tls::files_for((parl.dir / "certs").string(), {tls::Role::Client});
  Scraper scrape{parl};
  REQUIRE(eventually([&] { return scrape.get(1, "/status").has_value(); }, 10s));

  // No certificate: the handshake is refused.
  httplib::Client anonymous(url);
  anonymous.set_ca_cert_path(files.ca.c_str());
  anonymous.enable_server_certificate_verification(true);
  CHECK_FALSE(anonymous.Get("/metrics"));
  // A certificate of another parliament's CA: refused.
  fs::path other = parl.dir / "other-certs";
  REQUIRE(certs::make_credentials(other.string(), certs::parties({1})));
  auto stranger = tls::files_for(other.string(), {tls::Role::Client});
  httplib::Client forged(url, stranger.cert, stranger.key);
  forged.set_ca_cert_path(files.ca.c_str());
  forged.enable_server_certificate_verification(true);
  CHECK_FALSE(forged.Get("/metrics"));
  // Plain HTTP to the TLS port: no answer.
  httplib::Client plain("http://127.0.0.1:" + std::to_string(port));
  plain.set_read_timeout(2, 0);
  auto r = plain.Get("/metrics");
  CHECK((!r || r->status != 200));
  // Nothing writes here.
  httplib::Client client(url, files.cert, files.key);
  client.set_ca_cert_path(files.ca.c_str());
  client.enable_server_certificate_verification(true);
  auto post = client.Post("/status", "{}", "application/json");
  REQUIRE(post);
  CHECK(post->status != 200);
  // The client's certificate is enough to read.
  auto ok = client.Get("/metrics");
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("/parliament follows the membership in force; an added priest serves HTTP with "
          "--http-port", "[observe]") {
  Parliament parl(3, 1, true, true);
  INFO("files in " << parl.dir);
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
  Scraper scrape{parl};
  // Priest 4, not in the configuration, with an HTTP port of its own.
  uint16_t http4 = parl.addr.at(4).port + 50;
  Program four({kBin + "/paxos-priest", "--config", parl.config_path, "--id", "4", "--address",
                parl.host_port(4), "--data-dir", parl.data(4).string(), "--http-port",
                std::to_string(http4)},
               parl.log(4));
  REQUIRE(parl.incarnation(4).size() == 16);
  auto [code, out] = parl.run_god({"add", "4", parl.host_port(4)});
  INFO(out);
  REQUIRE(code == 0);
  std::tie(code, out) = parl.run_god({"remove", "3"});
  REQUIRE(code == 0);

  auto listed = [&](const nlohmann::json& j) {
    std::map<PriestId, nlohmann::json> by_id;
    for (auto& p : j["priests"]) by_id[p["id"].get<PriestId>()] = p;
    return by_id;
  };
  nlohmann::json seen;
  REQUIRE(eventually([&] {
    auto body = scrape.get(1, "/parliament");
    if (!body) return false;
    seen = nlohmann::json::parse(*body, nullptr, false);
    return seen.is_object() && seen.value("decree_no", uint64_t(0)) > 0 &&
           listed(seen).count(4) && !listed(seen).at(3).value("member", true);
  }, 15s));
  INFO("priest 1's /parliament: " << seen.dump());
  auto by_id = listed(seen);
  CHECK(by_id.at(1).value("member", false));
  CHECK(by_id.at(1).contains("url"));
  CHECK(by_id.at(4).value("member", false));
  CHECK_FALSE(by_id.at(4).contains("url"));  // priest 1's configuration does not name it
  CHECK_FALSE(by_id.at(3).value("member", true));  // removed by decree: not drawn

  // Priest 4 serves its own page and metrics on the port it was given.
  auto files = tls::files_for((parl.dir / "certs").string(), {tls::Role::God});
  httplib::Client c("https://127.0.0.1:" + std::to_string(http4), files.cert, files.key);
  c.set_ca_cert_path(files.ca.c_str());
  c.enable_server_certificate_verification(true);
  auto r = c.Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.find("paxos_build_info") != std::string::npos);
  auto own = c.Get("/parliament");
  REQUIRE(own);
  CHECK(listed(nlohmann::json::parse(own->body)).at(4).contains("url"));
}
