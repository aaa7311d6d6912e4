// The connection caps (server/admission.hpp), decided without sockets: each cap admits up to
// its number, and past it closes the connection the rule names.
#include <catch2/catch.hpp>

#include "server/admission.hpp"

using namespace parliament;
using namespace std::chrono_literals;
using Open = Admission::Open;

namespace {

const Admission::Clock::time_point t0{};

AdmissionCaps small() {
  AdmissionCaps caps;
  caps.pending = 3;
  caps.handshakes = 2;
  caps.handshake_grace = 1s;
  caps.clients = 2;
  caps.peers = 1;
  caps.unfinished_bytes = 100;
  caps.replies_bytes = 100;
  caps.replies_per_client = 60;
  return caps;
}

}  // namespace

TEST_CASE("admission: past the pending cap the oldest silent connection goes", "[admission]") {
  Admission a(small());
  Admission::Snapshot open = {{1, ConnKind::Unknown, t0 + 5s}, {2, ConnKind::Unknown, t0 + 1s},
                              {3, ConnKind::Client, t0}};
  CHECK_FALSE(a.room_for_pending(open));  // two pending of three
  open.push_back({4, ConnKind::Unknown, t0 + 3s});
  CHECK(a.room_for_pending(open) == Admission::Id(2));  // the oldest pending, not the client
}

TEST_CASE("admission: handshakes past the cap: the oldest after its grace, else the newcomer",
          "[admission]") {
  Admission a(small());
  Admission::Snapshot open = {{1, ConnKind::Unknown, t0, t0 + 2s},
                              {2, ConnKind::Unknown, t0, t0 + 3s},
                              {9, ConnKind::Unknown, t0, t0 + 4s}};  // the newcomer itself
  // Both others began less than a second ago: the newcomer goes.
  auto h = a.room_for_handshake(9, open, t0 + 2500ms);
  CHECK_FALSE(h.admit);
  // The oldest has been at it for longer than the grace: it goes, the newcomer stays.
  h = a.room_for_handshake(9, open, t0 + 3500ms);
  CHECK(h.admit);
  CHECK(h.close == Admission::Id(1));
  // Below the cap, nobody goes.
  open.erase(open.begin());
  h = a.room_for_handshake(9, open, t0 + 2500ms);
  CHECK(h.admit);
  CHECK_FALSE(h.close);
}

// Before: one host holding every handshake place, each handshake stalled and replaced before
// its grace ran out, kept every other host's clients and priests out.
TEST_CASE("admission: one address holding the places does not keep out another", "[admission]") {
  AdmissionCaps caps = small();
  caps.handshakes = 4;
  Admission a(caps);
  const uint64_t flood = 7, honest = 8;
  Admission::Snapshot open = {{1, ConnKind::Unknown, t0, t0 + 2000ms, 0, flood},
                              {2, ConnKind::Unknown, t0, t0 + 2500ms, 0, flood},
                              {3, ConnKind::Unknown, t0, t0 + 2600ms, 0, flood},
                              {4, ConnKind::Unknown, t0, t0 + 2700ms, 0, honest},
                              {9, ConnKind::Unknown, t0, std::nullopt, 0, honest}};  // the newcomer
  // None is past its grace, yet the newcomer's address holds fewer: the flood's oldest goes.
  auto h = a.room_for_handshake(9, open, t0 + 2900ms);
  CHECK(h.admit);
  CHECK(h.close == Admission::Id(1));
  // A newcomer from the address holding the most is held to the rule of the grace.
  open.back().address = flood;
  h = a.room_for_handshake(9, open, t0 + 2900ms);
  CHECK_FALSE(h.admit);
  h = a.room_for_handshake(9, open, t0 + 3100ms);
  CHECK(h.admit);
  CHECK(h.close == Admission::Id(1));
  // Nor does it close another address's handshake, however old.
  open[3].handshake_began = t0;
  h = a.room_for_handshake(9, open, t0 + 2900ms);
  CHECK_FALSE(h.admit);
  // Pending: the oldest of the address holding the most goes, not the oldest of all.
  Admission::Snapshot pending = {{1, ConnKind::Unknown, t0 + 1s, std::nullopt, 0, honest},
                                 {2, ConnKind::Unknown, t0 + 2s, std::nullopt, 0, flood},
                                 {3, ConnKind::Unknown, t0 + 3s, std::nullopt, 0, flood}};
  CHECK(a.room_for_pending(pending) == Admission::Id(2));
}

