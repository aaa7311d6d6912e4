// Messages: encode/decode round trip for every kind, and malformed input never throws.
#include <catch2/catch.hpp>

#include "proto/message.hpp"

using namespace parliament;
using nlohmann::json;

namespace {

std::vector<Entry> nasty_entries() {
  return {Entry{7, {3, 2}, Decree{false, 11, 1, "a,b", {3, 2}}},
          Entry{8, {3, 2}, Decree{false, 11, 2, "say \"aye\"\r\nthen, \"nay\"", {1, 4}}},
          Entry{9, {2, 5}, Decree::olive({2, 5})},
          Entry{10, {3, 2}, Decree{false, 12, 1, "Παξός — olive oil ≠ wine 🫒", {3, 2}}},
          Entry{11, {3, 2}, Decree{false, 12, 2, "", {3, 2}}}};
}

Message base(Kind k) {
  Message m;
  m.kind = k;
  m.from = 3;
  m.to = 5;
  return m;
}

std::vector<Message> one_of_each_kind() {
  std::vector<Message> out;
  auto m = base(Kind::NextBallot);
  m.ballot = {12, 3};
  m.decree_no = 40;
  m.passed_len = 39;
  out.push_back(m);

  m = base(Kind::BeginBallot);
  m.ballot = {12, 3};
  m.decree_no = 7;
  m.commit_no = 6;
  m.passed_len = 6;
  m.entries = nasty_entries();
  out.push_back(m);

  m = base(Kind::Success);
  m.ballot = {12, 3};
  m.commit_no = 11;
  m.passed_len = 11;
  out.push_back(m);

  m = base(Kind::Failed);
  m.ballot = {12, 3};
  out.push_back(m);

  m = base(Kind::LastVote);
  m.ballot = {12, 3};
  m.decree_no = 7;
  m.passed_len = 2;
  m.entries = nasty_entries();
  out.push_back(m);

  m = base(Kind::Voted);
  m.ballot = {12, 3};
  m.decree_no = 7;
  m.last_no = 11;
  out.push_back(m);

  m = base(Kind::VoteNo);
  m.ballot = {12, 3};
  m.promised = {13, 4};
  out.push_back(m);

  m = base(Kind::Forward);
  m.token = 99;
  m.entries = {Entry{0, {}, Decree{false, 21, 4, "x,\"y\"\nz ü", {}}}};
  m.owner = "billing";
  out.push_back(m);
  m.owner.clear();

  m = base(Kind::Answer);
  m.token = 99;
  m.decree_no = 17;
  out.push_back(m);

  m = base(Kind::Answer);
  m.token = 100;
  m.error = "ballot 4.1 abandoned: a higher ballot";
  m.code = Code::OutcomeUnknown;
  out.push_back(m);

  m = base(Kind::Answer);
  m.token = 101;
  m.error = "no quorum: reached 2 of 5 priests";
  m.code = Code::NoQuorum;
  out.push_back(m);

  m = base(Kind::CatchUp);
  m.passed_len = 11;
  m.entries = nasty_entries();
  out.push_back(m);

  m = base(Kind::CatchUp);  // the acknowledgement: no decrees
  m.passed_len = 11;
  out.push_back(m);
  m = base(Kind::PreBallot);
  m.ballot = {13, 3};
  m.passed_len = 9;
  out.push_back(m);

  m = base(Kind::PreVote);
  m.ballot = {13, 3};
  m.promised = {12, 1};
  m.passed_len = 9;
  out.push_back(m);

  return out;
}

void check_same(const Message& a, const Message& b) {
  CHECK(a.kind == b.kind);
  CHECK(a.from == b.from);
  CHECK(a.to == b.to);
  CHECK(a.ballot == b.ballot);
  CHECK(a.decree_no == b.decree_no);
  CHECK(a.last_no == b.last_no);
  CHECK(a.commit_no == b.commit_no);
  CHECK(a.passed_len == b.passed_len);
  CHECK(a.promised == b.promised);
  CHECK(a.entries == b.entries);
  CHECK(a.token == b.token);
  CHECK(a.code == b.code);
  CHECK(a.error == b.error);
  CHECK(a.owner == b.owner);
  CHECK(a.quorum == b.quorum);
}

// A well-formed begin ballot, as JSON, to break in various ways.
json good_paxos() {
  Message m = one_of_each_kind()[1];
  return encode(m);
}

void expect_error(const json& j) {
  INFO("json: " << j.dump());
  Result<Message> r = Result<Message>::failure("not run");
  REQUIRE_NOTHROW(r = decode(j));
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.error().empty());
}

}  // namespace

TEST_CASE("every kind round trips through JSON text", "[message]") {
  for (const auto& m : one_of_each_kind()) {
    INFO("kind " << name_of(m.kind));
    std::string text = encode(m).dump();
    auto back = decode(json::parse(text));
    REQUIRE(back.ok());
    check_same(*back, m);
  }
}

