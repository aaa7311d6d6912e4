// Ballot numbers (B1) and quorums (B2): text form, ordering, majority sizes.
#include <catch2/catch.hpp>

#include "proto/ballot.hpp"

using namespace parliament;

TEST_CASE("ballot to_string and parse_ballot round trip", "[ballot]") {
  for (Ballot b : {Ballot{0, 0}, Ballot{1, 1}, Ballot{12, 3}, Ballot{UINT64_MAX, UINT32_MAX}}) {
    auto text = to_string(b);
    auto back = parse_ballot(text);
    REQUIRE(back);
    CHECK(*back == b);
  }
  CHECK(to_string(Ballot{12, 3}) == "12.3");
  CHECK(to_string(Ballot{}) == "0.0");
}

TEST_CASE("parse_ballot rejects malformed text", "[ballot]") {
  for (const char* bad : {"", "1", "1.", ".1", ".", "a.b", "1.b", "a.1", "1.2.3", "-1.2", "1.-2",
                          " 1.2", "1.2 ", "+1.2", "1..2", "18446744073709551616.1",
                          "1.4294967296", "99999999999999999999999.1"}) {
    INFO("input: \"" << bad << "\"");
    CHECK_FALSE(parse_ballot(bad));
  }
}

TEST_CASE("ballots order by round, then by priest", "[ballot]") {
  CHECK(Ballot{1, 5} < Ballot{2, 1});
  CHECK(Ballot{2, 1} < Ballot{2, 2});
  CHECK(Ballot{0, 0} < Ballot{0, 1});
  CHECK_FALSE(Ballot{3, 3} < Ballot{3, 3});
  CHECK(Ballot{3, 3} == Ballot{3, 3});
  CHECK(Ballot{}.is_zero());
  CHECK_FALSE(Ballot{0, 1}.is_zero());
}

TEST_CASE("quorum_size is a majority", "[ballot]") {
  const size_t expected[] = {0, 1, 2, 2, 3, 3, 4, 4};
  for (size_t n = 1; n <= 7; ++n) {
    INFO("members " << n);
    CHECK(quorum_size(n) == expected[n]);
    CHECK(2 * quorum_size(n) > n);  // B2: two quorums always share a priest
  }
}
