// The live page in a real browser: headless Chromium (Debian's chromium package) against a
// running five-priest parliament through `paxos-client console`. The test reads the rendered
// DOM (--dump-dom) and checks that the five priests, the president and the last decree are
// shown, kills the president and checks that the page shows the new one and the old one
// unreachable; then draws the run with `paxos-client timeline` and checks that page too.
// Screenshots go to build/page-live.png and build/page-timeline.png for a person to look at.
//
// Without Chromium it prints why and exits 77, which CTest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include "tests/common/harness.hpp"

#include <regex>

#include <httplib.h>

using namespace harness;

CATCH_REGISTER_LISTENER(FailureCounter)

namespace {

const std::string kBuild = PARLIAMENT_BUILD_DIR;

std::string chromium() {
  for (const char* c : {"chromium", "chromium-browser", "google-chrome"})
    if (std::system(("command -v " + std::string(c) + " >/dev/null 2>&1").c_str()) == 0) return c;
  return "";
}

// The DOM Chromium rendered from `url` after `budget_ms` of the page's own (virtual) time.
std::string dump_dom(const std::string& url, const fs::path& dir, int budget_ms, const std::string& screenshot = "") {
  static int runs = 0;
  fs::path out = dir / ("dom-" + std::to_string(++runs) + ".html"), err = dir / ("chromium-" + std::to_string(runs) + ".log");
  std::string common = "timeout 90 " + chromium() +
                       " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                       " --user-data-dir=" + (dir / "chromium-profile").string() +
                       " --virtual-time-budget=" + std::to_string(budget_ms);
  std::system((common + " --dump-dom '" + url + "' > " + out.string() + " 2> " + err.string()).c_str());
  if (!screenshot.empty())
    std::system((common + " --window-size=1280,1500 --screenshot=" + screenshot + " '" + url + "' >> " + err.string() +
                 " 2>&1").c_str());
  return slurp(out);
}

struct Page {
  std::map<int, std::string> roles;  // priest id -> data-role
  std::string president;             // #president's text
  std::string last_no;               // #last-decree's data-no
  std::string revoked;               // #cut-off's data-revoked
  size_t events = 0;                 // timeline marks
  bool recorded = false;
};

Page read_page(const std::string& dom) {
  Page p;
  static const std::regex card(R"re(<div[^>]*class="priest[^"]*"[^>]*>)re");
  static const std::regex id(R"re(data-id="(\d+)")re"), role(R"re(data-role="([^"]*)")re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), card); it != std::sregex_iterator(); ++it) {
    std::string tag = it->str();
    std::smatch m, r;
    if (std::regex_search(tag, m, id) && std::regex_search(tag, r, role)) p.roles[std::stoi(m[1])] = r[1];
  }
  std::smatch m;
  if (std::regex_search(dom, m, std::regex(R"re(<span[^>]*id="president"[^>]*>([^<]*)</span>)re"))) p.president = m[1];
  if (std::regex_search(dom, m, std::regex(R"re(<span[^>]*id="last-decree"[^>]*>)re"))) {
    std::string tag = m.str();
    std::smatch n;
    if (std::regex_search(tag, n, std::regex(R"re(data-no="(\d*)")re"))) p.last_no = n[1];
  }
  if (std::regex_search(dom, m, std::regex(R"re(<div[^>]*id="cut-off"[^>]*>)re"))) {
    std::string tag = m.str();
    std::smatch n;
    if (std::regex_search(tag, n, std::regex(R"re(data-revoked="([^"]*)")re"))) p.revoked = n[1];
  }
  static const std::regex mark(R"re(class="event")re");
  p.events = std::distance(std::sregex_iterator(dom.begin(), dom.end(), mark), std::sregex_iterator());
  p.recorded = dom.find("Recorded run") != std::string::npos;
  return p;
}

uint16_t free_port() {
  std::random_device rd;
  for (;;) {
    uint16_t p = 10000 + rd() % 22000;
    if (port_free(p)) return p;
  }
}

}  // namespace

TEST_CASE("the live page shows the parliament, and a new president after the old one is killed", "[page]") {
  Parliament parl(5, 0, true, true);
  INFO("files in " << parl.dir);
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
  PriestId president = *parl.president();
  Proposer proposer(parl.config.priests, random_client_id());
  uint64_t last = 0;
  for (int i = 1; i <= 3; ++i) {
    auto out = proposer.propose("page decree " + std::to_string(i), 10s);
    REQUIRE(out.passed);
    last = out.decree_no;
  }

  uint16_t port = free_port();
  Program console({kBin + "/paxos-client", "--config", parl.config_path, "console", "--listen",
                   "127.0.0.1:" + std::to_string(port)},
                  parl.dir / "console.log");
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  REQUIRE(eventually([&] { return httplib::Client(url.substr(0, url.size() - 1)).Get("/parliament").operator bool(); }, 10s));

  // A request addressed to another name (a web page elsewhere pointing its name at 127.0.0.1)
  // is refused.
  {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/priest/1/status", {{"Host", "rebound.example:" + std::to_string(port)}});
    REQUIRE(r);
    CHECK(r->status == 403);
    auto by_ip = c.Get("/parliament", {{"Host", "192.0.2.7:" + std::to_string(port)}});  // from the LAN, by address
    REQUIRE(by_ip);
    CHECK(by_ip->status == 200);
  }

  Page page;
  REQUIRE(eventually([&] {
    page = read_page(dump_dom(url, parl.dir, 3000));
    return page.roles.size() == 5 && page.president == std::to_string(president) && page.last_no == std::to_string(last);
  }, 60s));
  CHECK(page.roles.at(int(president)) == "President");
  for (auto& [id, role] : page.roles)
    if (id != int(president)) CHECK(role == "Follower");
  CHECK(page.events > 0);
  CHECK(page.revoked.empty());
  // A revocation shows on the page once it passed.
  {
    auto [code, out] = parl.run_god({"revoke", "carol", "--timeout", "30"});
    INFO("paxos-god revoke carol said:\n" << out);
    REQUIRE(code == 0);
  }
  REQUIRE(eventually([&] {
    page = read_page(dump_dom(url, parl.dir, 3000));
    return page.revoked == "carol";
  }, 30s));
  dump_dom(url, parl.dir, 3000, kBuild + "/page-live.png");
  CHECK(fs::exists(kBuild + "/page-live.png"));

  // The president is killed: the page names the new one and shows the old one unreachable.
  parl.kill9(president);
  std::vector<PriestId> rest;
  for (auto& p : parl.config.priests)
    if (p.id != president) rest.push_back(p.id);
  REQUIRE(eventually([&] { return parl.president(rest).has_value(); }, 15s));
  PriestId next = *parl.president(rest);
  REQUIRE(eventually([&] {
    page = read_page(dump_dom(url, parl.dir, 3000));
    return page.president == std::to_string(next) && page.roles[int(president)] == "unreachable";
  }, 60s));
  CHECK(page.roles.at(int(next)) == "President");
  dump_dom(url, parl.dir, 3000, kBuild + "/page-new-president.png");

  // The run, drawn afterwards from the priests' events.jsonl files.
  std::vector<std::string> args{kBin + "/paxos-client", "timeline"};
  for (auto& p : parl.config.priests) args.insert(args.end(), {"--data", parl.data(p.id).string()});
  std::string timeline = kBuild + "/page-timeline.html";
  args.insert(args.end(), {"--out", timeline});
  Program draw(args, parl.dir / "timeline.log");
  REQUIRE(draw.finish(30s));
  INFO(draw.output());
  REQUIRE(draw.code == 0);
  page = read_page(dump_dom("file://" + timeline, parl.dir, 2000, kBuild + "/page-timeline.png"));
  CHECK(page.recorded);
  CHECK(page.roles.size() == 5);
  CHECK(page.events > 0);
  CHECK(page.president == std::to_string(next));
}

int main(int argc, char** argv) {
  if (chromium().empty()) {
    std::printf("page: SKIPPED: no Chromium here (Debian package chromium, which scripts/setup.sh --test-tools installs where it can)\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