TEST_CASE("codes and directions follow the wire contract", "[message]") {
  CHECK(encode(one_of_each_kind()[0])["dir"] == "to_priest");
  CHECK(encode(one_of_each_kind()[0])["code"] == 1);
  CHECK(encode(one_of_each_kind()[3])["code"] == 4);
  CHECK(encode(one_of_each_kind()[4])["dir"] == "to_president");
  CHECK(encode(one_of_each_kind()[6])["code"] == 3);
  CHECK(encode(one_of_each_kind()[1])["ballot"] == "12.3");
}

TEST_CASE("an answer's error code crosses the wire by name", "[message]") {
  // Every code has one name, and each name reads back as its code.
  for (int i = 0; i <= static_cast<int>(Code::Unknown); ++i) {
    auto c = static_cast<Code>(i);
    CHECK(code_from_name(code_name(c)) == c);
  }
  CHECK_FALSE(code_from_name("no such code").has_value());
  CHECK(retryable(Code::NoPresident));
  CHECK(retryable(Code::OutcomeUnknown));
  CHECK_FALSE(retryable(Code::Ok));
  CHECK_FALSE(retryable(Code::Revoked));
  CHECK_FALSE(retryable(Code::Invalid));
  const std::string head = R"({"type":"answer","from":2,"to":1,"token":7,"decree_no":0,)";
  // A priest before error codes says only whether the outcome is unknown.
  auto old = decode_text(head + R"("error":"ballot 3.2 abandoned","outcome_unknown":true})");
  REQUIRE(old.ok());
  CHECK(old->code == Code::OutcomeUnknown);
  old = decode_text(head + R"("error":"no quorum","outcome_unknown":false})");
  REQUIRE(old.ok());
  CHECK(old->code == Code::Unknown);
  // A later version's code this one does not know is Unknown, not an error.
  auto newer = decode_text(head + R"("error":"x","error_code":"from_the_future"})");
  REQUIRE(newer.ok());
  CHECK(newer->code == Code::Unknown);
  CHECK_FALSE(decode_text(head + R"("error":"x","error_code":3})").ok());
  // Without an error the answer passed, whatever else it says.
  auto passed = decode_text(head + R"("outcome_unknown":true})");
  REQUIRE(passed.ok());
  CHECK(passed->code == Code::Ok);
}

TEST_CASE("olive-day decrees stay olive-day", "[message]") {
  auto m = base(Kind::Forward);
  m.token = 9;
  m.entries.push_back(Entry{0, {}, Decree::olive({6, 2})});
  auto back = decode_text(encode_text(m));
  REQUIRE(back.ok());
  CHECK(back->entries.at(0).decree == Decree::olive({6, 2}));
  CHECK(back->entries.at(0).decree.text.empty());
}

TEST_CASE("the text codec reads keys in any order and skips unknown ones", "[message]") {
  auto back = decode_text(
      R"({"passed_len":4,"extra":{"a":[1,{"b":2}]},"decree_no":5,"ballot":"2.1","to":2,"from":1,)"
      R"("code":2,"dir":"to_president","last_no":6,"type":"paxos"})");
  REQUIRE(back.ok());
  CHECK(back->kind == Kind::Voted);
  CHECK(back->decree_no == 5);
  CHECK(back->last_no == 6);
  CHECK(back->passed_len == 4);
  for (std::string bad : {"", "[]", "3", "{", R"({"type":"paxos"} x)", R"({"type":"paxos","decrees":[{"decree_no":1}]})"})
    CHECK_FALSE(decode_text(bad).ok());
}

TEST_CASE("unknown type, dir and code are errors", "[message]") {
  json j = good_paxos();
  j["type"] = "gossip";
  expect_error(j);
  j = good_paxos();
  j["dir"] = "sideways";
  expect_error(j);
  for (int code : {0, 6, 100}) {
    j = good_paxos();
    j["dir"] = "to_priest";
    j["code"] = code;
    expect_error(j);
  }
  for (int code : {0, 5, 100}) {
    j = good_paxos();
    j["dir"] = "to_president";
    j["code"] = code;
    expect_error(j);
  }
}

TEST_CASE("bad ballot strings are errors", "[message]") {
  for (const char* b : {"", "12", "12.", ".3", "a.b", "1.2.3", "-1.2", "99999999999999999999.1"}) {
    json j = good_paxos();
    j["ballot"] = b;
    expect_error(j);
    j = good_paxos();
    j["decrees"][0]["ballot"] = b;
    expect_error(j);
    j = good_paxos();
    j["decrees"][0]["decree"]["origin"] = b;
    expect_error(j);
  }
  json j = encode(one_of_each_kind()[6]);  // vote no
  j["promised"] = "x";
  expect_error(j);
}

