// Hostile peers and clients against the real binaries on 127.0.0.1 (docs/SAFETY.md: who
// may tell a priest what). Each TEST_CASE is one class of attack, reported against the version
// before mutual TLS (every connection plaintext, a peer's id taken from its hello) and before
// Priest::step refused what no priest would say; its comment says what the attack did to
// that code. Every test ends the same way (unharmed()): the parliament still passes a
// decree, and the ledgers of all its priests are identical and hold exactly the decrees the
// test's honest client passed, at the numbers it was told.
//
// Run them alone with: build/bin/integration_tests "[hostile]"
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <deque>
#include <iterator>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/common/harness.hpp"
#include "proto/ballot.hpp"
#include "proto/message.hpp"

#include "tests/common/hostile_support.hpp"

using namespace hostile;

// 1. Before: every connection was plaintext and anyone who could reach the port was a client
// (status, ledger, propose) or, saying hello, a priest. Now a TLS client without a
// certificate, and a plaintext client, get nothing at all, not even a status.
TEST_CASE("hostile 1: no certificate, no answer", "[hostile]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  Proposer proposer(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(proposer, "before the attack"));
  uint16_t port = parl.addr.at(1).port;

  // The control: with the client's certificate the same request is answered.
  {
    TlsRaw client(port, party_context(parl.dir / "certs", Identity{tls::Role::Client}));
    INFO(client.why);
    REQUIRE(client.handshaken);
    REQUIRE(client.send_json({{"type", "status"}}));
    auto st = client.read_frame(3s);
    REQUIRE(st);
    CHECK((*st)["type"] == "status");
  }
  // TLS 1.3 without a certificate: our side of the handshake may finish (the priest asks for
  // the certificate after its own Finished), but the priest refuses, answers nothing and closes.
  for (auto request : {nlohmann::json{{"type", "status"}},
                       nlohmann::json{{"type", "propose"}, {"client", 77}, {"request", 1}, {"decree", "from nobody"}}}) {
    TlsRaw bare(port, bare_tls_context());
    INFO("sent " << request.dump() << "; " << bare.why);
    REQUIRE(bare.connected);
    if (bare.handshaken) bare.send_json(request);
    CHECK_FALSE(bare.read_frame(2s));
    CHECK(bare.closed_by_peer(3s));
    CHECK(bare.frames.empty());
  }
  CHECK(log_lines(parl, 1, "refusing connection from") >= 1);
  // A certified client that, after the handshake, sends bytes that are no TLS record: closed,
  // and said so as what it is (before: logged as a refused handshake).
  {
    TlsRaw client(port, party_context(parl.dir / "certs", Identity{tls::Role::Client}));
    REQUIRE(client.handshaken);
    REQUIRE(client.send_json({{"type", "status"}}));
    REQUIRE(client.read_frame(3s));  // the priest's side of the handshake is done too
    asio::error_code ec;
    asio::write(client.tls->next_layer(), asio::buffer(std::string(64, 'x')), ec);
    REQUIRE_FALSE(ec);
    CHECK(client.closed_by_peer(3s));
    CHECK(eventually([&] { return log_lines(parl, 1, "a bad TLS record after the handshake") == 1; }, 3s));
  }
  // Plaintext to a TLS priest: the frame is not a ClientHello; nothing comes back.
  for (auto request : {nlohmann::json{{"type", "status"}},
                       nlohmann::json{{"type", "propose"}, {"client", 78}, {"request", 1}, {"decree", "in the clear"}}}) {
    TlsRaw plain(port, nullptr);
    INFO("sent " << request.dump() << " in plaintext; " << plain.why);
    REQUIRE(plain.handshaken);
    plain.send_json(request);
    CHECK_FALSE(plain.read_frame(2s));
    CHECK(plain.closed_by_peer(3s));
    CHECK(plain.frames.empty());
  }
  unharmed(parl, honest, {1, 2, 3});
}

// 2. Before: there were no certificates, so the credentials of another parliament (or none)
// spoke as freely as ours. Now a certificate not signed by this parliament's CA is refused at
// the handshake, whether it is a client's or "priest 2"'s.
TEST_CASE("hostile 2: certificates of another parliament are refused", "[hostile]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  fs::path other = parl.dir / "other-certs";
  REQUIRE(certs::make_credentials(other.string(), certs::parties({1, 2, 3})));
  convene(parl);
  Honest honest;
  Proposer proposer(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(proposer, "before the attack"));
  uint16_t port = parl.addr.at(1).port;

  // As loaded by a client of the other parliament, our side refuses the priest's certificate.
  {
    TlsRaw client(port, party_context(other, Identity{tls::Role::Client}));
    INFO(client.why);
    CHECK_FALSE(client.handshaken);
    CHECK(client.closed);
  }
  // The same certificate, but checking nothing on our side: the priest refuses it.
  auto trusting = [&](const Identity& who) {
    auto ctx = party_context(other, who);
    ctx->set_verify_mode(asio::ssl::verify_none);
    return ctx;
  };
  {
    TlsRaw client(port, trusting(Identity{tls::Role::Client}));
    INFO(client.why);
    if (client.handshaken) client.send_json({{"type", "status"}});
    CHECK_FALSE(client.read_frame(2s));
    CHECK(client.closed_by_peer(3s));
  }
  // "Priest 2" of the other parliament says hello with the real priest 2's incarnation and
  // tries to teach priest 1 a decree.
  {
    std::string inc2 = parl.incarnation(2);
    TlsRaw priest(port, trusting(Identity{tls::Role::Priest, 2}));
    INFO(priest.why);
    if (priest.handshaken) {
      priest.send_json({{"type", "hello"}, {"from", 2}, {"incarnation", inc2}});
      uint64_t len = passed_len(parl, 2);
      Message m = message(Kind::CatchUp, 2, 1);
      m.passed_len = len + 1;
      m.entries.push_back(forged_entry(len + 1, Ballot{1, 2}, "taught by another parliament"));
      priest.send_frame(encode_text(m));
    }
    CHECK_FALSE(priest.read_frame(1s));
    CHECK(priest.closed_by_peer(3s));
  }
  CHECK(log_lines(parl, 1, "refusing connection from") >= 1);
  unharmed(parl, honest, {1, 2, 3});
}

