// Backups and disaster recovery: a snapshot saved from one parliament restores into a new
// one, which goes on from the snapshot's last decree; a parliament that lost three of five
// disks comes back with `recover --force` from a surviving ledger; audit names the first
// decree where two ledgers differ.
#include "tests/common/harness.hpp"

#include "proto/record.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

using namespace harness;

namespace {

// paxos-client (of `parl`) with `args`: exit status and what it printed.
std::pair<int, std::string> client(const Parliament& parl, const std::vector<std::string>& args,
                                   const std::string& name) {
  std::vector<std::string> all{kBin + "/paxos-client", "--config", parl.config_path};
  all.insert(all.end(), args.begin(), args.end());
  Program p(all, parl.dir / (name + ".log"));
  REQUIRE(p.finish(60s));
  return {*p.code, p.output()};
}

void seat(Parliament& parl) {
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
}

// Decrees "<prefix> 1" .. "<prefix> n", each passed.
void pass(const Parliament& parl, const std::string& prefix, int n) {
  for (int i = 1; i <= n; ++i) {
    auto [code, out] =
        client(parl, {"propose", prefix + " " + std::to_string(i)}, prefix + std::to_string(i));
    INFO(out);
    REQUIRE(code == 0);
  }
}

// The texts of the client decrees a linearizable read returns, in order.
std::vector<std::string> read_texts(const Parliament& parl, const std::string& name) {
  auto [code, out] = client(parl, {"read", "--json", "--timeout", "20"}, name);
  INFO(out);
  REQUIRE(code == 0);
  std::vector<std::string> texts;
  for (auto& d : nlohmann::json::parse(out))
    if (d["kind"] == "decree") texts.push_back(d["decree"]);
  return texts;
}

}  // namespace

TEST_CASE("recovery: snapshot save, then restore into a new parliament that goes on",
          "[recovery]") {
  Parliament old(3);
  INFO("old parliament in " << old.dir);
  seat(old);
  pass(old, "kept", 5);
  std::map<PriestId, std::string> old_lives;
  for (PriestId id = 1; id <= 3; ++id) old_lives[id] = old.incarnation(id);
  const std::string file = (old.dir / "snap.json").string();
  auto [code, out] = client(old, {"snapshot", "save", file}, "save");
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("written to " + file) != std::string::npos);
  std::tie(code, out) = client(old, {"audit"}, "audit");
  CHECK(code == 0);
  CHECK(out.find("the ledgers agree") != std::string::npos);

  // A damaged copy is refused with its fault named, and writes nothing.
  Parliament fresh(3);
  INFO("new parliament in " << fresh.dir);
  std::string text = slurp(file);
  auto at = text.find("kept 3");
  REQUIRE(at != std::string::npos);
  text[at] = 'K';
  std::ofstream(fresh.dir / "damaged.json") << text;
  std::tie(code, out) =
      fresh.run_god({"restore", "--from", (fresh.dir / "damaged.json").string(), "--data-dir",
                     fresh.dir.string()});
  CHECK(code == 2);
  CHECK(out.find("checksum mismatch") != std::string::npos);
  CHECK_FALSE(fs::exists(fresh.data(1)));

  std::tie(code, out) =
      fresh.run_god({"restore", "--from", file, "--data-dir", fresh.dir.string()});
  INFO(out);
  REQUIRE(code == 0);
  // A second restore over the same directories is refused.
  auto [again, again_out] =
      fresh.run_god({"restore", "--from", file, "--data-dir", fresh.dir.string()});
  CHECK(again == 2);
  CHECK(again_out.find("is not empty") != std::string::npos);

  // The new parliament's priests start as members: no bootstrap, a president, the old
  // decrees, and the next decree passes after them.
  for (auto& p : fresh.config.priests) fresh.start(p.id);
  REQUIRE(eventually([&] { return fresh.president().has_value(); }, 15s));
  pass(fresh, "new", 1);
  auto texts = read_texts(fresh, "read-new");
  CHECK(texts == std::vector<std::string>{"kept 1", "kept 2", "kept 3", "kept 4", "kept 5",
                                          "new 1"});
  std::tie(code, out) = client(fresh, {"audit"}, "audit-new");
  CHECK(code == 0);
  // Every life of the old parliament is retired in the new one: none of them speaks there.
  auto retired = membership_of(fresh, 1).value("retired", nlohmann::json::array());
  for (PriestId id = 1; id <= 3; ++id) {
    INFO("old priest " << id << ", incarnation " << old_lives[id] << "; retired: " << retired);
    CHECK(std::any_of(retired.begin(), retired.end(), [&](const nlohmann::json& r) {
      return r.value("id", 0u) == id && r.value("incarnation", "") == old_lives[id];
    }));
  }
}