TEST_CASE("missing required fields are errors", "[message]") {
  for (const char* field : {"type", "dir", "code", "from", "to", "ballot", "decree_no",
                            "passed_len"}) {
    json j = good_paxos();
    j.erase(field);
    expect_error(j);
  }
  json voted = encode(one_of_each_kind()[5]);
  voted.erase("last_no");
  expect_error(voted);
  json no = encode(one_of_each_kind()[6]);
  no.erase("promised");
  expect_error(no);
  json fwd = encode(one_of_each_kind()[7]);
  fwd.erase("decree");
  expect_error(fwd);
  fwd = encode(one_of_each_kind()[7]);
  fwd.erase("token");
  expect_error(fwd);
  json ans = encode(one_of_each_kind()[8]);
  ans.erase("decree_no");
  expect_error(ans);
  for (const char* field : {"decree_no", "ballot", "decree"}) {
    json j = good_paxos();
    j["decrees"][1].erase(field);
    expect_error(j);
  }
  for (const char* field : {"text", "client", "request", "origin"}) {
    json j = good_paxos();
    j["decrees"][0]["decree"].erase(field);
    expect_error(j);
  }
}

TEST_CASE("wrong types and negative numbers are errors", "[message]") {
  const std::vector<json> wrong = {json("7"), json(-1), json(1.5), json::array(), json::object(),
                                   json(nullptr), json(true)};
  for (const char* field : {"code", "from", "to", "decree_no", "passed_len", "commit_no"}) {
    for (const auto& w : wrong) {
      json j = good_paxos();
      j[field] = w;
      expect_error(j);
    }
  }
  for (const auto& w : wrong) {
    if (w.is_string()) continue;
    json j = good_paxos();
    j["ballot"] = w;
    expect_error(j);
    j = good_paxos();
    j["type"] = w;
    expect_error(j);
  }
  json j = good_paxos();
  j["decrees"] = "not an array";
  expect_error(j);
  j = good_paxos();
  j["decrees"][0] = 5;
  expect_error(j);
  j = good_paxos();
  j["decrees"][0]["decree"]["client"] = -3;
  expect_error(j);
  j = good_paxos();
  j["decrees"][0]["decree"]["text"] = 12;
  expect_error(j);
  j = good_paxos();
  j["decrees"][0]["decree"]["olive_day"] = "yes";
  expect_error(j);
  j = good_paxos();
  j["decrees"][0]["decree_no"] = -7;
  expect_error(j);
  j = good_paxos();
  j["from"] = uint64_t(1) << 40;  // not a priest id
  expect_error(j);
  j = good_paxos();
  j["quorum"] = 0;  // a boolean
  expect_error(j);
  expect_error(json::array({1, 2}));
  expect_error(json("paxos"));
}

TEST_CASE("catch-up is a frame of its own, not a successful ballot", "[message]") {
  Message m = base(Kind::CatchUp);
  m.passed_len = 9;
  m.entries = {Entry{9, {2, 5}, Decree::olive({2, 5})}};
  auto j = json::parse(encode_text(m));
  CHECK(j["type"] == "catch_up");
  CHECK_FALSE(j.contains("code"));
  CHECK_FALSE(j.contains("ballot"));
  CHECK_FALSE(decode_text(R"({"type":"catch_up","from":1,"to":2})"));  // passed_len is required
  auto ok = decode_text(R"({"type":"catch_up","from":1,"to":2,"passed_len":0})");
  REQUIRE(ok);
  CHECK(ok->kind == Kind::CatchUp);
  CHECK(ok->entries.empty());
}

// The binary form (proto/message_binary.cpp) of begin ballot, successful ballot and vote yes:
// it gives the very Message the JSON form of the same message gives, read rounds, olive-day
// and membership decrees and large numbers included.
TEST_CASE("binary frames decode to what their JSON form decodes to", "[message]") {
  std::vector<Message> hot;
  for (const auto& m : one_of_each_kind())
    if (has_binary_form(m.kind)) hot.push_back(m);
  REQUIRE(hot.size() == 3);
  Message big = hot[0];
  big.from = UINT32_MAX;
  big.ballot = {UINT64_MAX, UINT32_MAX};
  big.passed_len = UINT64_MAX;
  big.entries.push_back(Entry{UINT64_MAX, {1, 2}, Decree{false, UINT64_MAX, UINT64_MAX, "z", {1, 2}}});
  Decree membership{false, 0, 0, "{\"priests\":[]}", {4, 1}};
  membership.membership = true;
  big.entries.push_back(Entry{12, {4, 1}, membership});
  hot.push_back(big);
  Message read = hot[1];  // a successful ballot asking for a read's round
  read.token = 77;
  hot.push_back(read);
  Message ack = hot[2];  // a vote yes acknowledging it
  ack.token = 77;
  hot.push_back(ack);
  Message told = hot[0];  // a begin ballot to a priest outside the ballot's quorum
  told.quorum = false;
  hot.push_back(told);
  for (const auto& m : hot) {
    INFO(name_of(m.kind) << " " << encode_text(m));
    auto b = decode_frame(encode_binary(m));
    REQUIRE(b.ok());
    auto t = decode_frame(encode_text(m));
    REQUIRE(t.ok());
    check_same(*b, *t);
    check_same(*b, m);
  }
}