// 3. Before: a hello said who the peer was, so anyone could take the link of priest 2 (the
// real one's was closed as "restarted") and speak paxos in its name. Now a client's
// certificate speaks no priest frames, and a priest's certificate speaks only as that priest.
TEST_CASE("hostile 3: a certificate speaks only as its party", "[hostile]") {
  Parliament parl(3, 1);  // priest 4: credentials only, never started
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  Proposer proposer(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(proposer, "before the attack"));
  uint16_t port = parl.addr.at(1).port;
  std::string inc2 = parl.incarnation(2);
  auto client_ctx = party_context(parl.dir / "certs", Identity{tls::Role::Client});
  auto priest4_ctx = party_context(parl.dir / "certs", Identity{tls::Role::Priest, 4});

  // A client's certificate says hello as priest 2: the error frame, then the close.
  {
    TlsRaw c(port, client_ctx);
    INFO(c.why);
    REQUIRE(c.handshaken);
    REQUIRE(c.send_json({{"type", "hello"}, {"from", 2}, {"incarnation", inc2}}));
    auto answer = c.read_frame(2s);
    REQUIRE(answer);
    INFO("answered " << answer->dump());
    CHECK((*answer)["type"] == "error");
    CHECK(answer->value("error", "").find("certificate") != std::string::npos);
    CHECK(c.closed_by_peer(3s));
  }
  // Priest 4's certificate says hello as priest 2: closed.
  {
    TlsRaw c(port, priest4_ctx);
    INFO(c.why);
    REQUIRE(c.handshaken);
    REQUIRE(c.send_json({{"type", "hello"}, {"from", 2}, {"incarnation", inc2}}));
    auto answer = c.read_frame(2s);
    if (answer) CHECK((*answer)["type"] == "error");
    CHECK(c.closed_by_peer(3s));
  }
  // A client's certificate sends a paxos message without a hello: a client request of an
  // unknown type, refused.
  {
    TlsRaw c(port, client_ctx);
    REQUIRE(c.handshaken);
    uint64_t len = passed_len(parl, 1);
    Message m = message(Kind::CatchUp, 2, 1);
    m.passed_len = len + 1;
    m.entries.push_back(forged_entry(len + 1, Ballot{1, 2}, "taught by a client"));
    REQUIRE(c.send_frame(encode_text(m)));
    auto answer = c.read_frame(2s);
    REQUIRE(answer);
    CHECK((*answer)["type"] == "error");
    CHECK(c.closed_by_peer(3s));
  }
  // A priest's certificate speaks only priest frames and status (a container's health
  // check): its status is answered, its propose refused.
  {
    TlsRaw c(port, priest4_ctx);
    REQUIRE(c.handshaken);
    REQUIRE(c.send_json({{"type", "status"}}));
    auto status = c.read_frame(2s);
    REQUIRE(status);
    CHECK((*status)["type"] == "status");
    REQUIRE(c.send_json({{"type", "propose"}, {"client", 44}, {"request", 1}, {"decree", "proposed by priest 4's certificate"}}));
    auto answer = c.read_frame(2s);
    REQUIRE(answer);
    INFO("answered " << answer->dump());
    CHECK((*answer)["type"] == "error");
    CHECK(c.closed_by_peer(3s));
  }
  unharmed(parl, honest, {1, 2, 3});
}

// 4. Before: bootstrap, join and change were plain client requests: anyone could bootstrap a
// fresh priest into a parliament of its choosing, or remove a member by decree. Now only the
// god's certificate may send them.
TEST_CASE("hostile 4: only the god bootstraps, joins or changes the membership", "[hostile]") {
  Parliament parl(3, 1);  // priest 4: started, never bootstrapped
  INFO("files in " << parl.dir);
  convene(parl);
  parl.start(4);
  Honest honest;
  Proposer proposer(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(proposer, "before the attack"));
  auto client_ctx = party_context(parl.dir / "certs", Identity{tls::Role::Client});
  auto before = parl.status(1);
  REQUIRE(before);
  auto membership = (*before)["membership"];

  // A client's certificate bootstraps the fresh priest 4 (a membership that names it with
  // its own incarnation, as the god would) and then asks it to join.
  std::vector<PriestAddress> priests;
  for (PriestId id = 1; id <= 4; ++id) {
    priests.push_back(parl.addr.at(id));
    priests.back().incarnation = parse_incarnation(parl.incarnation(id)).value_or(0);
  }
  for (auto request : {nlohmann::json{{"type", "bootstrap"}, {"priests", priests_to_json(priests)}},
                       nlohmann::json{{"type", "join"}, {"membership", membership}}}) {
    TlsRaw c(parl.addr.at(4).port, client_ctx);
    INFO("sent " << request.dump() << "; " << c.why);
    REQUIRE(c.handshaken);
    REQUIRE(c.send_json(request));
    auto answer = c.read_frame(3s);
    REQUIRE(answer);
    INFO("answered " << answer->dump());
    CHECK((*answer)["type"] == "error");
    CHECK(answer->value("error", "").find("god") != std::string::npos);
    CHECK(answer->value("error_code", "") == "forbidden");
    CHECK(c.closed_by_peer(3s));
    auto st = parl.status(4);
    REQUIRE(st);
    CHECK((*st)["bootstrapped"] == false);
    CHECK((*st)["members"] == 0);
  }
  // A client's certificate asks the president, and a follower, to remove priest 1.
  Change remove1;
  remove1.op = Change::Op::Remove;
  remove1.priest.id = 1;
  PriestId president = *parl.president({1, 2, 3});
  for (PriestId to : {president, PriestId(president % 3 + 1)}) {
    TlsRaw c(parl.addr.at(to).port, client_ctx);
    REQUIRE(c.handshaken);
    REQUIRE(c.send_json({{"type", "change"}, {"change", change_to_json(remove1)}}));
    auto answer = c.read_frame(3s);
    REQUIRE(answer);
    INFO("priest " << to << " answered " << answer->dump());
    CHECK((*answer)["type"] == "error");
    CHECK(answer->value("error", "").find("god") != std::string::npos);
    CHECK(answer->value("error_code", "") == "forbidden");
    CHECK(c.closed_by_peer(3s));
  }
  for (PriestId id = 1; id <= 3; ++id) {
    auto st = parl.status(id);
    REQUIRE(st);
    CHECK((*st)["membership"] == membership);
  }
  auto st4 = parl.status(4);
  REQUIRE(st4);
  CHECK((*st4)["bootstrapped"] == false);
  CHECK(st4->value("passed_len", uint64_t(99)) == 0);
  unharmed(parl, honest, {1, 2, 3});
}

