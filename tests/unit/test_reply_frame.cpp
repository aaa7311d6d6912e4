// The client port's "passed" answer and a read's answer are written by hand (server/host.hpp,
// reply_frame and read_answer_frame): each must be byte for byte what the JSON library writes
// for the same object, so that no key drifts between the two forms; a refusal still goes
// through the library.
#include <catch2/catch.hpp>

#include "server/host.hpp"

using namespace parliament;
using parliament::host_detail::read_answer_frame;
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

TEST_CASE("a read's answer written by hand is what the JSON library writes", "[reply]") {
  const Ballot b{3, 2};
  std::vector<Entry> decrees{
      {7, b, Decree{false, 4, 9, "plain", b, false}},
      {8, b, Decree{false, 4, 10, "a \"quoted\", comma\nand a line", b, false}},
      {9, b, Decree{false, 5, 1, std::string("not UTF-8: \xff\xfe"), Ballot{1, 1}, false}},
      {10, b, Decree::olive(b)},
      {11, b, Decree{false, 0, 0, R"({"priests":[]})", b, true}},
  };
  for (size_t n : {size_t(0), size_t(1), decrees.size()})
    for (uint64_t upto : {uint64_t(0), uint64_t(11), UINT64_MAX}) {
      std::vector<Entry> page(decrees.begin(), decrees.begin() + static_cast<long>(n));
      json list = json::array();
      for (const auto& e : page) list.push_back(entry_to_json(e));
      json j{{"type", "read"}, {"ok", true}, {"upto", upto}, {"decrees", list}};
      INFO(n << " decrees, upto " << upto);
      CHECK(read_answer_frame(page, upto) == frame(j));
    }
}
