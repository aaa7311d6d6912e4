// A priest's client connections at their edges, against the real binary: what a priest
// owes a client that closes its side at once (server/conn.cpp).
#include "tests/common/harness.hpp"

#include <sys/socket.h>

#include <array>

#include <openssl/ssl.h>

#include "net/tls_session.hpp"

using namespace harness;
using nlohmann::json;

namespace {

// A TLS client over a blocking socket, driven through tls::Session, so that the test decides
// which bytes leave in which write.
struct BareClient {
  asio::io_context io;
  asio::ip::tcp::socket sock{io};
  tls::Session session;
  std::string plain;  // what the priest sent, decrypted

  // rcvbuf: the socket's receive buffer (0: the kernel's), set before connecting.
  BareClient(uint16_t port, asio::ssl::context& ctx, int rcvbuf = 0)
      : session(ctx, tls::Session::Side::Client) {
    sock.open(asio::ip::tcp::v4());
    if (rcvbuf) ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sock.connect({asio::ip::address_v4::loopback(), port});
    timeval wait{5, 0};  // no read blocks the test for longer
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    while (!session.established()) {
      flush();
      REQUIRE(feed());
    }
  }
  // Writes what the session holds, in one write.
  void flush() {
    std::string out;
    session.take_output(out);
    if (!out.empty()) asio::write(sock, asio::buffer(out));
  }
  // Reads once; false at the end of the stream or on an error.
  bool feed() {
    std::array<char, 16384> buf;
    asio::error_code ec;
    size_t n = sock.read_some(asio::buffer(buf), ec);
    if (ec) return false;
    return session.receive(std::string_view(buf.data(), n), plain) != tls::Session::Status::Failed;
  }
  void request(const std::string& payload) {
    std::string framed;
    append_frame(framed, payload);
    REQUIRE(session.seal(framed) == tls::Session::Status::Ok);
    flush();
  }
  // The whole frames received so far.
  size_t frames() const {
    FrameDecoder decoder;
    if (!decoder.feed(plain)) return 0;
    size_t n = 0;
    while (decoder.next()) ++n;
    return n;
  }
};

// Three priests whose client connections are idle after 500 ms, a president among them.
struct QuickIdle {
  Parliament parl{3};
  QuickIdle() {
    auto cfg = nlohmann::json::parse(slurp(parl.config_path));
    cfg["client_idle_timeout_ms"] = 500;
    std::ofstream(parl.config_path) << cfg.dump(2);
    for (auto& p : parl.config.priests) parl.start(p.id);
    parl.bootstrap();
    REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
  }
};

}  // namespace

// Before: a reply was written once the handler that made it returned, and a close_notify
// read with the request closed the connection in that same handler, dropping the reply.
TEST_CASE("conn: a request and close_notify in one packet: the answer comes, then the close",
          "[conn]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
  auto ctx = party_context(parl.dir / "certs", tls::Identity{tls::Role::Client});
  BareClient c(parl.addr.at(1).port, *ctx);
  std::string request;
  append_frame(request, R"({"type":"status"})");
  REQUIRE(c.session.seal(request) == tls::Session::Status::Ok);
  SSL_shutdown(c.session.native());  // close_notify, sealed behind the request
  c.flush();                         // both in one write
  while (c.feed()) {                 // until the priest closes (or 5 s pass without a byte)
  }
  FrameDecoder decoder;
  REQUIRE(decoder.feed(c.plain));
  auto reply = decoder.next();
  REQUIRE(reply);
  auto j = parse_object(*reply);
  REQUIRE(j);
  CHECK((*j)["type"] == "status");
}

// Before: the idle sweep closed a watch after client_idle_timeout_ms, since a watcher asks
// nothing after its first frame; the watch then hopped to another priest.
TEST_CASE("conn: a watcher is not idle, however long it says nothing after asking", "[conn]") {
  QuickIdle q;
  INFO("files in " << q.parl.dir);
  auto ctx = party_context(q.parl.dir / "certs", tls::Identity{tls::Role::Client});
  BareClient c(q.parl.addr.at(1).port, *ctx);
  c.request(R"({"type":"watch","from":1})");
  // Four idle timeouts: the priest's word, every 500 ms, comes on the one connection.
  auto until = std::chrono::steady_clock::now() + 2s;
  bool open = true;
  while (open && std::chrono::steady_clock::now() < until) open = c.feed();
  CHECK(open);
  CHECK(c.frames() >= 3);
}

// Before: a client connection with a reply not yet written was never idle, so a client
// that stopped reading held its connection and replies for good.
TEST_CASE("conn: a client that stops reading its replies is cut after client_idle_timeout_ms",
          "[conn]") {
  QuickIdle q;
  INFO("files in " << q.parl.dir);
  auto ctx = party_context(q.parl.dir / "certs", tls::Identity{tls::Role::Client});
  BareClient c(q.parl.addr.at(1).port, *ctx, 4096);
  c.request(R"({"type":"status"})");
  while (c.frames() == 0) REQUIRE(c.feed());
  // 6 MiB of answers: more than the kernel's buffers take (4 MiB at most, net.ipv4.tcp_wmem),
  // less than the two frames' worth that would cut the connection at once.
  const size_t asked = 1 + (6u << 20) / c.plain.size();
  for (size_t i = 1; i < asked; ++i) c.request(R"({"type":"status"})");
  // Past the idle timeout, reading nothing; then everything the priest still sends.
  REQUIRE(eventually(
      [&] { return slurp(q.parl.log(1)).find("read none of its replies") != std::string::npos; },
      5s));
  while (c.feed()) {}
  CHECK(c.frames() < asked);
}

// Before: a burst of proposals beyond the president's queue (max_queued_bytes) was read whole
// and most of it refused as overloaded, to come straight back; with 1,000 clients of 16 KiB
// the president's thread spent itself on them and lost its presidency. Now it reads no more
// from clients while the queue has no room: the burst waits in the socket, and all of it passes.
TEST_CASE("conn: a burst beyond the president's queue waits in the socket, and passes", "[conn]") {
  Parliament parl(3);
  INFO("files in " << parl.dir);
  auto cfg = json::parse(slurp(parl.config_path));
  cfg["max_queued_bytes"] = 4096;  // its own half: room for one more of the longest decree
  cfg["max_decree_bytes"] = 1024;
  std::ofstream(parl.config_path) << cfg.dump(2);
  for (auto& p : parl.config.priests) parl.start(p.id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
  auto ctx = party_context(parl.dir / "certs", tls::Identity{tls::Role::Client});
  BareClient c(parl.addr.at(*parl.president()).port, *ctx);
  const int n = 60;  // 60 KB in one write: fifteen times the queue
  std::string burst;
  for (int i = 1; i <= n; ++i)
    append_frame(burst, json{{"type", "propose"},
                             {"client", i},
                             {"request", 1},
                             {"decree", std::string(1000, char('a' + i % 26))}}
                            .dump());
  REQUIRE(c.session.seal(burst) == tls::Session::Status::Ok);
  c.flush();
  while (c.frames() < size_t(n) && c.feed()) {}
  FrameDecoder decoder;
  REQUIRE(decoder.feed(c.plain));
  int passed = 0;
  while (auto reply = decoder.next()) {
    auto j = parse_object(*reply);
    REQUIRE(j);
    INFO(j->dump());
    CHECK(j->value("ok", false));
    passed += j->value("ok", false);
  }
  CHECK(passed == n);
}
