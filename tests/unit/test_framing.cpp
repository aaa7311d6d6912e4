// Framing: 4-byte big-endian length + JSON object; the decoder fed in every way.
#include <catch2/catch.hpp>

#include "proto/client_call.hpp"
#include "proto/framing.hpp"

using namespace parliament;
using nlohmann::json;

namespace {

std::string header(uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
          static_cast<char>(n)};
}

}  // namespace

TEST_CASE("a frame round trips", "[framing]") {
  json j = {{"type", "paxos"}, {"text", "a,b \"c\"\nd é"}};
  std::string wire = frame(j);
  REQUIRE(wire.size() > 4);
  CHECK(wire.substr(0, 4) == header(static_cast<uint32_t>(wire.size() - 4)));
  FrameDecoder d;
  REQUIRE(d.feed(wire));
  auto payload = d.next();
  REQUIRE(payload);
  auto back = parse_object(*payload);
  REQUIRE(back);
  CHECK(*back == j);
  CHECK_FALSE(d.next());
  CHECK(d.pending_bytes() == 0);
}

TEST_CASE("a frame fed one byte at a time", "[framing]") {
  std::string wire = frame(json{{"n", 1}}) + frame(json{{"n", 2}});
  FrameDecoder d;
  std::vector<std::string> got;
  for (char c : wire) {
    REQUIRE(d.feed(std::string_view(&c, 1)));
    while (auto p = d.next()) got.push_back(*p);
  }
  REQUIRE(got.size() == 2);
  CHECK(parse_object(got[0])->at("n") == 1);
  CHECK(parse_object(got[1])->at("n") == 2);
  CHECK(d.pending_bytes() == 0);
}

TEST_CASE("several frames in one feed, and a half frame kept for later", "[framing]") {
  std::string wire;
  for (int i = 0; i < 5; ++i) wire += frame(json{{"i", i}});
  std::string next = frame(json{{"i", 5}});
  wire += next.substr(0, 7);
  FrameDecoder d;
  REQUIRE(d.feed(wire));
  for (int i = 0; i < 5; ++i) {
    auto p = d.next();
    REQUIRE(p);
    CHECK(parse_object(*p)->at("i") == i);
  }
  CHECK_FALSE(d.next());
  CHECK(d.pending_bytes() == 7);
  REQUIRE(d.feed(std::string_view(next).substr(7)));
  auto p = d.next();
  REQUIRE(p);
  CHECK(parse_object(*p)->at("i") == 5);
}

TEST_CASE("absurd lengths fail at the header, before any body", "[framing]") {
  const size_t limit = 1000;
  for (uint32_t n : {0u, uint32_t(limit + 1), 0xFFFFFFFFu}) {
    INFO("length " << n);
    FrameDecoder d(limit);
    std::string h = header(n);
    REQUIRE(d.feed(h.substr(0, 3)));  // not yet a full header: nothing to judge
    CHECK_FALSE(d.failed());
    CHECK_FALSE(d.feed(h.substr(3)));
    CHECK(d.failed());
    CHECK_FALSE(d.error().empty());
    CHECK_FALSE(d.next());
    CHECK_FALSE(d.feed("{}"));  // stays failed
  }
  FrameDecoder dflt;
  CHECK_FALSE(dflt.feed(header(0xFFFFFFFFu)));
}

TEST_CASE("an absurd header after a good frame fails once the good frame is taken",
          "[framing]") {
  FrameDecoder d(1000);
  std::string wire = frame(json{{"ok", true}}) + header(5000);
  d.feed(wire);
  auto p = d.next();
  REQUIRE(p);
  CHECK(parse_object(*p)->at("ok") == true);
  CHECK(d.failed());
  CHECK_FALSE(d.next());
}

TEST_CASE("a frame of exactly the limit is accepted", "[framing]") {
  const size_t limit = 64;
  std::string body = "{\"k\":\"" + std::string(limit - 8, 'x') + "\"}";
  REQUIRE(body.size() == limit);
  std::string wire;
  append_frame(wire, body);
  FrameDecoder d(limit);
  REQUIRE(d.feed(wire));
  auto p = d.next();
  REQUIRE(p);
  CHECK(*p == body);
}

