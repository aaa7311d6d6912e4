// Membership values and their changes (proto/membership.hpp): what each change may do, what
// it refuses and why, and the text of a membership decree.
#include <catch2/catch.hpp>

#include <cstdio>

#include "proto/membership.hpp"

using namespace parliament;

namespace {

Membership three() {
  return Membership{0, {{1, "a", 7101, "a", 0x11}, {2, "b", 7102, "b", 0x22}, {3, "c", 7103, "c", 0x33}}};
}

Change change(Change::Op op, PriestId id, uint64_t incarnation = 0, bool force = false) {
  return Change{op, PriestAddress{id, "h", 7200, "h", incarnation}, force};
}

}  // namespace

TEST_CASE("membership: voters are named by id and incarnation", "[membership]") {
  Membership m = three();
  CHECK(m.voter(2, 0x22));
  CHECK_FALSE(m.voter(2, 0x23));  // a new life of priest 2: not the one named
  CHECK_FALSE(m.voter(4, 0x22));
  CHECK(m.quorum() == 2);
  CHECK(m.ids() == std::vector<PriestId>{1, 2, 3});
}

TEST_CASE("membership: add, remove and replace apply one change, or say why not", "[membership]") {
  Membership m = three();
  auto added = apply_change(m, change(Change::Op::Add, 4, 0x44));
  REQUIRE(added.ok());
  CHECK(added->ids() == std::vector<PriestId>{1, 2, 3, 4});
  CHECK(added->quorum() == 3);
  CHECK_FALSE(apply_change(m, change(Change::Op::Add, 2, 0x99)).ok());  // a member: replace it
  CHECK(apply_change(m, change(Change::Op::Add, 2, 0x99)).error().find("replace") != std::string::npos);

  auto refused = apply_change(m, change(Change::Op::Remove, 3));
  REQUIRE_FALSE(refused.ok());  // three would become two
  CHECK(refused.error().find("force") != std::string::npos);
  auto forced = apply_change(m, change(Change::Op::Remove, 3, 0, true));
  REQUIRE(forced.ok());
  CHECK(forced->ids() == std::vector<PriestId>{1, 2});
  CHECK(apply_change(*added, change(Change::Op::Remove, 1)).ok());
  CHECK_FALSE(apply_change(m, change(Change::Op::Remove, 9, 0, true)).ok());
  CHECK_FALSE(apply_change(Membership{0, {{1, "a", 1, "a", 1}}}, change(Change::Op::Remove, 1, 0, true)).ok());

  auto replaced = apply_change(m, change(Change::Op::Replace, 3, 0x34));
  REQUIRE(replaced.ok());
  CHECK(replaced->voter(3, 0x34));
  CHECK_FALSE(replaced->voter(3, 0x33));
  CHECK(replaced->find(3)->port == 7200);  // at its new address
  CHECK_FALSE(apply_change(m, change(Change::Op::Replace, 3, 0x33)).ok());  // the same life
  CHECK_FALSE(apply_change(m, change(Change::Op::Replace, 4, 0x44)).ok());  // not a member

  // A retry of a change that passed is recognised as in force.
  CHECK(already_applied(*added, change(Change::Op::Add, 4, 0x44)));
  CHECK_FALSE(already_applied(*added, change(Change::Op::Add, 4, 0x45)));
  CHECK(already_applied(*forced, change(Change::Op::Remove, 3)));
  CHECK(already_applied(*replaced, change(Change::Op::Replace, 3, 0x34)));
}

TEST_CASE("membership: changes and decrees round-trip through their JSON", "[membership]") {
  Change remove{Change::Op::Remove, PriestAddress{2, "", 0, "", 0}, true};  // a remove names an id only
  for (auto c : {change(Change::Op::Add, 6, 0xabc), remove,
                 change(Change::Op::Replace, 3, 0x1234567890abcdefull)}) {
    INFO(change_to_json(c).dump());
    auto back = parse_change(change_to_json(c));
    REQUIRE(back.ok());
    CHECK(*back == c);
  }
  for (const char* bad : {R"({"op":"grow","id":1})", R"({"op":"add","id":0})",
                          R"({"op":"add","id":4})",
                          R"({"op":"add","id":4,"priest":{"id":4,"host":"h","port":1}})",
                          R"({"op":"add","id":4,"priest":{"id":5,"host":"h","port":1,"incarnation":"0000000000000001"}})",
                          R"({"op":"remove","id":4,"force":"yes"})", R"([1])"}) {
    INFO(bad);
    CHECK_FALSE(parse_change(nlohmann::json::parse(bad)).ok());
  }
  Membership next = *apply_change(three(), change(Change::Op::Add, 4, 0x44));
  std::string text = membership_decree_text(next, change(Change::Op::Add, 4, 0x44));
  CHECK(text.find("add priest 4") != std::string::npos);  // a reader of ledger.csv sees what changed
  auto parsed = parse_membership_decree(text, 17);
  REQUIRE(parsed.ok());
  CHECK(parsed->decree_no == 17);
  CHECK(parsed->priests == next.priests);
  CHECK_FALSE(parse_membership_decree("{\"priests\": 3}", 1).ok());
  CHECK_FALSE(parse_membership_decree("not json", 1).ok());

  auto j = membership_to_json(next);
  auto m = parse_membership(j, "m");
  REQUIRE(m.ok());
  CHECK(*m == next);
  CHECK_FALSE(parse_membership(nlohmann::json::parse(R"({"priests":[]})"), "m").ok());
}

