// What a priest shows people: its ballot events (server/chronicle.hpp) and its metrics in
// Prometheus' text format (server/metrics.hpp), read back by the tests' strict reader of
// that format (tests/common/prom_text.hpp), which is itself checked against bad text here.
#include <chrono>
#include <ctime>
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "server/chronicle.hpp"
#include "server/metrics.hpp"
#include "page/page.hpp"
#include "tests/common/prom_text.hpp"
#include "tests/common/temp_dir.hpp"

using namespace parliament;
using nlohmann::json;

namespace {
std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST_CASE("chronicle: events are numbered, served from a ring and appended to events.jsonl", "[observe]") {
  TempDir dir;
  Chronicle c(dir.path.string(), 4);
  c.add("started");
  c.add(Event{Event::Kind::Begin, Ballot{7, 4}, 10, 12});
  c.add(Event{Event::Kind::VoteNo, Ballot{6, 2}, 0, 0, 2, "promised a higher ballot 7.4"});
  auto all = json::parse(c.since(0, 100));
  CHECK(all["priest"] == 4);
  CHECK(all["next"] == 4);
  REQUIRE(all["events"].size() == 3);
  CHECK(all["events"][0]["kind"] == "started");
  CHECK(all["events"][1]["kind"] == "begin");
  CHECK(all["events"][1]["ballot"] == "7.4");
  CHECK(all["events"][1]["from"] == 10);
  CHECK(all["events"][1]["to"] == 12);
  CHECK(all["events"][2]["peer"] == 2);
  CHECK(all["events"][2]["why"] == "promised a higher ballot 7.4");
  auto later = json::parse(c.since(3, 100));
  REQUIRE(later["events"].size() == 1);
  CHECK(later["events"][0]["seq"] == 3);
  CHECK(json::parse(c.since(99, 100))["events"].empty());  // ahead of it (another run's number)
  CHECK(json::parse(c.since(0, 2))["events"][0]["seq"] == 2);  // the newest `max`

  CHECK(lines_of(dir.path.string() + "/events.jsonl").empty());  // written once per tick, not at once
  c.write_out();
  auto lines = lines_of(dir.path.string() + "/events.jsonl");
  REQUIRE(lines.size() == 3);
  CHECK(json::parse(lines[1]) == all["events"][1]);
}

TEST_CASE("chronicle: the ring keeps the newest, the file rotates at its bound", "[observe]") {
  TempDir dir;
  {
    Chronicle c(dir.path.string(), 1);
    std::string why(200, 'x');
    size_t n = Chronicle::kFileBytes / 200 + 1000;  // more than one file's worth
    for (size_t i = 0; i < n; ++i) {
      c.add(Event{Event::Kind::StepDown, Ballot{i + 1, 1}, 0, 0, 0, why});
      if (i % 1000 == 0) c.write_out();
    }
    auto all = json::parse(c.since(0, 100000));
    REQUIRE(all["events"].size() == Chronicle::kRingEvents);
    CHECK(all["events"].back()["seq"] == n);
    CHECK(all["events"].front()["seq"] == n - Chronicle::kRingEvents + 1);
  }
  namespace fs = std::filesystem;
  auto now = fs::file_size(dir.path.string() + "/events.jsonl"), old = fs::file_size(dir.path.string() + "/events.jsonl.1");
  CHECK(old <= Chronicle::kFileBytes);
  CHECK(old > Chronicle::kFileBytes / 2);
  CHECK(now <= Chronicle::kFileBytes);
  // Every line of both files is a whole event.
  for (auto* f : {"/events.jsonl.1", "/events.jsonl"})
    for (auto& l : lines_of(dir.path.string() + f)) REQUIRE(json::parse(l)["kind"] == "step_down");
}

TEST_CASE("metrics: the text is Prometheus' format and says what was counted", "[observe]") {
  Counters c;
  c.count(Event{Event::Kind::Passed, {}, 1, 40});
  c.count(Event{Event::Kind::Passed, {}, 41, 42});
  c.count(Event{Event::Kind::President, Ballot{3, 1}});
  c.count(Event{Event::Kind::VoteNo, Ballot{3, 1}});
  c.proposals_passed = 5;
  c.bytes_in = 1234;
  Gauges g;
  g.bootstrapped = true;
  g.status.role = Role::President;
  g.status.president = 1;
  g.status.reachable = {1, 2, 3};
  g.connections = {{"client", 2}, {"peer_in", 4}};
  Histogram h;
  h.observe(0.0003);
  h.observe(0.002);
  h.observe(9.0);
  Histogram proposals;
  proposals.observe(0.0008);
  while (std::clock() < CLOCKS_PER_SEC / 20) {  // at least 50 ms of CPU, so /proc counts some
  }
  auto text = render_metrics(1, c, g, h, proposals);
  auto s = prom::parse(text);
  INFO(text);
  REQUIRE(s);
  CHECK(s->at("paxos_decrees_passed_total") == 42);
  CHECK(s->at("paxos_elections_won_total") == 1);
  CHECK(s->at("paxos_votes_total{vote=\"no\"}") == 1);
  CHECK(s->at("paxos_votes_total{vote=\"yes\"}") == 0);
  CHECK(s->at("paxos_client_proposals_total{outcome=\"passed\"}") == 5);
  CHECK(s->at("paxos_received_bytes_total") == 1234);
  CHECK(s->at("paxos_role{role=\"president\"}") == 1);
  CHECK(s->at("paxos_role{role=\"follower\"}") == 0);
  CHECK(s->at("paxos_reachable_priests") == 3);
  CHECK(s->at("paxos_connections{kind=\"peer_in\"}") == 4);
  CHECK(s->types.at("paxos_votes_fdatasync_seconds") == "histogram");
  CHECK(s->at("paxos_votes_fdatasync_seconds_bucket{le=\"0.0005\"}") == 1);
  CHECK(s->at("paxos_votes_fdatasync_seconds_bucket{le=\"0.0025\"}") == 2);
  CHECK(s->at("paxos_votes_fdatasync_seconds_bucket{le=\"+Inf\"}") == 3);
  CHECK(s->at("paxos_votes_fdatasync_seconds_count") == 3);
  CHECK(s->at("paxos_votes_fdatasync_seconds_sum") == Approx(9.0023));
  CHECK(s->at("paxos_proposal_seconds_bucket{le=\"0.0005\"}") == 0);
  CHECK(s->at("paxos_proposal_seconds_bucket{le=\"0.001\"}") == 1);
  CHECK(s->at("paxos_build_info{version=\"" PARLIAMENT_VERSION "\"}") == 1);
  // This process, as /proc describes it: it has run, holds memory and descriptors, and began
  // before now and after 2020.
  CHECK(s->at("process_cpu_seconds_total") > 0);
  CHECK(s->at("process_resident_memory_bytes") > 1e6);
  CHECK(s->at("process_virtual_memory_bytes") >= s->at("process_resident_memory_bytes"));
  CHECK(s->at("process_open_fds") >= 3);
  CHECK(s->at("process_max_fds") >= s->at("process_open_fds"));
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(s->at("process_start_time_seconds") <= now + 1);
  CHECK(s->at("process_start_time_seconds") > 1.58e9);
}

TEST_CASE("the test's reader of Prometheus' format refuses what Prometheus would", "[observe]") {
  std::string head = "# HELP a_total Things.\n# TYPE a_total counter\n";
  CHECK(prom::parse(head + "a_total 3\n"));
  CHECK_FALSE(prom::parse("a_total 3\n"));                              // no TYPE
  CHECK_FALSE(prom::parse(head + "a_total three\n"));                   // not a number
  CHECK_FALSE(prom::parse(head + "a_total{x=1} 3\n"));                  // unquoted label
  CHECK_FALSE(prom::parse(head + "a_total 3\na_total 4\n"));            // twice
  CHECK_FALSE(prom::parse("# HELP a Things.\n# TYPE a counter\na 1\n"));  // a counter without _total
  std::string hist = "# HELP h Hist.\n# TYPE h histogram\n";
  CHECK(prom::parse(hist + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"));
  CHECK_FALSE(prom::parse(hist + "h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"));
  CHECK_FALSE(prom::parse(hist + "h_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n"));  // no +Inf
}

TEST_CASE("a recorded run is built into the page without a '<' that could end its script", "[observe]") {
  json events = json::array({json{{"t", 1}, {"priest", 1}, {"kind", "step_down"}, {"why", "</script><!--<script>x"}}});
  std::string page = recorded_page(events.dump());
  auto open = page.find("<script id=\"recorded\" type=\"application/json\">");
  REQUIRE(open != std::string::npos);
  auto start = page.find('>', open) + 1;
  auto end = page.find("</script>", start);
  REQUIRE(end != std::string::npos);
  std::string payload = page.substr(start, end - start);
  CHECK(payload.find('<') == std::string::npos);
  auto back = json::parse(payload);  // JSON's \u003c is "<" again for the page's JSON.parse
  CHECK(back == events);
  CHECK(recorded_page("[]").find("type=\"application/json\">[]</script>") != std::string::npos);
}
