// quick_sax_parse (proto/quick_json.hpp) against nlohmann's own sax_parse: wherever the quick
// reading is sure, it must give the handler the same events, in the same order, and the same
// result, including where a handler stops it part-way.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "proto/quick_json.hpp"
#include "tests/common/sax_recorder.hpp"

using namespace parliament;

namespace {

using Recorder = testing::SaxRecorder;

// Compares the two readings of `text`: to the end, and stopped at each event in turn.
// Returns how many of those the quick reading was sure of.
size_t same_reading(const std::string& text) {
  size_t sure = 0;
  for (size_t stop_at = 0; stop_at < 64; ++stop_at) {
    Recorder quick, slow;
    quick.stop_at = slow.stop_at = stop_at;
    QuickJson q = quick_sax_parse(text, quick);
    bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &slow);
    if (q != QuickJson::Unsure) {
      ++sure;
      INFO("text: " << text << " (stopping at event " << stop_at << ")");
      REQUIRE((q == QuickJson::Done) == ok);
      REQUIRE(quick.events == slow.events);
    }
    if (stop_at > slow.events.size()) break;
  }
  return sure;
}

const char* const kSeeds[] = {
    R"({"type":"propose","client":7,"request":9,"decree":"wine for everyone"})",
    R"({"type":"read","from":5,"max":1})",
    "{\"type\":\"propose\",\"client\":7,\"request\":9,\"decree\":\"caf\xc3\xa9 \xe2\x82\xac "
    "\xf0\x9f\x8d\xb7\"}",
    R"( { "a" : [ 1 , 2 , [ ] , { } , true , false , null , "x" ] , "b" : { "c" : 0 } } )",
    R"({"type":"paxos","dir":"to_priest","code":2,"from":1,"to":3,"ballot":"4.1","decree_no":12,)"
    R"("passed_len":11,"commit_no":11,"decrees":[{"decree_no":12,"ballot":"4.1","decree":)"
    R"({"text":"t","client":3,"request":4,"origin":"4.1"}}]})",
    R"([18446744073709551615,18446744073709551616,0,10,-1,1.5,2e3,01])",
    R"("just a string")",
    R"({"a":"\"escaped\"","b":"\u00e9"})",
    R"({"decree":"line\nnext \"quoted\" back\\slash\ttab \/ \b\f\r","x":"\\"})",
};

}  // namespace

TEST_CASE("quick JSON: the frames clients and priests send are read quickly", "[quick_json]") {
  for (const char* seed :
       {kSeeds[0], kSeeds[1], kSeeds[2], kSeeds[3], kSeeds[4], kSeeds[6], kSeeds[8]}) {
    Recorder r;
    INFO(seed);
    CHECK(quick_sax_parse(seed, r) == QuickJson::Done);
    CHECK(same_reading(seed));
  }
}

// A string of escapes alone (a client may send 4 MiB of them in one frame) reads as the text
// it stands for, with the escaped quotes that move the search for the closing quote. (That
// it takes one pass, where it once took its length squared, is not asserted here: no test
// here times the code.)
TEST_CASE("quick JSON: a long string of escapes reads as its text", "[quick_json]") {
  std::string escaped, text;
  for (int i = 0; i < 100000; ++i) {
    escaped += i % 3 ? "\\n" : "\\\"";
    text += i % 3 ? '\n' : '"';
  }
  Recorder r;
  REQUIRE(quick_sax_parse("[\"" + escaped + "\"]", r) == QuickJson::Done);
  REQUIRE(r.events.size() == 3);
  CHECK(r.events[1] == "s:" + text);
}

TEST_CASE("quick JSON: outside its subset it is unsure, never wrong", "[quick_json]") {
  for (const char* text : {
           R"({"a":"\u00e9"})",  // a \u escape
           R"({"a":-1})",        // a negative number
           R"({"a":1.5})",
           R"({"a":1e3})",                   // fraction, exponent
           R"({"a":01})",                    // a leading zero
           R"({"a":18446744073709551616})",  // over 64 bits
           "{\"a\":\"\x01\"}",               // a control byte
           "{\"a\":\"\xc3\"}",               // not UTF-8
           "\xef\xbb\xbf{}",                 // a byte-order mark
           R"({"a":1} x)",                   // something after the value
           R"({"a":1)",                      // cut short
           "",
       }) {
    Recorder r;
    INFO(text);
    CHECK(quick_sax_parse(text, r) == QuickJson::Unsure);
  }
  std::string deep(65, '[');
  deep += std::string(65, ']');
  Recorder r;
  CHECK(quick_sax_parse(deep, r) == QuickJson::Unsure);
  CHECK(same_reading(std::string(64, '[') + std::string(64, ']')));
}

// Random damage to the seeds (a byte changed, inserted, removed or doubled; a piece cut out):
// whatever the quick reading is sure of, nlohmann's reads the same way.
TEST_CASE("quick JSON: damaged frames read as nlohmann's parser reads them", "[quick_json]") {
  std::mt19937_64 rng(20261207);
  const std::string alphabet = "{}[]\":,\\ 0123456789-.eEtrufalsn\x01\x7f\xc3\xa9\xe2\x82\xf0";
  size_t sure = 0, tried = 0;
  for (const char* seed : kSeeds) {
    for (int round = 0; round < 3000; ++round) {
      std::string t = seed;
      for (int edits = 1 + int(rng() % 3); edits > 0 && !t.empty(); --edits) {
        size_t at = rng() % t.size();
        char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 5) {
          case 0: t[at] = c; break;
          case 1: t.insert(t.begin() + long(at), c); break;
          case 2: t.erase(at, 1); break;
          case 3: t.insert(at, t.substr(at, 1 + rng() % 8)); break;
          default: t.erase(at, 1 + rng() % 8); break;
        }
      }
      ++tried;
      if (same_reading(t) > 0) ++sure;
    }
  }
  // Most damaged texts are still within the subset, or a handler stops before the damage.
  CHECK(sure > tried / 2);
}