TEST_CASE("parse_object accepts only JSON objects", "[framing]") {
  CHECK(parse_object("{\"a\":1}"));
  CHECK(parse_object("{}"));
  for (const char* bad : {"", "not json", "{\"a\":", "[1,2]", "42", "\"s\"", "null", "true",
                          "{} trailing"}) {
    INFO("payload: " << bad);
    CHECK_FALSE(parse_object(bad));
  }
}

// The client port's fast path takes exactly the two requests it names and leaves everything
// else to the general reading (which says what is wrong): it must never accept a frame the
// general one would refuse, nor read one differently.
TEST_CASE("parse_client_call takes exact propose and read frames, and nothing else",
          "[framing]") {
  auto p = parse_client_call(R"({"type":"propose","client":7,"request":9,"decree":"a \"b\" é"})");
  REQUIRE(p);
  CHECK(p->type == ClientCall::Type::Propose);
  CHECK(p->client == 7);
  CHECK(p->request == 9);
  CHECK(p->decree == "a \"b\" é");
  auto order = parse_client_call(R"({"decree":"x","request":2,"client":1,"type":"propose"})");
  REQUIRE(order);
  CHECK(order->decree == "x");
  auto r = parse_client_call(R"({"type":"read","from":5,"max":1})");
  REQUIRE(r);
  CHECK(r->type == ClientCall::Type::Read);
  CHECK(r->from == std::optional<uint64_t>(5));
  CHECK(r->max == std::optional<uint64_t>(1));
  auto bare = parse_client_call(R"({"type":"read"})");
  REQUIRE(bare);
  CHECK_FALSE(bare->from);
  CHECK_FALSE(bare->max);

  for (const char* other : {
           R"({"type":"propose","client":0,"request":9,"decree":"x"})",       // client 0
           R"({"type":"propose","client":7,"request":0,"decree":"x"})",       // request 0
           R"({"type":"propose","client":-7,"request":9,"decree":"x"})",      // negative
           R"({"type":"propose","client":7.5,"request":9,"decree":"x"})",     // not whole
           R"({"type":"propose","client":"7","request":9,"decree":"x"})",     // a string
           R"({"type":"propose","client":7,"request":9,"decree":5})",         // not text
           R"({"type":"propose","client":7,"request":9})",                    // no decree
           R"({"type":"propose","client":7,"request":9,"decree":"x","x":1})", // another key
           R"({"type":"propose","client":7,"client":8,"request":9,"decree":"x"})",  // twice
           R"({"type":"propose","client":7,"request":9,"decree":{"text":"x"}})",    // nested
           R"({"type":"read","from":[1]})",
           R"({"type":"read","from":1,"decree":"x"})",
           R"({"type":"read","max":null})",
           R"({"type":"status"})",
           R"({"type":"ledger","from":1})",
           R"({"type":"propose","client":7,"request":9,"decree":"x"}x)",
           R"({"type":"propose","client":7,"request":9,"decree":"x")",
           "{\"type\":\"propose\",\"client\":7,\"request\":9,\"decree\":\"\xff\"}",  // not UTF-8
           R"([{"type":"read"}])",
           "",
       }) {
    INFO(other);
    CHECK_FALSE(parse_client_call(other));
  }
  CHECK(parse_client_call("{\"type\":\"read\"} \n"));  // white space after it is JSON too
}

// Found by an attack review: a frame of four MiB of "[" was parsed into a tree of four
// million arrays, about 300 MiB a priest kept, and a second of its thread.
TEST_CASE("a payload nested deeper than kMaxNesting is refused unparsed", "[framing]") {
  auto nested = [](size_t depth) {
    return R"({"type":"status","x":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  CHECK(parse_object(nested(kMaxNesting - 1)));  // (the object itself is one level)
  CHECK_FALSE(parse_object(nested(kMaxNesting)));
  CHECK_FALSE(parse_object(R"({"x":)" + std::string(4 << 20, '[')));
  // Brackets inside strings, escaped quotes among them, are not nesting.
  std::string text = R"({"type":"propose","value":")" + std::string(100, '[') + R"(\"{{{{"})";
  auto j = parse_object(text);
  REQUIRE(j);
  CHECK((*j)["value"].get<std::string>().size() == 105);
}
