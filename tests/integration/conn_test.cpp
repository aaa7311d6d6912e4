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

  BareClient(uint16_t port, asio::ssl::context& ctx) : session(ctx, tls::Session::Side::Client) {
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