TEST_CASE("recovery: three of five disks lost, recover --force from a survivor", "[recovery]") {
  Parliament parl(5);
  INFO("files in " << parl.dir);
  seat(parl);
  pass(parl, "decree", 8);
  // Every priest's ledger holds all eight before they stop (a follower learns the last
  // decree from the president's next message).
  REQUIRE(eventually([&] {
    for (PriestId id = 1; id <= 5; ++id)
      if (parl.ledger(id).find("decree 8") == std::string::npos) return false;
    return true;
  }, 10s));
  for (PriestId id = 1; id <= 5; ++id) parl.kill9(id);
  for (PriestId id = 3; id <= 5; ++id) fs::remove_all(parl.data(id));

  auto [code, out] = parl.run_god({"recover", "--from-priest", "1", "--data-dir",
                                   parl.dir.string()});
  INFO(out);
  CHECK(code == 2);
  CHECK(out.find("--force") != std::string::npos);
  CHECK(out.find("after decree") != std::string::npos);
  CHECK(fs::exists(parl.data(1) / "votes.csv"));  // nothing was touched

  std::tie(code, out) = parl.run_god({"recover", "--from-priest", "1", "--force", "--data-dir",
                                      parl.dir.string()});
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("any decree acknowledged after decree") != std::string::npos);
  int kept = 0;
  for (auto& e : fs::directory_iterator(parl.dir))
    kept += e.path().filename().string().find(".before-recover-") != std::string::npos;
  CHECK(kept == 2);  // priests 1 and 2's old directories

  for (auto& p : parl.config.priests) parl.start(p.id);
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 15s));
  pass(parl, "after", 1);
  auto texts = read_texts(parl, "read-after");
  REQUIRE(texts.size() == 9);
  CHECK(texts.front() == "decree 1");
  CHECK(texts[7] == "decree 8");
  CHECK(texts.back() == "after 1");
  // With a priest running, recover refuses (it holds its directory's lock), and so does a
  // second priest started on the same directory.
  std::tie(code, out) = parl.run_god({"recover", "--from-priest", "1", "--force", "--data-dir",
                                      parl.dir.string()});
  CHECK(code == 2);
  CHECK(out.find("stop every priest first") != std::string::npos);
  CHECK(out.find("is in use") != std::string::npos);
  Program twin({kBin + "/paxos-priest", "--config", parl.config_path, "--id", "1", "--data-dir",
                parl.data(1).string()},
               parl.dir / "twin.log");
  REQUIRE(twin.finish(10s));
  CHECK(*twin.code == 2);
  CHECK(twin.output().find("is in use") != std::string::npos);
}

TEST_CASE("recovery: a restore refuses a certificate whose key the old parliament retired",
          "[recovery]") {
  Parliament old(4);
  INFO("old parliament in " << old.dir);
  seat(old);
  auto [code, out] = old.run_god({"remove", "4"});
  INFO(out);
  REQUIRE(code == 0);
  pass(old, "after removal", 1);
  const std::string file = (old.dir / "snap.json").string();
  std::tie(code, out) = client(old, {"snapshot", "save", file}, "save");
  REQUIRE(code == 0);
  // A new parliament of four that would reuse the old certificates, priest-4.crt among them.
  Parliament fresh(4);
  std::tie(code, out) = fresh.run_god({"--certs", (old.dir / "certs").string(), "restore",
                                       "--from", file, "--data-dir", fresh.dir.string()});
  CHECK(code == 2);
  CHECK(out.find("priest-4.crt has the key the old parliament retired") != std::string::npos);
  CHECK(out.find("--new-key") != std::string::npos);
  CHECK_FALSE(fs::exists(fresh.data(1)));  // nothing written
}

TEST_CASE("recovery: a byte flipped in a cleanly stopped priest's ledger is named as the disk's",
          "[recovery]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  seat(parl);
  pass(parl, "decree", 6);
  REQUIRE(eventually([&] { return parl.ledger(3).find("decree 6") != std::string::npos; }, 10s));
  kill(parl.pids.at(3), SIGTERM);
  REQUIRE(parl.exit_status(3, 10s).has_value());
  const fs::path ledger = parl.data(3) / "ledger.csv";
  std::string bytes = slurp(ledger);
  auto at = bytes.find("decree 2");
  REQUIRE(at != std::string::npos);
  bytes[at] = 'D';
  std::ofstream(ledger, std::ios::binary | std::ios::trunc) << bytes;

  parl.start(3);
  REQUIRE(eventually([&] {
    return slurp(parl.log(3)).find("the disk corrupted data it had made durable") !=
           std::string::npos;
  }, 10s));
  CHECK(slurp(parl.log(3)).find("torn by a crash") == std::string::npos);
  // It learns what was cut from the others.
  CHECK(eventually([&] { return parl.ledger(3).find("decree 6") != std::string::npos; }, 10s));
  CHECK(parl.ledger(3).find("decree 2") != std::string::npos);
}

TEST_CASE("recovery: audit names the first decree where two ledgers differ", "[recovery]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  seat(parl);
  pass(parl, "decree", 5);
  REQUIRE(eventually([&] { return parl.ledger(3).find("decree 5") != std::string::npos; }, 10s));
  auto [code, out] = client(parl, {"audit", "--json"}, "audit-agree");
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find("\"agree\":true") != std::string::npos);

  // Priest 3's decree 3 rewritten on its disk with a valid checksum: the priest cannot tell,
  // the audit must.
  kill(parl.pids.at(3), SIGTERM);
  REQUIRE(parl.exit_status(3, 10s).has_value());
  std::string text = parl.ledger(3);
  std::istringstream lines(text);
  std::string forged;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("3,", 0) != 0) {
      forged += line + "\n";
      continue;
    }
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    REQUIRE(f.size() == 7);  // decree_no, ballot, kind, client, request, decree, crc32
    append_record(forged, {f[0], f[1], f[2], f[3], f[4], "a forged decree"});
  }
  std::ofstream(parl.data(3) / "ledger.csv", std::ios::binary | std::ios::trunc) << forged;
  parl.start(3);
  REQUIRE(eventually([&] { return parl.status(3).has_value(); }, 10s));
  std::tie(code, out) = client(parl, {"audit"}, "audit-differ");
  INFO(out);
  CHECK(code == 1);
  CHECK(out.find("decree 3 differs between priest") != std::string::npos);
  CHECK(out.find("and priest 3") != std::string::npos);
}