// 5. Before: Priest::step took any message of a linked priest at its word: a begin ballot in
// round 2^64-1 made the victim promise it (no honest president could ever be heard again), a
// begin ballot for decree number 2^64-1 was voted on like any other, and a catch-up put
// decrees into the victim's ledger that the sender's own ledger did not hold. Now each is
// refused and its connection closed, with one line in the victim's log; with Priest::refusal
// disabled this test fails on all three, and the parliament can no longer elect a president.
TEST_CASE("hostile 5: forged begin ballots and catch-up from a compromised priest", "[hostile]") {
  Parliament parl(5);
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  Proposer proposer(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(proposer, "before the attack"));
  // Priest 4 is compromised: the attacker holds its key and speaks as it (the real process is
  // stopped, so that its own link does not replace the attacker's).
  std::string inc4 = parl.incarnation(4);
  REQUIRE_FALSE(inc4.empty());
  parl.kill9(4);
  std::vector<PriestId> alive{1, 2, 3, 5};
  REQUIRE(eventually([&] { return parl.president(alive).has_value(); }, 10s));
  REQUIRE(honest.pass(proposer, "after priest 4 fell"));

  // Round 2^64-1, to priest 1.
  {
    PriestId victim = 1;
    auto link = linked_as(parl, victim, 4, inc4);
    uint64_t len = passed_len(parl, victim);
    Message harmless = message(Kind::CatchUp, 4, victim);  // "I hold len": the link works
    harmless.passed_len = len;
    REQUIRE(link->send_frame(encode_text(harmless)));
    CHECK_FALSE(link->closed_by_peer(500ms));
    Message m = message(Kind::BeginBallot, 4, victim);
    m.ballot = Ballot{kMax64, 4};
    m.passed_len = len;
    m.commit_no = len;
    m.entries.push_back(forged_entry(len + 1, m.ballot, "begun in round 2^64-1"));
    REQUIRE(link->send_frame(encode_text(m)));
    CHECK(link->closed_by_peer(3s));
    CHECK(log_lines(parl, victim, "no priest would send") == 1);
    auto next = ballot_of(parl, victim, "next_bal");
    REQUIRE(next);
    CHECK(next->round != kMax64);
    CHECK(next->round < kHonestRounds);
  }
  // Decree number 2^64-1, to priest 2, in a plausible ballot.
  {
    PriestId victim = 2;
    auto ballot = ballot_of(parl, victim, "ballot");
    REQUIRE(ballot);
    auto link = linked_as(parl, victim, 4, inc4);
    Message m = message(Kind::BeginBallot, 4, victim);
    m.ballot = Ballot{ballot->round + 1, 4};
    m.passed_len = passed_len(parl, victim);
    m.entries.push_back(forged_entry(kMax64, m.ballot, "decree 2^64-1"));
    REQUIRE(link->send_frame(encode_text(m)));
    CHECK(link->closed_by_peer(3s));
    CHECK(log_lines(parl, victim, "no priest would send") == 1);
    auto st = parl.status(victim);  // still alive
    REQUIRE(st);
    CHECK(st->value("passed_len", kMax64) < kMax64);
  }
  // Catch-up of a decree beyond the sender's own ledger, to priest 3.
  {
    PriestId victim = 3;
    auto link = linked_as(parl, victim, 4, inc4);
    uint64_t len = passed_len(parl, victim);
    Message m = message(Kind::CatchUp, 4, victim);
    m.passed_len = len;  // the sender claims the victim's length, and sends one more decree
    m.entries.push_back(forged_entry(len + 1, Ballot{1, 4}, "caught up from nowhere"));
    REQUIRE(link->send_frame(encode_text(m)));
    CHECK(link->closed_by_peer(3s));
    CHECK(log_lines(parl, victim, "no priest would send") == 1);
    CHECK(passed_len(parl, victim) == len);
  }
  unharmed(parl, honest, alive);
}

