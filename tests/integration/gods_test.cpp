// Several gods at once: two bootstrapping the same priests, then three changing the
// membership at the same time (add, add, remove) and a fourth repeating one of them, while
// clients pass decrees. Every god must end saying what it did (exit 0), and every member
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

TEST_CASE("gods: two bootstrap at once; three change the membership at once under load",
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

  auto gods = all_at_once(parl, {{"add", "5", parl.host_port(5), "--timeout", "120"},
                                 {"add", "6", parl.host_port(6), "--timeout", "120"},
                                 {"remove", "1", "--timeout", "120"},
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
  // Three changes, each passed once: the repeated add is in force already, not a fourth.
  CHECK(changes.size() == 3);
  int adds_of_5 = 0;
  for (const auto& [n, m] : changes)
    adds_of_5 += m.value("change", "").find("add priest 5") != std::string::npos;
  CHECK(adds_of_5 == 1);
}