TEST_CASE("incarnations are 16 hex digits, never zero", "[membership]") {
  CHECK(incarnation_text(0xfedcba9876543210ull) == "fedcba9876543210");
  CHECK(incarnation_text(1) == "0000000000000001");
  CHECK(parse_incarnation("fedcba9876543210") == 0xfedcba9876543210ull);
  CHECK_FALSE(parse_incarnation("0000000000000000"));
  CHECK_FALSE(parse_incarnation("FEDCBA9876543210"));
  CHECK_FALSE(parse_incarnation("fedcba987654321"));
  CHECK_FALSE(parse_incarnation("fedcba98765432100"));
}

// Found by fuzz_frames: an "op" that is not a string threw out of parse_change, and so out
// of the priest's event loop (a god's change, or a forwarded one): the priest died.
TEST_CASE("a change whose fields have the wrong types is refused, not thrown", "[membership]") {
  for (const char* text : {R"({"op":5,"id":1})", R"({"op":null,"id":1})", R"({"op":"remove","id":"1"})",
                           R"({"op":"remove","id":1,"force":"yes"})", R"({"op":"add","id":1,"priest":7})"}) {
    INFO(text);
    Result<Change> c = Change{};
    CHECK_NOTHROW(c = parse_change(nlohmann::json::parse(text)));
    CHECK_FALSE(c);
  }
  // Found by an attack review: a revoke without a client read past the object's end to word
  // its error (AddressSanitizer: a heap over-read).
  for (const char* text : {R"({"op":"revoke"})", R"({"op":"revoke","client":5})"}) {
    INFO(text);
    auto c = parse_change(nlohmann::json::parse(text));
    REQUIRE_FALSE(c);
    CHECK(c.error().find("change.client") == 0);
  }
}

TEST_CASE("membership: a revocation is a membership change that keeps the priests", "[membership]") {
  Change revoke;
  revoke.op = Change::Op::Revoke;
  revoke.client = "carol";
  auto next = apply_change(three(), revoke);
  REQUIRE(next.ok());
  CHECK(next->priests == three().priests);
  CHECK(next->is_revoked("carol"));
  CHECK_FALSE(next->is_revoked("dave"));
  CHECK(already_applied(*next, revoke));
  CHECK_FALSE(apply_change(*next, revoke).ok());  // once
  CHECK(describe(revoke) == "revoke client carol");
  auto back = parse_change(change_to_json(revoke));
  REQUIRE(back.ok());
  CHECK(*back == revoke);
  // Through the decree's text and membership.json, sorted.
  Change also = revoke;
  also.client = "bob";
  auto two = apply_change(*next, also);
  REQUIRE(two.ok());
  CHECK(two->revoked == std::vector<std::string>{"bob", "carol"});
  auto decree = parse_membership_decree(membership_decree_text(*two, also), 9);
  REQUIRE(decree.ok());
  CHECK(decree->revoked == two->revoked);
  auto json_back = parse_membership(membership_to_json(*two), "m");
  REQUIRE(json_back.ok());
  CHECK(json_back->revoked == two->revoked);
  // A membership without revocations writes no "revoked" (files of older versions read alike).
  CHECK_FALSE(membership_to_json(three()).contains("revoked"));
  // Unsorted, repeated or bad names are refused.
  auto j = membership_to_json(*two);
  j["revoked"] = {"carol", "bob"};
  CHECK_FALSE(parse_membership(j, "m").ok());
  j["revoked"] = {"bob", "bob"};
  CHECK_FALSE(parse_membership(j, "m").ok());
  CHECK_FALSE(parse_change(nlohmann::json{{"op", "revoke"}, {"client", "Bad Name"}}).ok());
}