// 6. Before: with no certificates anyone could say hello as the president and answer a
// follower's forwarded proposal (tokens then started at 1), telling the waiting client that
// its decree passed at a number of the attacker's choosing. Now a compromised priest 4 speaks
// only as priest 4, and a follower hears an answer only from the priest it forwarded to (and
// its tokens start at random): the honest client is never told a number its decree is not at.
TEST_CASE("hostile 6: forged answers to forwarded proposals", "[hostile]") {
  Parliament parl(5);
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  std::string inc4 = parl.incarnation(4);
  REQUIRE_FALSE(inc4.empty());
  parl.kill9(4);
  std::vector<PriestId> alive{1, 2, 3, 5};
  std::optional<PriestId> president;
  REQUIRE(eventually([&] { return (president = parl.president(alive)).has_value(); }, 10s));
  PriestId victim = 0;
  for (PriestId id : alive)
    if (id != *president) victim = id;
  INFO("president " << *president << ", victim " << victim);
  Proposer through_victim({parl.addr.at(victim)}, random_client_id());
  REQUIRE(honest.pass(through_victim, "before the attack"));

  // On the link as priest 4, an answer from the president is misaddressed: closed.
  {
    auto link = linked_as(parl, victim, 4, inc4);
    Message m = message(Kind::Answer, *president, victim);
    m.token = 1;
    m.decree_no = 1000000;
    REQUIRE(link->send_frame(encode_text(m)));
    CHECK(link->closed_by_peer(3s));
  }
  // Priest 4 answers tokens 1..4096 over and over, each "passed at 1000000 + token", while
  // the honest client proposes through the victim (a follower, which forwards to the president).
  auto link = linked_as(parl, victim, 4, inc4);
  std::string burst;
  for (uint64_t token = 1; token <= 4096; ++token) {
    Message m = message(Kind::Answer, 4, victim);
    m.token = token;
    m.decree_no = 1000000 + token;
    append_frame(burst, encode_text(m));
  }
  std::atomic<int> bursts{0};
  std::jthread forger([&](std::stop_token stop) {
    while (!stop.stop_requested() && link->send_bytes(burst, 5s)) ++bursts;
  });
  for (int i = 0; i < 20; ++i) CHECK(honest.pass(through_victim, "honest decree " + std::to_string(i)));
  forger.request_stop();
  forger.join();
  INFO("forged bursts of 4096 answers sent: " << bursts << "; link " << (link->closed ? "closed: " + link->why : "open"));
  CHECK(bursts > 0);
  for (auto& [n, text] : honest.passed) CHECK(n < 1000000);
  unharmed(parl, honest, alive);
}

// 7. Before: a vote no promising round 2^64-1 made the president stand again in round 2^64-1
// + 1 (it wrapped to 0), and a next ballot in round 2^64-1 made a follower promise a round no
// candidate could ever exceed: once the president fell, no one could be elected. Now both
// are refused, and the parliament elects a new president after the president is killed.
TEST_CASE("hostile 7: extreme rounds in vote no and next ballot", "[hostile]") {
  Parliament parl(5);
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  Proposer proposer(parl.config.priests, random_client_id());
  std::string inc4 = parl.incarnation(4);
  REQUIRE_FALSE(inc4.empty());
  parl.kill9(4);
  std::vector<PriestId> alive{1, 2, 3, 5};
  std::optional<PriestId> president;
  REQUIRE(eventually([&] { return (president = parl.president(alive)).has_value(); }, 10s));
  REQUIRE(honest.pass(proposer, "before the attack"));
  PriestId follower = *president == 1 ? 2 : 1;
  INFO("president " << *president << ", follower " << follower);

  // A vote no to the president, promising round 2^64-1.
  {
    auto ballot = ballot_of(parl, *president, "ballot");
    REQUIRE(ballot);
    auto link = linked_as(parl, *president, 4, inc4);
    Message m = message(Kind::VoteNo, 4, *president);
    m.ballot = *ballot;
    m.promised = Ballot{kMax64, 4};
    m.passed_len = passed_len(parl, *president);
    REQUIRE(link->send_frame(encode_text(m)));
    CHECK(link->closed_by_peer(3s));
    CHECK(log_lines(parl, *president, "no priest would send") == 1);
  }
  // A next ballot to a follower, in round 2^64-1.
  {
    auto link = linked_as(parl, follower, 4, inc4);
    Message m = message(Kind::NextBallot, 4, follower);
    m.ballot = Ballot{kMax64, 4};
    m.passed_len = passed_len(parl, follower);
    m.decree_no = m.passed_len + 1;
    REQUIRE(link->send_frame(encode_text(m)));
    CHECK(link->closed_by_peer(3s));
    CHECK(log_lines(parl, follower, "no priest would send") == 1);
  }
  for (PriestId id : alive) {
    auto next = ballot_of(parl, id, "next_bal");
    REQUIRE(next);
    INFO("priest " << id << " next_bal " << to_string(*next));
    CHECK(next->round < kHonestRounds);
  }
  CHECK(parl.president(alive) == president);
  REQUIRE(honest.pass(proposer, "after the attack, same president"));

  // The president falls: the three left elect another and pass decrees.
  parl.kill9(*president);
  std::erase(alive, *president);
  std::optional<PriestId> next_president;
  CHECK(eventually([&] { return (next_president = parl.president(alive)).has_value(); }, 15s));
  REQUIRE(honest.pass(proposer, "after the president fell", 20s));
  for (PriestId id : alive) {
    auto next = ballot_of(parl, id, "next_bal");
    REQUIRE(next);
    CHECK(next->round < kHonestRounds);
  }
  unharmed(parl, honest, alive);
}

