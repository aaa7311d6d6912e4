// ClientTable (proto/client_table.hpp) on its own: a request passes once.
#include <catch2/catch.hpp>

#include "proto/client_table.hpp"

using namespace parliament;
using Seen = ClientTable::Seen;

TEST_CASE("client table: a request passes once; a retry gets its first number", "[clients]") {
  ClientTable t({{7, ClientRecord{3, 40}}});  // as the ledger left it at start
  CHECK(t.lookup(7, 4).seen == Seen::New);
  CHECK(t.lookup(9, 1).seen == Seen::New);  // a client never seen
  auto retry = t.lookup(7, 3);
  CHECK(retry.seen == Seen::Passed);
  CHECK(retry.decree_no == 40);
  auto old = t.lookup(7, 2);
  CHECK(old.seen == Seen::Superseded);
  CHECK(old.last_request == 3);
  // Request 4 passes at 41, and a second copy of it (two presidents proposed it) at 45.
  CHECK(t.passed(7, 4, 41).seen == Seen::New);
  auto repeat = t.passed(7, 4, 45);
  CHECK(repeat.seen == Seen::Passed);
  CHECK(repeat.decree_no == 41);  // the ledger keeps the first; 45 becomes olive-day
  CHECK(t.passed(7, 3, 46).seen == Seen::Superseded);
  CHECK(t.records().at(7).request == 4);
  CHECK(t.records().at(7).decree_no == 41);
}
