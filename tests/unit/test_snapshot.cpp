// The snapshot file: what it holds comes back whole, and a changed file is refused.
#include <catch2/catch.hpp>

#include "net/snapshot.hpp"

using namespace parliament;
using nlohmann::json;

namespace {

Entry client_decree(uint64_t n, std::string text) {
  Entry e;
  e.decree_no = n;
  e.ballot = Ballot{3, 1};
  e.decree = Decree{false, 77, n, std::move(text), Ballot{3, 1}};
  return e;
}

Snapshot three_decrees() {
  Snapshot s;
  s.upto = 3;
  s.parliament = "0123456789abcdef";
  s.taken_at = "2026-12-05T21:17:07Z";
  s.membership = json{{"decree_no", 0}, {"priests", json::array()}};
  s.decrees = {client_decree(1, "bread, \"oil\"\nand wine"), client_decree(2, "x"),
               client_decree(3, "y")};
  s.decrees[1].decree = Decree::olive(Ballot{3, 1});
  return s;
}

}  // namespace

TEST_CASE("snapshot: the file gives back every decree and the membership", "[snapshot]") {
  std::string sha;
  auto text = snapshot_text(three_decrees(), &sha);
  CHECK(sha.size() == 64);
  auto back = parse_snapshot(text, "snap.json");
  INFO((back ? "" : back.error()));
  REQUIRE(back);
  CHECK(back->upto == 3);
  CHECK(back->parliament == "0123456789abcdef");
  CHECK(back->decrees == three_decrees().decrees);
  CHECK(back->membership == three_decrees().membership);
  auto none = last_membership_decree(*back);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

TEST_CASE("snapshot: the last membership decree carries its revoked clients", "[snapshot]") {
  Membership m;
  m.decree_no = 2;
  m.priests = {PriestAddress{1, "127.0.0.1", 7101, "127.0.0.1", 0x11}};
  m.revoked = {"mallory"};
  Change revoke;
  revoke.op = Change::Op::Revoke;
  revoke.client = "mallory";
  Snapshot s = three_decrees();
  s.decrees[1].decree = Decree{false, 0, 0, membership_decree_text(m, revoke), Ballot{3, 1}, true};
  auto back = parse_snapshot(snapshot_text(s), "snap.json");
  REQUIRE(back);
  auto last = last_membership_decree(*back);
  REQUIRE(last);
  REQUIRE(last->has_value());
  CHECK((*last)->decree_no == 2);
  CHECK((*last)->revoked == std::vector<std::string>{"mallory"});
}

TEST_CASE("snapshot: a changed, foreign or incomplete file is refused, naming it", "[snapshot]") {
  const std::string text = snapshot_text(three_decrees());
  auto refused = [](const std::string& t, const std::string& words) {
    auto r = parse_snapshot(t, "snap.json");
    REQUIRE_FALSE(r);
    INFO(r.error());
    CHECK(r.error().find("snap.json") != std::string::npos);
    CHECK(r.error().find(words) != std::string::npos);
  };
  std::string changed = text;
  REQUIRE(changed.find("\"y\"") != std::string::npos);
  changed[changed.find("\"y\"") + 1] = 'z';
  refused(changed, "checksum mismatch");
  refused("{\"decrees\": []}", "not a snapshot");
  refused("not json", "not a snapshot");
  // A well-formed file whose numbers skip: refused even with a checksum that matches.
  Snapshot gap = three_decrees();
  gap.decrees[2].decree_no = 4;
  refused(snapshot_text(gap), "decree 4 where decree 3 should be");
  Snapshot short_one = three_decrees();
  short_one.upto = 5;
  refused(snapshot_text(short_one), "decrees 1 to 5");
}

TEST_CASE("snapshot: entries from JSON name what is wrong", "[snapshot]") {
  CHECK_FALSE(entry_from_json(json{{"ballot", "1.1"}, {"kind", "olive-day"}}));
  CHECK_FALSE(entry_from_json(json{{"decree_no", 1}, {"kind", "olive-day"}}));
  auto no_client = entry_from_json(json{{"decree_no", 1}, {"ballot", "1.1"}, {"kind", "decree"},
                                        {"decree", "t"}});
  REQUIRE_FALSE(no_client);
  CHECK(no_client.error().find("client") != std::string::npos);
  auto odd = entry_from_json(json{{"decree_no", 1}, {"ballot", "1.1"}, {"kind", "poem"}});
  REQUIRE_FALSE(odd);
  CHECK(odd.error().find("kind") != std::string::npos);
  auto e = client_decree(9, "t");
  auto back = entry_from_json(entry_to_json(e));
  REQUIRE(back);
  CHECK(*back == e);
}

// Found by an attack review: a snapshot edited and summed again restored a client's request
// 2 after its request 3 as written; a priest added later learned it as an olive-day decree,
// and the two ledgers differed from there on.
TEST_CASE("snapshot: decrees no ledger could hold are refused, naming the decree", "[snapshot]") {
  Snapshot s = three_decrees();
  CHECK(follows_exactly_once(s, 1024));
  s.decrees[1] = client_decree(2, "x");
  s.decrees[2].decree.request = 2;  // client 77's request 2 again
  auto repeated = follows_exactly_once(s, 1024);
  REQUIRE_FALSE(repeated);
  CHECK(repeated.error().find("decree 3: client 77's request 2 after its request 2") == 0);
  s.decrees[2].decree.request = 1;  // a lower one
  CHECK_FALSE(follows_exactly_once(s, 1024));
  s.decrees[2].decree.client = 78;  // another client's: fine
  CHECK(follows_exactly_once(s, 1024));
  auto long_one = follows_exactly_once(s, 10);  // decree 1 is 20 bytes
  REQUIRE_FALSE(long_one);
  CHECK(long_one.error().find("decree 1: it is longer than max_decree_bytes") == 0);
}