// A flood of `conns` TCP connections to the president, each sending `first_bytes` (none: it
// never speaks) and nothing more. The priest's resident set stays within kRssBoundKib of its
// idle one, decrees pass through it during the flood, and every connection is closed by the
// priest within kFirstFrameDeadline (+3 s) of the last connect. Prints its figures as one
// line, `hostile NAME: ...`. Returns how many saw a FIN (closed by the priest, not reset)
// when at least 90 % did, else 0.
size_t flood_attack(const char* name, size_t conns, const std::string& first_bytes) {
  raise_fd_limit(conns + 100);
  Parliament parl(3);
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  Proposer warmup(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(warmup, "before the attack"));
  PriestId victim = *parl.president();
  pid_t pid = parl.pids.at(victim);
  size_t idle = proc_kib(pid, "VmRSS");
  REQUIRE(idle > 0);
  RssWatch watch(pid);

  Flood flood;
  auto began = std::chrono::steady_clock::now();
  flood.connect_to(parl.addr.at(victim).port, conns, first_bytes);
  auto connected = std::chrono::steady_clock::now();
  INFO("connected " << flood.fds.size() << " of " << conns << " (" << flood.failed << " failed) in "
                    << std::chrono::duration_cast<std::chrono::milliseconds>(connected - began).count() << " ms");
  CHECK(flood.fds.size() >= conns * 99 / 100);
  // Decrees pass through the flooded priest (the president) while the flood holds.
  Proposer through_victim({parl.addr.at(victim)}, random_client_id());
  for (int i = 0; i < 5; ++i) CHECK(honest.pass(through_victim, "during the flood " + std::to_string(i), 5s));
  auto during = std::chrono::steady_clock::now();
  size_t rss = proc_kib(pid, "VmRSS");
  auto soon = flood.closed();
  // All of them are closed once the first-frame deadline has passed for the last.
  Flood::Closed closed;
  bool all = eventually([&] { return (closed = flood.closed()).all() == flood.fds.size(); },
                        std::chrono::duration_cast<std::chrono::milliseconds>(connected + kFirstFrameDeadline + 3s - std::chrono::steady_clock::now()));
  size_t peak = watch.finish();
  std::printf("hostile %s: priest %u RSS idle %zu KiB, during the flood %zu KiB, peak %zu KiB (+%zd KiB); "
              "decrees passed %lld ms after the flood; closed by the priest %zu soon after it, %zu in all "
              "(FIN %zu, reset %zu) of %zu\n",
              name, unsigned(victim), idle, rss, peak, ssize_t(peak) - ssize_t(idle),
              (long long)std::chrono::duration_cast<std::chrono::milliseconds>(during - connected).count(), soon.all(),
              closed.all(), closed.fin, closed.reset, flood.fds.size());
  INFO("RSS idle " << idle << " KiB, during " << rss << " KiB, peak " << peak << " KiB; closed " << soon.all()
                   << " soon, " << closed.all() << " in all (FIN " << closed.fin << ", reset " << closed.reset << ")");
  CHECK(peak <= idle + kRssBoundKib);
  CHECK(all);
  unharmed(parl, honest, {1, 2, 3});
  return closed.fin * 10 >= flood.fds.size() * 9 ? closed.fin : 0;
}


// 8. Before: every accepted connection got its buffers and stayed until its peer closed it,
// so 2,000 silent connections held 2,000 sessions forever. Now a connection that has not
// spoken costs no TLS session or buffer, at most the Admission's pending cap of them are kept (the oldest
// go), and each is closed kFirstFrameDeadline after it connected.
TEST_CASE("hostile 8: 2,000 idle connections", "[hostile]") {
  CHECK(flood_attack("8", 2000, "") > 0);  // most see a FIN: closed by the priest, not reset
}