TEST_CASE("membership: remove and replace retire the old life, its incarnation and its key", "[membership][trust]") {
  const std::string k1(64, '1'), k2(64, '2'), k3(64, '3');
  Membership m = three();
  m.priests[2].key = k1;  // priest 3, incarnation 0x33
  CHECK(m.key_refusal(3, 0x33, k1).empty());
  CHECK(m.key_refusal(3, 0x33, "").empty());                 // plaintext: nothing to compare
  CHECK_FALSE(m.key_refusal(3, 0x33, k2).empty());           // the life named, another key
  CHECK(m.key_refusal(3, 0x34, k2).empty());                 // perhaps a life not learned yet
  CHECK(m.key_refusal(2, 0x22, k2).empty());                 // no key recorded for priest 2

  Change r = change(Change::Op::Replace, 3, 0x34);
  r.priest.key = k2;
  auto replaced = apply_change(m, r);
  REQUIRE(replaced.ok());
  REQUIRE(replaced->retired.size() == 1);
  CHECK(replaced->retired_life(3, 0x33));
  CHECK_FALSE(replaced->retired_life(3, 0x34));
  CHECK(replaced->key_refusal(3, 0x34, k2).empty());
  CHECK(replaced->key_refusal(3, 0x33, k1).find("retired") != std::string::npos);
  CHECK(replaced->key_refusal(3, 0x99, k1).find("retired") != std::string::npos);  // any life
  CHECK(replaced->key_refusal(1, 0x11, k1).find("retired") != std::string::npos);  // any id

  // The retired key never comes back, by add or by replace.
  Change again = change(Change::Op::Replace, 3, 0x35);
  again.priest.key = k1;
  CHECK(apply_change(*replaced, again).error().find("new-key") != std::string::npos);
  auto removed = apply_change(*replaced, change(Change::Op::Remove, 3, 0, true));
  REQUIRE(removed.ok());
  CHECK(removed->retired.size() == 2);
  CHECK(removed->retired_life(3, 0x34));
  Change back = change(Change::Op::Add, 3, 0x36);
  back.priest.key = k2;
  CHECK_FALSE(apply_change(*removed, back).ok());
  back.priest.key = k3;
  CHECK(apply_change(*removed, back).ok());

  // Both JSON forms keep them: membership.json and the membership decree's text.
  auto j = parse_membership(membership_to_json(*removed), "m");
  REQUIRE(j.ok());
  CHECK(*j == *removed);
  auto d = parse_membership_decree(membership_decree_text(*removed, back), removed->decree_no);
  REQUIRE(d.ok());
  CHECK(d->retired == removed->retired);
  CHECK(d->priests == removed->priests);
  auto bad = membership_to_json(*removed);
  bad["retired"][0]["key"] = "XYZ";
  CHECK_FALSE(parse_membership(bad, "m").ok());
  bad["priests"][0]["key"] = 7;
  CHECK(parse_membership(bad, "m").error().find("key") != std::string::npos);
}

TEST_CASE("membership: a replace that keeps the key retires the incarnation only", "[membership][trust]") {
  const std::string k1(64, 'a');
  Membership m = three();
  m.priests[2].key = k1;
  Change r = change(Change::Op::Replace, 3, 0x34);
  r.priest.key = k1;  // paxos-god replace --keep-key
  auto next = apply_change(m, r);
  REQUIRE(next.ok());
  CHECK(next->retired_life(3, 0x33));
  CHECK(next->key_refusal(3, 0x34, k1).empty());  // the new life speaks with the kept key
  CHECK(next->retired.back().key.empty());         // (the core refuses the old incarnation: Priest::admits)
}

TEST_CASE("membership: a retired life is never added or made a voter again", "[membership][trust]") {
  auto removed = apply_change(three(), change(Change::Op::Remove, 3, 0, true));
  REQUIRE(removed.ok());
  auto again = apply_change(*removed, change(Change::Op::Add, 3, 0x33));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().find("retired") != std::string::npos);
  CHECK(apply_change(*removed, change(Change::Op::Add, 3, 0x34)).ok());  // a new data directory
  auto replaced = apply_change(three(), change(Change::Op::Replace, 2, 0x23));
  REQUIRE(replaced.ok());
  CHECK_FALSE(apply_change(*replaced, change(Change::Op::Replace, 2, 0x22)).ok());
}

TEST_CASE("membership: a change whose decree would be over the limit is refused, not passed", "[membership][trust]") {
  Membership m = three();
  const std::string pad(56, 'a');
  for (int i = 0; m.revoked.size() * 66 < kMaxMembershipBytes; ++i) {
    char n[16];
    std::snprintf(n, sizeof n, "%08d", i);
    m.revoked.push_back(pad + n);  // sorted: the same prefix, rising numbers
  }
  Change revoke;
  revoke.op = Change::Op::Revoke;
  revoke.client = "zed";
  auto next = apply_change(m, revoke);
  REQUIRE_FALSE(next.ok());
  CHECK(next.error().find("over the limit") != std::string::npos);
  m.revoked.resize(10);
  CHECK(apply_change(m, revoke).ok());
}
