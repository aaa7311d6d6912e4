// Versions that may not mix: a priest refuses a peer whose hello names a wire version it does
// not speak, and a data directory of a format it does not read, each with one clear line;
// status says what each priest runs.
#include "tests/common/harness.hpp"

#include <fstream>

#include "proto/version.hpp"

using namespace harness;

TEST_CASE("versions: a peer of another wire version and a directory of another format are "
          "refused", "[version]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));

  auto s = parl.status(1);
  REQUIRE(s);
  CHECK(s->value("version", "") == PARLIAMENT_VERSION);
  CHECK(s->value("wire_version", uint64_t(0)) == kWireVersion);
  CHECK(s->value("data_format", uint64_t(0)) == kDataFormat);
  CHECK(slurp(parl.data(1) / "format") == "parliament-data " + std::to_string(kDataFormat) + "\n");

  // Priest 2's certificate, saying hello as a priest of wire version 99: closed, one line.
  TlsRaw link(parl.addr.at(1).port,
              party_context(parl.dir / "certs", tls::Identity{tls::Role::Priest, 2}));
  REQUIRE(link.handshaken);
  REQUIRE(link.send_json({{"type", "hello"},
                          {"from", 2},
                          {"incarnation", parl.incarnation(2)},
                          {"version", 99}}));
  CHECK(link.closed_by_peer(5s));
  CHECK(eventually([&] {
    return slurp(parl.log(1)).find("it speaks wire version 99, and this priest speaks versions "
                                   "1 to 1") != std::string::npos;
  }, 5s));

  // A directory written by a newer format: priest 3 refuses to start on it, saying so.
  parl.kill9(3);
  std::ofstream(parl.data(3) / "format", std::ios::trunc) << "parliament-data 9\n";
  parl.start(3);
  auto code = parl.exit_status(3, 10s);
  REQUIRE(code);
  CHECK(*code == 2);
  CHECK(slurp(parl.log(3)).find("holds data format 9, and this paxos-priest reads formats 1 to "
                                "1") != std::string::npos);
}