TEST_CASE("admission: clients and priests each have a cap of their own", "[admission]") {
  Admission a(small());
  Admission::Snapshot open = {{1, ConnKind::Client}, {2, ConnKind::PeerOut}, {3, ConnKind::PeerOut}};
  CHECK(a.may_become(ConnKind::Client, open));
  CHECK(a.may_become(ConnKind::PeerIn, open));  // outgoing links take no incoming place
  open.push_back({4, ConnKind::Client});
  open.push_back({5, ConnKind::PeerIn});
  CHECK_FALSE(a.may_become(ConnKind::Client, open));
  CHECK_FALSE(a.may_become(ConnKind::PeerIn, open));
}

TEST_CASE("admission: unfinished frames share one budget", "[admission]") {
  Admission a(small());
  CHECK(a.admit_unfinished(1, 60));
  CHECK(a.admit_unfinished(2, 40));
  CHECK(a.unfinished_bytes() == 100);
  CHECK(a.admit_unfinished(1, 50));  // its frame moved on: counted once, at its new size
  CHECK_FALSE(a.admit_unfinished(2, 51));
  a.forget_unfinished(2);  // closed for it
  CHECK(a.unfinished_bytes() == 50);
  CHECK(a.admit_unfinished(3, 50));
}

TEST_CASE("admission: unread replies: per client, then the most unread go first",
          "[admission]") {
  Admission a(small());
  // One connection may hold at most replies_per_client, once it holds any.
  auto r = a.room_for_reply(1, 30, 31, {});
  CHECK_FALSE(r.admit);
  CHECK(r.per_client);
  CHECK(a.room_for_reply(1, 0, 80, {}).admit);  // a first large reply is not refused
  CHECK(a.reply_fits(0, 80));
  CHECK_FALSE(a.reply_fits(30, 31));
  // All clients hold 90 of 100: a reply of 30 to client 3 closes client 2 (the most unread).
  a.replies_changed(90);
  CHECK(a.reply_fits(10, 10));
  CHECK_FALSE(a.reply_fits(10, 30));
  Admission::Snapshot open = {{1, ConnKind::Client, t0, std::nullopt, 30},
                              {2, ConnKind::Client, t0, std::nullopt, 50},
                              {3, ConnKind::Client, t0, std::nullopt, 10},
                              {4, ConnKind::PeerIn, t0, std::nullopt, 500}};  // not a client
  r = a.room_for_reply(3, 10, 30, open);
  CHECK(r.admit);
  CHECK(r.close == std::vector<Admission::Id>{2});
  // All clients hold 95: client 2, holding the most and asking for more, goes itself.
  a.replies_changed(5);
  r = a.room_for_reply(2, 50, 10, open);
  CHECK_FALSE(r.admit);
  CHECK(r.close == std::vector<Admission::Id>{2});
  // Under the budget, nobody goes.
  a.replies_changed(-95);
  r = a.room_for_reply(2, 50, 10, open);
  CHECK(r.admit);
  CHECK(r.close.empty());
}

TEST_CASE("page budget: a burst, then pages at the share of the time that passes", "[admission]") {
  PageBudget b(100ms, 50);
  const PageBudget::Clock::time_point t{std::chrono::hours(1)};
  REQUIRE(b.room(t));
  b.spend(60ms);
  CHECK(b.room(t));  // 40 ms left
  b.spend(60ms);     // overdrawn by one page
  CHECK_FALSE(b.room(t));
  CHECK_FALSE(b.room(t + 40ms));  // refilled 20 ms: back to zero
  CHECK(b.room(t + 42ms));
  CHECK(b.room(t + 10s));  // never more than the burst
  b.spend(100ms);
  CHECK_FALSE(b.room(t + 10s));
}