// Fields a kind does not carry come out zero, whatever a crafted frame put there: a successful
// ballot with a read's round and a commit, relabelled begin ballot and then vote yes. A begin
// ballot's token slot says only whether the receiver is outside the ballot's quorum (0 or 1).
TEST_CASE("binary frames carry only what their kind carries", "[message]") {
  Message s = one_of_each_kind()[2];
  REQUIRE(s.kind == Kind::Success);
  s.token = 1;
  REQUIRE(s.commit_no != 0);
  std::string as_begin = encode_binary(s), as_vote = encode_binary(s);
  as_begin[2] = 2;
  as_vote[2] = static_cast<char>(0x82);
  auto b = decode_binary(as_begin);
  REQUIRE(b.ok());
  CHECK(b->kind == Kind::BeginBallot);
  CHECK(b->token == 0);
  CHECK_FALSE(b->quorum);
  CHECK(b->commit_no == s.commit_no);
  s.token = 9;
  as_begin = encode_binary(s);
  as_begin[2] = 2;
  CHECK_FALSE(decode_binary(as_begin).ok());
  s.token = 9;
  as_vote = encode_binary(s);
  as_vote[2] = static_cast<char>(0x82);
  auto v = decode_binary(as_vote);
  REQUIRE(v.ok());
  CHECK(v->kind == Kind::Voted);
  CHECK(v->commit_no == 0);
  CHECK(v->token == 9);
}

// Every prefix of a binary frame, and frames with a byte changed, are refused or decoded
// without throwing; lengths and counts beyond the frame are refused.
TEST_CASE("malformed binary frames are errors, never crashes", "[message]") {
  const std::string good = encode_binary(one_of_each_kind()[1]);
  REQUIRE(decode_binary(good).ok());
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("the first " << n << " bytes");
    Result<Message> r = Result<Message>::failure("not run");
    REQUIRE_NOTHROW(r = decode_binary(good.substr(0, n)));
    CHECK_FALSE(r.ok());
  }
  CHECK_FALSE(decode_binary(good + "x").ok());  // bytes after the last decree
  std::string layout = good;
  layout[1] = 9;
  CHECK_THAT(decode_binary(layout).error(), Catch::Contains("layout"));
  std::string kind = good;
  kind[2] = 1;  // next ballot has no binary form
  CHECK_THAT(decode_binary(kind).error(), Catch::Contains("kind"));
  for (size_t i = 0; i < good.size(); ++i)
    for (uint8_t v : {uint8_t(0), uint8_t(0x7F), uint8_t(0xFF)}) {
      std::string bad = good;
      bad[i] = static_cast<char>(v);
      REQUIRE_NOTHROW(decode_frame(bad));
    }
  // Ten varint bytes that say more than 64 bits, and a count of decrees no frame could hold.
  Message m = one_of_each_kind()[2];
  std::string huge = encode_binary(m);
  huge.replace(kBinaryToOffset + 4, 1, std::string(9, '\xFF') + "\x7F");
  CHECK_FALSE(decode_binary(huge).ok());
  // A text that is not UTF-8 (which the JSON form's parser refuses too): a stray
  // continuation byte, an overlong form, a surrogate, a code point above U+10FFFF.
  // (0xA0 in "Bread is\xA0free" is what the fuzzer first found.)
  for (std::string bad : {std::string("Bread is\xA0" "free"), std::string("\xC0\xAF"),
                          std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"),
                          std::string("cut \xE2\x82")}) {
    Message b = one_of_each_kind()[1];
    b.entries[0].decree.text = bad;
    INFO("text: " << bad);
    CHECK_THAT(decode_binary(encode_binary(b)).error(), Catch::Contains("UTF-8"));
    CHECK_FALSE(decode_text(encode_text(b)).ok());  // the JSON form refuses it as well
  }
  Message utf8 = one_of_each_kind()[1];
  utf8.entries[0].decree.text = "\xE2\x82\xAC \xF0\x9F\xAB\x92 \xED\x9F\xBF \xF4\x8F\xBF\xBF";
  CHECK(decode_binary(encode_binary(utf8)).ok());
  std::string many = encode_binary(m);
  many.pop_back();  // the count (0): now 2^35 decrees
  many += std::string("\x80\x80\x80\x80\x01", 5);
  CHECK_FALSE(decode_binary(many).ok());
}
