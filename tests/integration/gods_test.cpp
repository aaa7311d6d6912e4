// Several gods at once: two bootstrapping the same priests, then four changing the
// membership at the same time (add, add, remove, replace) and a fifth repeating one of them,
// while clients pass decrees. Every god must end saying what it did (exit 0), and every member
// must end in one membership, with identical ledgers holding every acknowledged decree.
#include "tests/common/cluster_support.hpp"

namespace {

// Starts every program of `gods` at once and waits for each: its exit status and output.
std::vector<std::pair<int, std::string>> all_at_once(
    Parliament& parl, const std::vector<std::vector<std::string>>& gods) {
  std::vector<std::unique_ptr<Program>> running;
  for (const auto& args : gods) running.push_back(parl.god(args));
  std::vector<std::pair<int, std::string>> out;
  for (auto& g : running) {
    bool done = g->finish(150s);
    out.push_back({done ? *g->code : -1, g->output()});
  }
  return out;
}

}  // namespace

TEST_CASE("gods: two bootstrap at once; four change the membership at once under load",
          "[gods]") {
  Parliament parl(4, 2);
  INFO("files in " << parl.dir);
  for (PriestId id = 1; id <= 4; ++id) parl.start(id);
  for (const auto& [code, out] :
       all_at_once(parl, {{"bootstrap", "--timeout", "30"}, {"bootstrap", "--timeout", "30"}})) {
    INFO("bootstrap said:\n" << out);
    CHECK(code == 0);
  }
  auto boot = agreed_membership(parl, {1, 2, 3, 4}, 0);
  REQUIRE(!boot.is_null());
  CHECK(ids_of(boot) == std::vector<PriestId>{1, 2, 3, 4});
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));

  Load load;
  std::vector<PriestAddress> everyone;
  for (auto& [id, a] : parl.addr) everyone.push_back(a);
  load.start(6, everyone, 60s);
  REQUIRE(load.progress(20));
  for (PriestId id : {5u, 6u}) {
    parl.start(id);
    REQUIRE(parl.incarnation(id).size() == 16);
  }
  // Priest 2 loses its disk: it comes back blank, a new incarnation, to be replaced.
  parl.kill9(2);
  fs::remove_all(parl.data(2));
  parl.start(2);
  REQUIRE(parl.incarnation(2).size() == 16);

  auto gods = all_at_once(parl, {{"add", "5", parl.host_port(5), "--timeout", "120"},
                                 {"add", "6", parl.host_port(6), "--timeout", "120"},
                                 {"remove", "1", "--timeout", "120"},
                                 {"replace", "2", "--keep-key", "--timeout", "120"},
                                 {"add", "5", parl.host_port(5), "--timeout", "120"}});
  for (const auto& [code, out] : gods) {
    INFO("a god said:\n" << out);
    CHECK(code == 0);
    CHECK(out.find("membership in force") != std::string::npos);  // each says where it ended
  }
  REQUIRE(load.progress(20));
  load.finish();

  const std::vector<PriestId> members{2, 3, 4, 5, 6};
  auto [agreed, changes] = final_membership(parl, members, load);
  // Four changes, each passed once: the repeated add is in force already, not a fifth.
  CHECK(changes.size() == 4);
  int adds_of_5 = 0;
  for (const auto& [n, m] : changes)
    adds_of_5 += m.value("change", "").find("add priest 5") != std::string::npos;
  CHECK(adds_of_5 == 1);
}

TEST_CASE("god up: says it does not restart priests, names what it did not start at Ctrl-C",
          "[gods]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  Program up({kBin + "/paxos-god", "--config", parl.config_path, "up", "--data-dir",
              parl.dir.string(), "--timeout", "20"},
             parl.dir / "up.log");
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 20s));
  auto said = [&](const std::string& what) {
    return eventually([&] { return up.output().find(what) != std::string::npos; }, 15s);
  };
  // A priest killed: the god says it does not restart it, and how to.
  Program kill2({"/usr/bin/pkill", "-9", "-f", "paxos-priest --config " + parl.config_path +
                                                   " --id 2 "},
                parl.dir / "pkill.log");
  REQUIRE(kill2.finish(10s));
  CHECK(said("priest 2 exited (signal 9); paxos-god up does not restart priests; restart it "
             "with: "));
  // Restarted by hand, it is not the god's; a priest removed by decree is not to be restarted.
  parl.start(2);
  REQUIRE(eventually([&] { return parl.status(2).has_value(); }, 10s));
  auto [code, out] = parl.run_god({"remove", "3", "--force"});
  INFO(out);
  REQUIRE(code == 0);
  CHECK(said("priest 3 stopped"));
  CHECK(up.output().find("priest 3 exited") == std::string::npos);
  kill(up.pid, SIGINT);
  REQUIRE(up.finish(20s));
  INFO(up.output());
  CHECK(*up.code == 0);
  CHECK(up.output().find("priest 2 at 127.0.0.1:" + std::to_string(parl.addr.at(2).port) +
                         " still runs: this god did not start it") != std::string::npos);
  CHECK(up.output().find("priest 1 at 127.0.0.1:" + std::to_string(parl.addr.at(1).port) +
                         " still runs") == std::string::npos);  // its own child, stopped
}