// 9. Before: a frame's announced length was buffered as it came, with no budget and no time
// limit, so 48 connections announcing 4 MiB each held all they sent, and a slowloris held its
// connection for as long as it kept sending. Now clients' unfinished frames share a 16 MiB
// budget (the connection that goes over it is closed), and a frame must be finished within
// kClientFrameDeadline of its first byte.
TEST_CASE("hostile 9: half-frame flood and slowloris", "[hostile]") {
  Parliament parl(3, 0, false);  // plaintext: the test writes frames without credentials
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  Proposer warmup(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(warmup, "before the attack"));
  PriestId victim = 1, slow_victim = 2;
  pid_t pid = parl.pids.at(victim);
  size_t idle = proc_kib(pid, "VmRSS");
  REQUIRE(idle > 0);
  RssWatch watch(pid);

  // The slowloris, on priest 2: one byte of a frame every 500 ms, from a fresh connection and
  // from a client that has already been answered once.
  struct Slow {
    std::unique_ptr<RawSocket> sock;
    std::optional<std::chrono::milliseconds> closed_after;  // from its slow frame's first byte
  };
  std::vector<Slow> slow(2);
  bool answered = false;
  // (No Catch assertion in this thread: they are checked after it ends. A jthread, so that
  // a failed REQUIRE meanwhile waits for it, at most 15 s, instead of terminating.)
  std::jthread slowloris([&] {
    for (auto& s : slow) s.sock = std::make_unique<RawSocket>(parl.addr.at(slow_victim).port);
    std::string status;
    append_frame(status, R"({"type":"status"})");
    answered = slow[1].sock->send_bytes(status) && slow[1].sock->read_frame(2s).has_value();
    std::string body = R"({"type":"status","padding":")" + std::string(900, 'x') + "\"}";
    std::string slow_frame;
    append_frame(slow_frame, body);
    auto first = std::chrono::steady_clock::now();
    for (size_t i = 0; i < slow_frame.size(); ++i) {
      if (std::chrono::steady_clock::now() - first > kClientFrameDeadline + 5s) break;
      bool open = false;
      for (auto& s : slow) {
        if (s.closed_after || s.sock->fd < 0) continue;
        Flood::Closed c;
        if (Flood::over(s.sock->fd, c) || !s.sock->send_bytes(slow_frame.substr(i, 1))) {
          s.closed_after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - first);
          continue;
        }
        open = true;
      }
      if (!open) break;
      std::this_thread::sleep_for(500ms);  // the slowloris's pace
    }
  });
  auto check_slowloris = [&] {
    CHECK(answered);
    for (size_t k = 0; k < slow.size(); ++k) {
      std::string name = k == 0 ? "a fresh connection" : "a client answered before";
      std::string what = slow[k].closed_after
                             ? "closed " + std::to_string(slow[k].closed_after->count()) + " ms after its first byte"
                             : "never closed";
      std::printf("hostile 9: slowloris, %s: %s\n", name.c_str(), what.c_str());
      INFO("slowloris, " << name << ": " << what);
      CHECK(slow[k].sock->fd >= 0);
      CHECK(slow[k].closed_after.has_value());
      if (slow[k].closed_after) CHECK(*slow[k].closed_after <= kClientFrameDeadline + 3s);
    }
  };

  // 48 connections to priest 1, each a 4-byte header announcing 4 MiB and then 1 MiB of it.
  constexpr size_t kConns = 48;
  Flood flood;
  std::string header("\x00\x40\x00\x00", 4);  // 4 MiB = max_frame_bytes
  flood.connect_to(parl.addr.at(victim).port, kConns, header);
  auto began = std::chrono::steady_clock::now();
  REQUIRE(flood.fds.size() == kConns);
  std::string mib(1 << 20, ' ');
  size_t sent_whole = 0;
  for (int fd : flood.fds) {
    size_t off = 0;
    while (off < mib.size()) {
      ssize_t n = ::send(fd, mib.data() + off, mib.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += size_t(n);
    }
    sent_whole += off == mib.size();
  }
  // At most 15 of them fit in the budget (16 x (1 MiB + 4) > 16 MiB): 33 or more are closed.
  Flood::Closed closed;
  bool budget = eventually([&] { return (closed = flood.closed()).all() >= kConns - 15; }, 5s);
  size_t closed_for_budget = closed.all();
  Proposer through_victim({parl.addr.at(victim)}, random_client_id());
  CHECK(honest.pass(through_victim, "during the flood", 5s));
  size_t rss = proc_kib(pid, "VmRSS");
  // The rest are closed by the frame deadline.
  bool all = eventually([&] { return (closed = flood.closed()).all() == kConns; },
                        std::chrono::duration_cast<std::chrono::milliseconds>(began + kClientFrameDeadline + 3s - std::chrono::steady_clock::now()));
  size_t peak = watch.finish();
  slowloris.join();
  check_slowloris();
  std::printf("hostile 9: priest %u RSS idle %zu KiB, during the flood %zu KiB, peak %zu KiB (+%zd KiB); "
              "%zu of %zu sent their MiB whole; closed for the budget %zu, after the deadline %zu (FIN %zu, reset %zu)\n",
              unsigned(victim), idle, rss, peak, ssize_t(peak) - ssize_t(idle), sent_whole, kConns, closed_for_budget, closed.all(),
              closed.fin, closed.reset);
  INFO("RSS idle " << idle << " KiB, during " << rss << " KiB, peak " << peak << " KiB; closed for the budget "
                   << closed_for_budget << ", in all " << closed.all());
  CHECK(budget);
  CHECK(log_lines(parl, victim, "unfinished frames hold more than") >= 1);
  CHECK(peak <= idle + kRssBoundKib);
  CHECK(all);
  unharmed(parl, honest, {1, 2, 3});
}

