// paxos-client's habits: the decree from standard input or a file, an empty decree refused
// before anything is sent, and --version on every program.
#include "tests/common/harness.hpp"

#include <fstream>
#include <regex>

using namespace harness;

namespace {

// `command` run by /bin/sh (for its pipes): exit status and what it printed.
std::pair<int, std::string> shell(const Parliament& parl, const std::string& command,
                                  const std::string& name) {
  Program p({"/bin/sh", "-c", command}, parl.dir / (name + ".log"));
  REQUIRE(p.finish(30s));
  return {*p.code, p.output()};
}

// Three priests started and bootstrapped, with a president.
void seat(Parliament& parl) {
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
}

}  // namespace

TEST_CASE("cli: propose reads -, --file, refuses an empty decree; every program has --version",
          "[cli]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  seat(parl);
  const std::string client = kBin + "/paxos-client --config " + parl.config_path;

  auto [code, out] = shell(parl, "printf 'from\\nstandard input' | " + client + " propose -",
                           "stdin");
  INFO(out);
  CHECK(code == 0);
  std::ofstream(parl.dir / "decree.txt") << "from a file";
  std::tie(code, out) =
      shell(parl, client + " propose --file " + (parl.dir / "decree.txt").string(), "file");
  INFO(out);
  CHECK(code == 0);
  std::tie(code, out) = shell(parl, client + " read --json", "read");
  CHECK(code == 0);
  CHECK(out.find("from\\nstandard input") != std::string::npos);
  CHECK(out.find("\"from a file\"") != std::string::npos);

  int tries = 0;
  for (std::string empty : {" propose ''", " propose - < /dev/null", " propose --file /dev/null"}) {
    std::tie(code, out) = shell(parl, client + empty, "empty-" + std::to_string(++tries));
    INFO(empty << ": " << out);
    CHECK(code == 2);
    CHECK(out.find("an empty decree") != std::string::npos);
  }
  std::tie(code, out) = shell(parl, client + " propose --file " + parl.dir.string() + "/none", "none");
  CHECK(code == 2);
  CHECK(out.find("/none: No such file or directory") != std::string::npos);

  for (std::string program : {"paxos-priest", "paxos-god", "paxos-client", "paxos-bench"}) {
    std::tie(code, out) = shell(parl, kBin + "/" + program + " --version", program);
    CHECK(code == 0);
    CHECK(out == program + " " + PARLIAMENT_VERSION + "\n");
  }
}

namespace {

// Whether process `pid` holds a socket (it has begun to reach a priest).
bool holds_socket(pid_t pid) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code lec;
    if (fs::read_symlink(e.path(), lec).string().rfind("socket:", 0) == 0) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("cli: nearest command, environment, -w json, dated logs, Ctrl-C in propose", "[cli]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  seat(parl);
  const std::string client = kBin + "/paxos-client --config " + parl.config_path;

  auto [code, out] = shell(parl, client + " propse x", "typo");
  INFO(out);
  CHECK(code == 2);
  CHECK(out.find("unknown command 'propse'; did you mean 'propose'?") != std::string::npos);
  std::tie(code, out) = shell(parl, kBin + "/paxos-god --config " + parl.config_path + " ad 6",
                              "god-typo");
  CHECK(code == 2);
  CHECK(out.find("did you mean 'add'?") != std::string::npos);

  // $PARLIAMENT_CONFIG stands for --config, $PARLIAMENT_CERTS for --certs.
  const std::string env = "PARLIAMENT_CONFIG=" + parl.config_path + " ";
  std::tie(code, out) = shell(parl, env + kBin + "/paxos-client members", "env");
  CHECK(code == 0);
  CHECK(out.find("membership in force: priests 1, 2, 3") != std::string::npos);
  std::tie(code, out) =
      shell(parl, env + "PARLIAMENT_CERTS=" + parl.dir.string() + "/nowhere " + kBin +
                      "/paxos-client members", "env-certs");
  CHECK(code != 0);
  CHECK(out.find("/nowhere") != std::string::npos);
  std::tie(code, out) = shell(parl, env + kBin + "/paxos-god certs", "env-god");
  CHECK(code == 0);
  CHECK(out.find("kept") != std::string::npos);

  // -w json prints what --json does; -w is checked.
  std::tie(code, out) = shell(parl, client + " -w json members", "w-json");
  CHECK(code == 0);
  auto members = nlohmann::json::parse(out, nullptr, false);
  REQUIRE(members.is_object());
  CHECK(members["priests"].size() == 3);
  std::tie(code, out) = shell(parl, client + " -w yaml members", "w-yaml");
  CHECK(code == 2);

  // Every log line of the priests and the god begins with the date and the time.
  std::regex dated(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} )");
  for (auto log : {parl.log(1), parl.dir / "god.log"}) {
    auto lines = slurp(log);
    INFO(log << ":\n" << lines);
    REQUIRE(!lines.empty());
    std::istringstream in(lines);
    for (std::string line; std::getline(in, line);) CHECK(std::regex_search(line, dated));
  }

  // With no majority a proposal waits; Ctrl-C says its outcome is unknown and exits 130.
  parl.kill9(2);
  parl.kill9(3);
  Program stuck({kBin + "/paxos-client", "--config", parl.config_path, "propose", "stuck",
                 "--timeout", "120"},
                parl.dir / "stuck.log");
  REQUIRE(eventually([&] { return holds_socket(stuck.pid); }, 10s));
  kill(stuck.pid, SIGINT);
  REQUIRE(stuck.finish(10s));
  INFO(stuck.output());
  CHECK(*stuck.code == 130);
  CHECK(stuck.output().find("outcome unknown") != std::string::npos);
}
