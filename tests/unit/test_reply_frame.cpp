// The client port's "passed" answer is written by hand (server/host.hpp, reply_frame): it
// must be byte for byte what the JSON library wrote before it, so that no key drifts between
// the two forms; a refusal still goes through the library.
#include <catch2/catch.hpp>

#include "server/host.hpp"

using namespace parliament;
using parliament::host_detail::reply_frame;
using nlohmann::json;

TEST_CASE("a passed reply written by hand is what the JSON library writes", "[reply]") {
  for (uint64_t ledger_client : {uint64_t(0), uint64_t(1), UINT64_MAX})
    for (uint64_t n : {uint64_t(1), uint64_t(123456789), UINT64_MAX}) {
      json j{{"type", "reply"}, {"client", 7}, {"request", UINT64_MAX - 1}, {"ok", true},
             {"decree_no", n}};
      if (ledger_client) j["ledger_client"] = ledger_client;
      INFO("ledger_client " << ledger_client << ", decree " << n);
      CHECK(reply_frame(7, UINT64_MAX - 1, ClientReply{0, n, Code::Ok, ""}, ledger_client) ==
            frame(j));
    }
  // A refusal keeps its code and words.
  auto refused = reply_frame(7, 9, ClientReply{0, 0, Code::Overloaded, "full"}, 5);
  auto j = parse_object(std::string_view(refused).substr(4));
  REQUIRE(j);
  CHECK((*j)["ok"] == false);
  CHECK((*j)["error_code"] == "overloaded");
  CHECK((*j)["error"] == "full");
}