// 10. Before: every connection was plaintext, and after TLS came a handshake was begun for
// every connection that sent a byte; 4,096 connections each sending the start of a
// ClientHello would each hold a TLS session. Now at most the Admission's handshake cap are under way (the
// oldest go) and at most its pending cap wait: the priest's memory stays bounded and decrees pass.
TEST_CASE("hostile 10: 4,096 half-begun TLS handshakes", "[hostile]") {
  // A TLS record header (handshake, TLS 1.0 record version, 512 bytes) and the first bytes of
  // a ClientHello (type 1, length 508, version 3.3): the rest never comes.
  flood_attack("10", 4096, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
}

// 10b. The other side of the handshake bound: honest clients that open many connections at
// once. Before, with 64 handshakes under way the priest closed the oldest, which was an
// honest one still waiting its turn for the CPU: 1,000 clients over 100 connections lost a
// connection in about one run in three. Now the oldest goes only once it has been at it for
// a second, and up to 256 may be under way: 1,000 clients over 200 connections opened at
// the same moment all get through.
TEST_CASE("hostile 10b: an honest burst of 200 TLS connections is not cut down", "[hostile]") {
  raise_fd_limit(600);
  Parliament parl(3);
  INFO("files in " << parl.dir);
  convene(parl);
  REQUIRE(parl.president().has_value());
  Program bench({kBin + "/paxos-bench", "--config", parl.config_path, "--label", "burst", "--clients", "1000",
                 "--conns", "200", "--target", "president", "--val", "100", "--duration", "2", "--warmup", "0"},
                parl.dir / "bench.log");
  REQUIRE(bench.finish(60s));
  std::string out = bench.output();
  INFO(out);
  CHECK(bench.code == 0);
  CHECK(out.find("RESULT label=burst clients=1000 conns=200 ") != std::string::npos);
  CHECK(out.find(" errors=0 ") != std::string::npos);
  CHECK(out.find(" n=0 ") == std::string::npos);
}

// A TCP connection to 127.0.0.1:port from the local address `from` (host order) that sends
// `first_bytes`; its descriptor, or -1.
int connect_from(uint32_t from, uint16_t port, const std::string& first_bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in local{}, remote{};
  local.sin_family = remote.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(from);
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  remote.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0 ||
      ::send(fd, first_bytes.data(), first_bytes.size(), MSG_NOSIGNAL) != ssize_t(first_bytes.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

// 10c. Before: at the handshake cap a newcomer got in only when the oldest handshake had been
// at it for a second. One host (127.0.0.2) opening connections without pause, each sending the
// start of a ClientHello and closed by it after 800 ms, kept the cap full of handshakes younger
// than a second, and another host's clients were refused almost every time. Now at the cap the
// place is taken from the address holding the most: every client of the other host gets in.
TEST_CASE("hostile 10c: one host stalling handshakes does not keep another host's clients out", "[hostile]") {
  raise_fd_limit(8192);
  Parliament parl(3);
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  Proposer warmup(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(warmup, "before the attack"));
  const PriestId victim = *parl.president();
  const uint16_t port = parl.addr.at(victim).port;
  const std::string hello_start("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  std::atomic<bool> stop{false};
  std::atomic<size_t> opened{0}, failed{0};
  std::thread churn([&] {
    std::deque<std::pair<std::chrono::steady_clock::time_point, int>> held;
    while (!stop) {
      auto now = std::chrono::steady_clock::now();
      int fd = connect_from(0x7f000002, port, hello_start);
      if (fd >= 0) held.emplace_back(now, fd), ++opened;
      else ++failed;
      while (!held.empty() && now - held.front().first > 800ms) close(held.front().second), held.pop_front();
    }
    for (auto& [at, fd] : held) close(fd);
  });
  REQUIRE(eventually([&] { return opened >= 2000; }, 20s));
  size_t in = 0;
  const int kTries = 20;
  for (int i = 0; i < kTries; ++i) {
    TlsRaw c(port, party_context(parl.dir / "certs", Identity{tls::Role::Client}), 3s);
    if (c.handshaken && c.send_json({{"type", "status"}})) {
      auto r = c.read_frame(3s);
      if (r && r->value("type", "") == "status") ++in;
    }
    std::this_thread::sleep_for(50ms);  // (pacing: tries spread over the flood)
  }
  stop = true;
  churn.join();
  std::printf("hostile 10c: %zu of %d clients from 127.0.0.1 answered while 127.0.0.2 opened %zu connections "
              "(%zu failed)\n", in, kTries, size_t(opened), size_t(failed));
  CHECK(log_lines(parl, victim, "TLS handshakes under way") >= 1);  // (the flood filled the cap)
  CHECK(in == size_t(kTries));
  unharmed(parl, honest, {1, 2, 3});
}

// 13. Found by an attack review. Before: a ledger page was built on the priest's one I/O
// thread however long it took, up to 2 MiB of decrees, six bytes a character when escaped; a
// client pipelining 20 `ledger_hash` requests over such decrees held the president's thread
// for seconds and the parliament elected another. Now a page is an eighth of a frame and pages
// may take half the thread's time (a 100 ms burst): the rest are answered `overloaded`.
TEST_CASE("hostile 13: pipelined ledger pages of escaped decrees do not depose the president", "[hostile]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  convene(parl);
  Honest honest;
  Proposer proposer(parl.config.priests, random_client_id());
  const std::string text(60000, '\x01');
  for (int i = 0; i < 40; ++i) REQUIRE(honest.pass(proposer, text + std::to_string(i)));
  const PriestId president = *parl.president();
  auto elections = [&] {
    size_t n = 0;
    for (auto& [id, a] : parl.addr) n += count_lines(parl.log(id), "is president in ballot");
    return n;
  };
  const size_t before = elections();
  std::string asks;
  for (int i = 0; i < 20; ++i) append_frame(asks, R"({"type":"ledger_hash","from":1,"max":10000})");
  size_t answered = 0, overloaded = 0;
  const auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until) {
    TlsRaw c(parl.addr.at(president).port, party_context(parl.dir / "certs", Identity{tls::Role::Client}));
    REQUIRE(c.send_bytes(asks));
    for (int i = 0; i < 20; ++i) {
      auto r = c.read_frame(5s);
      if (!r) break;
      if (r->value("type", "") == "ledger_hash") ++answered;
      else if (reply_code(*r) == Code::Overloaded) ++overloaded;
    }
  }
  std::printf("hostile 13: %zu pages answered, %zu refused as overloaded; elections %zu before, %zu after\n",
              answered, overloaded, before, elections());
  CHECK(answered > 0);
  CHECK(elections() == before);
  CHECK(parl.president() == president);
  unharmed(parl, honest, {1, 2, 3});
}

// CPU time (user + system) a process has used so far, in clock ticks; 0 if unreadable.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream rest(text.substr(close_paren + 2));
  std::string field;
  long utime = 0, stime = 0;
  // Fields after the command: state (3) ... utime (14), stime (15).
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

size_t count_lines_with(const fs::path& file, const std::string& part) {
  std::ifstream in(file);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(part) != std::string::npos;
  return n;
}

// 11. Before the back-off: at the open-file limit every accept failed at once (EMFILE) and
// was tried again at once, 70-100 % of a core with no log line. Now the priest says so once
// per 10 s, tries again every kAcceptBackoff, and serves again once descriptors are free.
TEST_CASE("hostile 11: out of file descriptors", "[hostile]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  const PriestId victim = 3;
  parl.start(1);
  parl.start(2);
  parl.start(victim, 0, 64);  // room for its files, links and a few dozen connections
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
  Honest honest;
  Proposer warmup(parl.config.priests, random_client_id());
  REQUIRE(honest.pass(warmup, "before the attack"));
  pid_t pid = parl.pids.at(victim);

  Flood flood;
  flood.connect_to(parl.addr.at(victim).port, 200);  // the kernel completes them; the priest runs out
  INFO("connected " << flood.fds.size() << " (" << flood.failed << " failed)");
  REQUIRE(flood.fds.size() >= 150);
  REQUIRE(eventually([&] { return count_lines_with(parl.log(victim), "cannot accept connections") > 0; }, 5s));
  long before = cpu_ticks(pid);
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(2s);  // a measurement window, not a wait for an event
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = double(cpu_ticks(pid) - before) / double(sysconf(_SC_CLK_TCK)) / seconds;
  size_t lines = count_lines_with(parl.log(victim), "cannot accept connections");
  std::printf("hostile 11: priest %u out of descriptors: %.1f %% of a core over %.1f s, %zu log line(s)\n",
              unsigned(victim), cpu * 100, seconds, lines);
  CHECK(cpu < 0.25);
  CHECK(lines == 1);  // one per 10 s, however many accepts failed
  // The parliament goes on without it, and it serves again once the flood is gone.
  Proposer others({parl.addr.at(1), parl.addr.at(2)}, random_client_id());
  CHECK(honest.pass(others, "during the attack"));
  for (int fd : flood.fds) close(fd);
  flood.fds.clear();
  Proposer through_victim({parl.addr.at(victim)}, random_client_id());
  CHECK(honest.pass(through_victim, "after the attack, through the victim", 15s));
  unharmed(parl, honest, {1, 2, 3});
}

// The ledgers of `ids`, page by page (ledger_hash), once every one holds `length` decrees:
// the same in all of them.
bool same_ledgers(const Parliament& parl, const std::vector<PriestId>& ids, uint64_t length) {
  for (uint64_t from = 1; from <= length;) {
    std::optional<nlohmann::json> first;
    for (PriestId id : ids) {
      auto h = call_priest(parl.addr.at(id),
                           {{"type", "ledger_hash"}, {"from", from}, {"max", 10000}}, 2000ms);
      if (!h || h->value("type", "") != "ledger_hash" || (*h)["length"].get<uint64_t>() < length)
        return false;
      if (first && ((*h)["sha256"] != (*first)["sha256"] || (*h)["upto"] != (*first)["upto"]))
        return false;
      if (!first) first = *h;
    }
    uint64_t upto = (*first)["upto"].get<uint64_t>();
    if (upto < from) return false;
    from = upto + 1;
  }
  return true;
}

// 12. Before: a priest whose process stopped with its connections open (SIGSTOP; a hung
// machine looks the same) read nothing, and the president queued every begin ballot,
// successful ballot and catch-up for it, up to 64 MiB for each such priest: 90 MiB of decrees
// passed by the other two grew the president by 45 - 49 MiB. Now the president tells nothing
// to a priest it has not heard within an election timeout, and begin ballots sent again and
// catch-ups are not queued behind a backlog: it stays within half of kRssBoundKib (+14 to +18
// MiB measured), decrees pass meanwhile, and the stopped priest, resumed, learns them all.
TEST_CASE("hostile 12: a priest that stops reading costs its president a few MiB", "[hostile]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  convene(parl);
  const PriestId president = *parl.president();
  const PriestId stopped = president == 1 ? 2 : 1;
  const pid_t ppid = parl.pids.at(president);
  // Decrees of this size before the idle reading, so that the allocator's pools are warm.
  const std::string text(60 * 1024, 'd');
  Proposer proposer({parl.addr.at(president)}, random_client_id());
  for (int i = 0; i < 20; ++i) REQUIRE(proposer.propose(text, 10s).passed);
  const size_t idle = proc_kib(ppid, "VmRSS");
  RssWatch watch(ppid);
  REQUIRE(::kill(parl.pids.at(stopped), SIGSTOP) == 0);
  struct Resume {  // (also when a check below ends the test early)
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{parl.pids.at(stopped)};
  // 1,500 decrees of 60 KiB (90 MiB), from four clients at once, pass by the other two.
  std::atomic<int> failed{0};
  std::mutex told_mu;
  std::set<uint64_t> told;  // the numbers the clients were told
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&] {
      Proposer p({parl.addr.at(president)}, random_client_id());
      for (int i = 0; i < 375; ++i) {
        auto out = p.propose(text, 10s);
        if (!out.passed) {
          ++failed;
          continue;
        }
        std::lock_guard lock(told_mu);
        told.insert(out.decree_no);
      }
    });
  for (auto& t : clients) t.join();
  const size_t peak = watch.finish();
  REQUIRE(::kill(resume.pid, SIGCONT) == 0);
  std::printf(
      "hostile 12: priest %u stopped; president %u RSS idle %zu KiB, peak %zu KiB (+%zd KiB); "
      "%d of 1500 proposals not passed\n",
      unsigned(stopped), unsigned(president), idle, peak, ssize_t(peak) - ssize_t(idle),
      failed.load());
  CHECK(failed == 0);
  CHECK(told.size() == size_t(1500 - failed));  // no number told twice
  REQUIRE_FALSE(told.empty());
  CHECK(peak <= idle + kRssBoundKib / 2);
  // Resumed, the stopped priest learns every decree: three identical ledgers.
  CHECK(proposer.propose("after the stop", 10s).passed);
  CHECK(eventually([&] { return same_ledgers(parl, {1, 2, 3}, *told.rbegin()); }, 30s));
}
