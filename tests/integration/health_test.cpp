// paxos-client health and members against real priests: healthy when every member answers
// and follows one president; exit 1 naming the priest killed; exit 1 with no president once
// a majority is gone.
#include "tests/common/harness.hpp"

#include <sstream>
#include <tuple>

using namespace harness;
using nlohmann::json;

namespace {

// paxos-client --config ... ARGS --json: exit status and its last JSON line.
std::pair<int, json> client(const Parliament& parl, std::vector<std::string> command,
                            const std::string& name) {
  std::vector<std::string> args{kBin + "/paxos-client", "--config", parl.config_path};
  args.insert(args.end(), command.begin(), command.end());
  args.push_back("--json");
  Program c(args, parl.dir / (name + ".log"));
  REQUIRE(c.finish(30s));
  json last;
  std::istringstream lines(c.output());
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') last = json::parse(line, nullptr, false);
  return {*c.code, last};
}

bool names(const json& health, const std::string& what) {
  for (const auto& p : health.value("problems", json::array()))
    if (p.is_string() && p.get<std::string>().find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("health and members: a killed priest and a lost majority are named", "[health]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));

  auto [code, members] = client(parl, {"members"}, "members");
  CHECK(code == 0);
  CHECK(members["decree_no"] == 0);  // set by the bootstrap
  CHECK(members["quorum"] == 2);
  CHECK(members["priests"].size() == 3);

  // Every follower hears its president within a heartbeat or two.
  int status = -1;
  json health;
  REQUIRE(eventually([&] {
    std::tie(status, health) = client(parl, {"health"}, "healthy");
    return status == 0;
  }, 10s));
  INFO("health said " << health.dump());
  CHECK(health["healthy"] == true);
  PriestId president = *parl.president();
  CHECK(health["president"] == president);

  PriestId follower = president % 3 + 1;
  parl.kill9(follower);
  std::tie(status, health) = client(parl, {"health"}, "one-killed");
  INFO("after kill -9 of priest " << follower << ": " << health.dump());
  CHECK(status == 1);
  CHECK(health["healthy"] == false);
  CHECK(names(health, "priest " + std::to_string(follower) + " (127.0.0.1:"));
  CHECK(names(health, "did not answer"));
  // One priest's own health: the president and the other follower are healthy, the killed
  // one is not.
  std::tie(status, health) =
      client(parl, {"health", "--priest", std::to_string(president)}, "one-president");
  CHECK(status == 0);
  CHECK(health["president"] == president);
  std::tie(status, health) =
      client(parl, {"health", "--priest", std::to_string(follower)}, "one-follower");
  CHECK(status == 1);
  CHECK(names(health, "did not answer"));

  // A majority gone: the last priest stops being president once it hears nobody.
  PriestId other = 6 - president - follower;  // the third of priests 1, 2 and 3
  parl.kill9(other);
  REQUIRE(eventually([&] {
    std::tie(status, health) = client(parl, {"health"}, "majority-gone");
    return status == 1 && names(health, "no president");
  }, 20s));
  CHECK(health["president"].is_null());
}
