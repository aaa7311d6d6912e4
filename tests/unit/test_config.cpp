// Configuration: the repository's config/local.json, and broken files that name file+field.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "proto/config.hpp"

using namespace parliament;

namespace {

const char* kFile = "parliament.json";

std::string with_priests(const std::string& priests, const std::string& extra = "") {
  return "{\"priests\": " + priests + extra + "}";
}

const std::string kThree =
    R"([{"id": 1, "host": "127.0.0.1", "port": 7101},
        {"id": 2, "host": "127.0.0.1", "port": 7102},
        {"id": 3, "host": "127.0.0.1", "port": 7103}])";

// The text must fail with an error naming the file and every one of `words`.
void expect_error(const std::string& text, std::vector<std::string> words) {
  INFO("config: " << text);
  auto c = parse_config(text, kFile);
  REQUIRE_FALSE(c.ok());
  INFO("error: " << c.error());
  CHECK(c.error().find(kFile) != std::string::npos);
  for (const auto& w : words) CHECK(c.error().find(w) != std::string::npos);
}

}  // namespace

TEST_CASE("config/local.json parses into five priests", "[config]") {
  std::string path = std::string(PARLIAMENT_SOURCE_DIR) + "/config/local.json";
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = parse_config(ss.str(), path);
  INFO((c.ok() ? "" : c.error()));
  REQUIRE(c.ok());
  REQUIRE(c->priests.size() == 5);
  for (PriestId id = 1; id <= 5; ++id) {
    const PriestAddress* p = c->find(id);
    REQUIRE(p);
    CHECK(p->port == 7100 + id);
    CHECK(p->host == "127.0.0.1");
    CHECK(p->listen == p->host);
    REQUIRE(c->http.count(id));
    CHECK(c->http.at(id).port == 8100 + id);  // docs/OPERATIONS.md: the priests' HTTP ports 8101-8105
  }
  CHECK(c->ids() == std::vector<PriestId>{1, 2, 3, 4, 5});
  CHECK(c->find(6) == nullptr);
}

TEST_CASE("defaults, listen, and sorting by id", "[config]") {
  auto c = parse_config(
      with_priests(R"([{"id": 9, "host": "b", "port": 2, "listen": "0.0.0.0"},
                       {"id": 4, "host": "a", "port": 1}])"),
      kFile);
  REQUIRE(c.ok());
  CHECK(c->ids() == std::vector<PriestId>{4, 9});
  CHECK(c->find(9)->listen == "0.0.0.0");
  CHECK(c->find(4)->listen == "a");
  CHECK(c->tick_ms == 10);
  CHECK(c->election_timeout_ticks == 30);
  CHECK(c->max_queued_bytes == 8u << 20);
  auto small = parse_config(with_priests(kThree, R"(, "max_queued_bytes": 4096)"), kFile);
  REQUIRE(small.ok());
  CHECK(small->max_queued_bytes == 4096);
}

TEST_CASE("priests_to_json and parse_priests round trip", "[config]") {
  auto c = parse_config(with_priests(kThree), kFile);
  REQUIRE(c.ok());
  auto back = parse_priests(priests_to_json(c->priests), "membership");
  REQUIRE(back.ok());
  CHECK(*back == c->priests);
}

