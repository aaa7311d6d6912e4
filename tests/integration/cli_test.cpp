// paxos-client's habits: the decree from standard input or a file, an empty decree refused
// before anything is sent, and --version on every program.
#include "tests/common/harness.hpp"

#include <fstream>

using namespace harness;

namespace {

// `command` run by /bin/sh (for its pipes): exit status and what it printed.
std::pair<int, std::string> shell(const Parliament& parl, const std::string& command,
                                  const std::string& name) {
  Program p({"/bin/sh", "-c", command}, parl.dir / (name + ".log"));
  REQUIRE(p.finish(30s));
  return {*p.code, p.output()};
}

}  // namespace

TEST_CASE("cli: propose reads -, --file, refuses an empty decree; every program has --version",
          "[cli]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
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