TEST_CASE("broken configs name the file and the field", "[config]") {
  expect_error("{not json", {"JSON", "line 1, column 3"});
  // A missing comma on the third line is named where it is.
  expect_error("{\n  \"tick_ms\": 10,\n  \"priests\": []\n  \"tls\": true\n}",
               {"not valid JSON", "line 4, column 7"});
  expect_error("[1, 2]", {"object"});
  expect_error("{}", {"priests"});
  expect_error(R"({"tick_ms": 10})", {"priests"});
  expect_error(with_priests("[]"), {"priests"});
  expect_error(with_priests("{}"), {"priests"});
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 1},
                                {"id": 1, "host": "h", "port": 2}])"),
               {"priests[1].id", "twice"});
  expect_error(with_priests(R"([{"id": 0, "host": "h", "port": 1}])"), {"priests[0].id"});
  expect_error(with_priests(R"([{"host": "h", "port": 1}])"), {"priests[0].id"});
  for (const char* port : {"0", "70000", "\"x\"", "-1", "1.5"})
    expect_error(with_priests(std::string(R"([{"id": 1, "host": "h", "port": )") + port + "}]"),
                 {"priests[0].port"});
  expect_error(with_priests(R"([{"id": 1, "host": "", "port": 1}])"), {"priests[0].host"});
  expect_error(with_priests(R"([{"id": 1, "port": 1}])"), {"priests[0].host"});
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 1, "listen": ""}])"),
               {"priests[0].listen"});
  expect_error(with_priests(kThree, R"(, "colour": "purple")"), {"colour", "unknown"});
  for (const char* tick : {"0", "-5", "\"10\"", "100000"})
    expect_error(with_priests(kThree, std::string(R"(, "tick_ms": )") + tick), {"tick_ms"});
  for (const char* bytes : {"0", "1023", "\"8MiB\"", "2000000000"})
    expect_error(with_priests(kThree, std::string(R"(, "max_queued_bytes": )") + bytes),
                 {"max_queued_bytes"});
  expect_error(with_priests(kThree, R"(, "heartbeat_ticks": 10, "election_timeout_ticks": 19)"),
               {"election_timeout_ticks"});
  CHECK(parse_config(
            with_priests(kThree, R"(, "heartbeat_ticks": 10, "election_timeout_ticks": 20)"),
            kFile)
            .ok());
}

TEST_CASE("http_port and http_listen: where a priest serves HTTP, and broken ones named", "[config]") {
  auto c = parse_config(with_priests(R"([{"id": 1, "host": "h1", "port": 7101, "http_port": 8101},
                                         {"id": 2, "host": "h2", "port": 7102, "http_port": 8102, "http_listen": "0.0.0.0"},
                                         {"id": 3, "host": "h3", "port": 7103}])"),
                        kFile);
  REQUIRE(c.ok());
  REQUIRE(c->http.size() == 2);
  CHECK(c->http.at(1).host == "h1");
  CHECK(c->http.at(1).port == 8101);
  CHECK(c->http.at(1).listen == "127.0.0.1");  // this machine only, unless said
  CHECK(c->http.at(2).listen == "0.0.0.0");
  CHECK_FALSE(c->http.count(3));
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 7101, "http_port": 0}])"), {"priests[0].http_port", "1 to 65535"});
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 7101, "http_port": "8101"}])"), {"priests[0].http_port"});
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 7101, "http_port": 8101, "http_listen": ""}])"),
               {"priests[0].http_listen"});
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 7101}, {"id": 2, "host": "h", "port": 7102, "http_listen": "0.0.0.0"}])"),
               {"priests[1].http_listen", "http_port"});
  // Operator mistakes that would only show once a priest failed to bind: refused here.
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 7101}, {"id": 2, "host": "h", "port": 7101}])"),
               {"priest 2's port", "h:7101", "priest 1's port"});
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 7101, "http_port": 7101}])"),
               {"priest 1's http_port", "h:7101", "priest 1's port"});
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 7101}, {"id": 2, "host": "h", "port": 7102, "http_port": 7101}])"),
               {"priest 2's http_port", "priest 1's port"});
  expect_error(with_priests(R"([{"id": 1, "host": "h", "port": 7101, "http_port": 8100}, {"id": 2, "host": "h", "port": 7102, "http_port": 8100}])"),
               {"priest 2's http_port", "priest 1's http_port"});
  // The same port on two hosts is no mistake.
  CHECK(parse_config(with_priests(R"([{"id": 1, "host": "a", "port": 7101}, {"id": 2, "host": "b", "port": 7101}])"), kFile).ok());
}
