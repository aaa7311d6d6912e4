// TLS credentials: paxos-god's certificate maker (server/certs.hpp), the checks of
// make_context (net/tls.hpp), and real mutual-TLS handshakes over 127.0.0.1.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

#include "net/tls.hpp"
#include "net/tls_session.hpp"
#include "server/certs.hpp"

using namespace parliament;
namespace fs = std::filesystem;
using tls::Identity;
using tls::Role;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("parliament-tls-" + std::to_string(rd()) + "-" + std::to_string(rd()));
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

const Identity kPriest1{Role::Priest, 1}, kPriest2{Role::Priest, 2}, kGod{Role::God},
    kClient{Role::Client};

// Makes credentials, recording what was made and kept.
struct Maker {
  std::vector<std::string> made, kept;
  Status run(const std::string& dir, const std::vector<Identity>& who, certs::Options o = {}) {
    o.on_file = [this](const std::string& path, bool m) { (m ? made : kept).push_back(path); };
    return certs::make_credentials(dir, who, o);
  }
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::string context_error(const tls::Files& files, const Identity& who) {
  auto ctx = tls::make_context(files, who);
  REQUIRE_FALSE(ctx.ok());
  return ctx.error();
}

// What each end of one handshake saw.
struct Handshake {
  std::optional<std::error_code> server, client, client_read;
  std::optional<Result<Identity>> server_sees, client_sees;
};

// One connection over 127.0.0.1 in one io_context: the server accepts and handshakes, then
// writes one byte; the client connects, handshakes and reads that byte. In TLS 1.3 a client
// finishes its handshake before the server has checked the client's certificate, so a
// refused client learns it only on that read.
Handshake handshake(asio::ssl::context& server_ctx, asio::ssl::context& client_ctx) {
  using asio::ip::tcp;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ssl::stream<tcp::socket> server(io, server_ctx), client(io, client_ctx);
  Handshake h;
  char byte = 0;
  acceptor.async_accept(server.next_layer(), [&](std::error_code ec) {
    if (ec) return void(h.server = ec);
    server.async_handshake(asio::ssl::stream_base::server, [&](std::error_code ec) {
      h.server = ec;
      if (ec) return server.next_layer().close();
      h.server_sees = tls::peer_identity(server.native_handle());
      asio::async_write(server, asio::buffer("!", 1), [](std::error_code, size_t) {});
    });
  });
  client.next_layer().async_connect(acceptor.local_endpoint(), [&](std::error_code ec) {
    if (ec) return void(h.client = ec);
    client.async_handshake(asio::ssl::stream_base::client, [&](std::error_code ec) {
      h.client = ec;
      if (ec) return;
      h.client_sees = tls::peer_identity(client.native_handle());
      asio::async_read(client, asio::buffer(&byte, 1),
                       [&](std::error_code ec, size_t) { h.client_read = ec; });
    });
  });
  io.run_for(std::chrono::seconds(10));
  return h;
}

std::shared_ptr<asio::ssl::context> context(const std::string& dir, const Identity& who) {
  auto ctx = tls::make_context(tls::files_for(dir, who), who);
  INFO(ctx.error());
  REQUIRE(ctx.ok());
  return *ctx;
}

// A context built by hand (not by make_context, which would refuse it): presents `who`'s
// files from `dir`, a parliament's, and trusts the CA in `trusted`, another's. Used so that
// only the other end of a handshake can refuse it.
std::shared_ptr<asio::ssl::context> stranger(const std::string& dir, const Identity& who,
                                             const std::string& trusted) {
  auto f = tls::files_for(dir, who);
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  ctx->use_certificate_file(f.cert, asio::ssl::context::pem);
  ctx->use_private_key_file(f.key, asio::ssl::context::pem);
  ctx->load_verify_file(trusted);
  ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

}  // namespace

TEST_CASE("tls: identity URIs are exactly urn:parliament:priest:N, god or client", "[tls]") {
  for (Identity who : {kPriest1, Identity{Role::Priest, 1000000}, kGod, kClient}) {
    auto back = tls::parse_identity_uri(tls::identity_uri(who));
    REQUIRE(back);
    CHECK(*back == who);
  }
  CHECK(tls::identity_uri(Identity{Role::Priest, 3}) == "urn:parliament:priest:3");
  CHECK(tls::identity_uri(kGod) == "urn:parliament:god");
  CHECK(tls::identity_uri(kClient) == "urn:parliament:client");
  CHECK(tls::describe(Identity{Role::Priest, 3}) == "priest 3");
  CHECK(tls::describe(kGod) == "the god");
  CHECK(tls::describe(kClient) == "a client");
  CHECK(tls::common_name(Identity{Role::Priest, 3}) == "parliament priest 3");
  for (const char* bad : {"urn:parliament:priest:0", "urn:parliament:priest:1000001",
                          "urn:parliament:priest:03", "urn:parliament:priest:", "urn:parliament:priest:1x",
                          "urn:parliament:priest:-1", "urn:parliament:priest:+1", "URN:parliament:god",
                          "urn:parliament:God", "urn:parliament:gods", "urn:parliament:", "urn:other:god",
                          "urn:parliament:priest:99999999999", ""})
    CHECK_FALSE(tls::parse_identity_uri(bad));
  auto f = tls::files_for("certs", Identity{Role::Priest, 3});
  CHECK(f.ca == "certs/ca.crt");
  CHECK(f.cert == "certs/priest-3.crt");
  CHECK(f.key == "certs/priest-3.key");
  CHECK(tls::files_for("certs/", kGod).cert == "certs/god.crt");
  CHECK(tls::files_for("certs", kClient).key == "certs/client.key");
}

TEST_CASE("certs: a CA and every party's key and certificate, keys 0600, kept when run again", "[tls]") {
  TempDir d;
  const std::string dir = (d.path / "creds").string();
  Maker first;
  auto s = first.run(dir, certs::parties({1, 2, 3}));
  INFO(s.error());
  REQUIRE(s.ok());
  CHECK(first.kept.empty());
  CHECK(first.made.size() == 2 + 2 * 5);  // CA + three priests, the god, the client

  const mode_t mask = ::umask(0);
  ::umask(mask);
  CHECK(mode_of(dir) == (0700u & ~mask));
  for (const auto& who : certs::parties({1, 2, 3})) {
    auto f = tls::files_for(dir, who);
    CHECK(mode_of(f.key) == 0600);
    CHECK(mode_of(f.cert) == (0644u & ~mask));
  }
  CHECK(mode_of(dir + "/ca.key") == 0600);
  CHECK(mode_of(dir + "/ca.crt") == (0644u & ~mask));

  // Again: everything kept. With priest 6 added: only priest-6.* made.
  const std::string ca_before = read_all(dir + "/ca.crt");
  const std::string p1_before = read_all(dir + "/priest-1.key");
  Maker again;
  REQUIRE(again.run(dir, certs::parties({1, 2, 3})).ok());
  CHECK(again.made.empty());
  CHECK(again.kept.size() == 2 + 2 * 5);
  Maker grown;
  REQUIRE(grown.run(dir, certs::parties({1, 2, 3, 6})).ok());
  CHECK(grown.made == std::vector<std::string>{dir + "/priest-6.key", dir + "/priest-6.crt"});
  CHECK(read_all(dir + "/ca.crt") == ca_before);
  CHECK(read_all(dir + "/priest-1.key") == p1_before);
  CHECK(tls::make_context(tls::files_for(dir, Identity{Role::Priest, 6}), Identity{Role::Priest, 6}).ok());

  // A key whose certificate is missing (a run cut short) gets its certificate.
  fs::remove(dir + "/priest-2.crt");
  Maker finish;
  REQUIRE(finish.run(dir, certs::parties({1, 2, 3})).ok());
  CHECK(finish.made == std::vector<std::string>{dir + "/priest-2.crt"});
  CHECK(tls::make_context(tls::files_for(dir, kPriest2), kPriest2).ok());

  // --force: everything anew, the CA included; the keys still 0600.
  Maker forced;
  certs::Options o;
  o.force = true;
  REQUIRE(forced.run(dir, certs::parties({1, 2, 3}), o).ok());
  CHECK(forced.made.size() == 2 + 2 * 5);
  CHECK(forced.kept.empty());
  CHECK(read_all(dir + "/ca.crt") != ca_before);
  CHECK(read_all(dir + "/priest-1.key") != p1_before);
  CHECK(mode_of(dir + "/priest-1.key") == 0600);
  CHECK(tls::make_context(tls::files_for(dir, kPriest1), kPriest1).ok());
}

TEST_CASE("certs: refuses to sign without ca.key, or to keep another parliament's leaves", "[tls]") {
  TempDir d;
  REQUIRE(Maker().run(d.str(), certs::parties({1})).ok());
  fs::remove(d.path / "ca.key");
  // Nothing to sign: fine without the CA's key.
  CHECK(Maker().run(d.str(), certs::parties({1})).ok());
  // Priest 2 needs a certificate: the missing ca.key is named.
  auto s = Maker().run(d.str(), certs::parties({1, 2}));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error(), Catch::Contains((d.path / "ca.key").string() + " is missing"));

  // A certificate without its key.
  fs::remove(d.path / "god.key");
  s = Maker().run(d.str(), certs::parties({1}));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error(), Catch::Contains((d.path / "god.crt").string() + " exists but its key"));

  // Leaves kept beside a new CA are of another parliament.
  TempDir e;
  REQUIRE(Maker().run(e.str(), certs::parties({1})).ok());
  fs::remove(e.path / "ca.crt");
  fs::remove(e.path / "ca.key");
  s = Maker().run(e.str(), certs::parties({1}));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error(), Catch::Contains((e.path / "priest-1.crt").string() + " is not signed by"));
}

TEST_CASE("tls: make_context loads each party's files and names the file at fault", "[tls]") {
  TempDir d;
  REQUIRE(Maker().run(d.str(), certs::parties({1, 2})).ok());
  for (Identity who : {kPriest1, kPriest2, kGod, kClient}) {
    auto ctx = tls::make_context(tls::files_for(d.str(), who), who);
    INFO(tls::describe(who) << ": " << ctx.error());
    CHECK(ctx.ok());
  }
  const tls::Files p1 = tls::files_for(d.str(), kPriest1), p2 = tls::files_for(d.str(), kPriest2);

  SECTION("a missing certificate") {
    tls::Files f = p1;
    f.cert = (d.path / "priest-9.crt").string();
    CHECK_THAT(context_error(f, kPriest1), Catch::Contains("cannot read " + f.cert + ": No such file"));
  }
  SECTION("a missing CA certificate") {
    tls::Files f = p1;
    f.ca = (d.path / "nowhere.crt").string();
    CHECK_THAT(context_error(f, kPriest1), Catch::Contains("cannot read " + f.ca));
  }
  SECTION("the key of another certificate") {
    tls::Files f = p1;
    f.key = p2.key;
    CHECK_THAT(context_error(f, kPriest1), Catch::Contains(p2.key + " is not the key of " + p1.cert));
  }
  SECTION("a certificate of another parliament") {
    TempDir foreign;
    REQUIRE(Maker().run(foreign.str(), certs::parties({1})).ok());
    tls::Files f = tls::files_for(foreign.str(), kPriest1);
    f.ca = p1.ca;
    CHECK_THAT(context_error(f, kPriest1),
               Catch::Contains(f.cert + " is not signed by the parliament's CA in " + p1.ca +
                               ": certificates of another parliament?"));
  }
  SECTION("priest 2's files loaded as priest 1") {
    CHECK_THAT(context_error(p2, kPriest1), Catch::Contains(p2.cert + " names priest 2, not priest 1"));
    CHECK_THAT(context_error(tls::files_for(d.str(), kGod), kClient),
               Catch::Contains("god.crt names the god, not a client"));
  }
  SECTION("an expired certificate, and one not valid yet") {
    TempDir other;  // the same CA, leaves made with validity in the past / future
    fs::create_directories(other.path);
    fs::copy_file(d.path / "ca.crt", other.path / "ca.crt");
    fs::copy_file(d.path / "ca.key", other.path / "ca.key");
    certs::Options past;
    past.leaf_valid_from = -certs::Seconds(3 * 86400);
    past.leaf_valid_for = certs::Seconds(86400);
    REQUIRE(Maker().run(other.str(), {kPriest1}, past).ok());
    const tls::Files f = tls::files_for(other.str(), kPriest1);
    CHECK_THAT(context_error(f, kPriest1), Catch::Contains(f.cert + " expired on 20"));
    CHECK_THAT(context_error(f, kPriest1), Catch::Contains(" UTC"));

    certs::Options future;
    future.leaf_valid_from = certs::Seconds(86400);
    REQUIRE(Maker().run(other.str(), {kGod}, future).ok());
    const tls::Files g = tls::files_for(other.str(), kGod);
    CHECK_THAT(context_error(g, kGod), Catch::Contains(g.cert + " is not valid until 20"));
  }
  SECTION("garbage instead of PEM") {
    TempDir other;
    fs::create_directories(other.path);
    const std::string junk = (other.path / "junk.pem").string();
    std::ofstream(junk) << "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";
    tls::Files f = p1;
    f.cert = junk;
    CHECK_THAT(context_error(f, kPriest1), Catch::Contains(junk + " is not a PEM certificate"));
    f = p1;
    f.key = junk;
    CHECK_THAT(context_error(f, kPriest1), Catch::Contains(junk + " is not a PEM private key"));
    f = p1;
    f.ca = p1.key;  // a key where the CA certificate belongs
    CHECK_THAT(context_error(f, kPriest1), Catch::Contains(p1.key + " is not a PEM certificate"));
  }
}

TEST_CASE("tls: mutual handshakes over 127.0.0.1 tell each end who the other is", "[tls]") {
  TempDir d;
  REQUIRE(Maker().run(d.str(), certs::parties({1, 2})).ok());
  auto priest1 = context(d.str(), kPriest1);

  SECTION("a client to priest 1") {
    auto client = context(d.str(), kClient);
    Handshake h = handshake(*priest1, *client);
    REQUIRE(h.server);
    REQUIRE(h.client);
    INFO("server: " << h.server->message() << "; client: " << h.client->message());
    REQUIRE_FALSE(*h.server);
    REQUIRE_FALSE(*h.client);
    REQUIRE(h.server_sees);
    INFO(h.server_sees->error());
    REQUIRE(h.server_sees->ok());
    CHECK(**h.server_sees == kClient);
    REQUIRE(h.client_sees);
    REQUIRE(h.client_sees->ok());
    CHECK(**h.client_sees == kPriest1);
    REQUIRE(h.client_read);
    CHECK_FALSE(*h.client_read);
  }
  SECTION("priest 2 to priest 1") {
    auto priest2 = context(d.str(), kPriest2);
    Handshake h = handshake(*priest1, *priest2);
    REQUIRE(h.server);
    REQUIRE(h.client);
    REQUIRE_FALSE(*h.server);
    REQUIRE_FALSE(*h.client);
    REQUIRE(h.server_sees);
    REQUIRE(h.server_sees->ok());
    CHECK(**h.server_sees == kPriest2);
    REQUIRE(h.client_sees);
    REQUIRE(h.client_sees->ok());
    CHECK(**h.client_sees == kPriest1);
  }
  SECTION("a client of another parliament is refused by the priest") {
    TempDir foreign;
    REQUIRE(Maker().run(foreign.str(), certs::parties({1})).ok());
    // It trusts this parliament's CA, so only priest 1's check of its certificate can fail.
    auto client = stranger(foreign.str(), kClient, d.str() + "/ca.crt");
    Handshake h = handshake(*priest1, *client);
    REQUIRE(h.server);
    INFO("server: " << h.server->message());
    CHECK(*h.server);
    CHECK_FALSE(h.server_sees);
    // TLS 1.3: the client's handshake completes before the server has judged it; the
    // refusal reaches the client as an alert on its first read.
    REQUIRE(h.client);
    INFO("client handshake: " << h.client->message() << "; client read: "
                              << (h.client_read ? h.client_read->message() : "none"));
    CHECK((*h.client || (h.client_read && *h.client_read)));
  }
  SECTION("a priest of another parliament is refused by the client") {
    TempDir foreign;
    REQUIRE(Maker().run(foreign.str(), certs::parties({1})).ok());
    auto server = stranger(foreign.str(), kPriest1, d.str() + "/ca.crt");
    auto client = context(d.str(), kClient);
    Handshake h = handshake(*server, *client);
    REQUIRE(h.client);
    INFO("client: " << h.client->message());
    CHECK(*h.client);
    CHECK_FALSE(h.client_sees);
    REQUIRE(h.server);
    CHECK(*h.server);
  }
  SECTION("a client that presents no certificate is refused") {
    asio::ssl::context bare(asio::ssl::context::tls);
    SSL_CTX_set_min_proto_version(bare.native_handle(), TLS1_3_VERSION);
    bare.load_verify_file(d.str() + "/ca.crt");
    bare.set_verify_mode(asio::ssl::verify_peer);
    Handshake h = handshake(*priest1, bare);
    REQUIRE(h.server);
    INFO("server: " << h.server->message());
    CHECK(*h.server);
    CHECK_FALSE(h.server_sees);
    REQUIRE(h.client);
    INFO("client handshake: " << h.client->message() << "; client read: "
                              << (h.client_read ? h.client_read->message() : "none"));
    CHECK((*h.client || (h.client_read && *h.client_read)));
  }
}

TEST_CASE("tls: peer_identity before a handshake is an error, not an identity", "[tls]") {
  TempDir d;
  REQUIRE(Maker().run(d.str(), certs::parties({1})).ok());
  auto ctx = context(d.str(), kPriest1);
  SSL* ssl = SSL_new(ctx->native_handle());
  REQUIRE(ssl);
  auto who = tls::peer_identity(ssl);
  SSL_free(ssl);
  REQUIRE_FALSE(who.ok());
  CHECK_THAT(who.error(), Catch::Contains("handshake has not completed"));
  CHECK_FALSE(tls::peer_identity(nullptr).ok());
}

// The default directory is relative (config/local.json says ../data/certs): a relative
// directory that does not exist yet, and one whose parent does not either, are made.
TEST_CASE("certs: a relative directory that does not exist yet is made", "[tls]") {
  TempDir d;
  fs::create_directories(d.path);
  auto before = fs::current_path();
  fs::current_path(d.path);
  auto a = certs::make_credentials("certs", certs::parties({1}));
  auto b = certs::make_credentials("deeper/still/certs", certs::parties({1}));
  fs::current_path(before);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(fs::exists(d.path / "certs" / "priest-1.key"));
  CHECK(fs::exists(d.path / "deeper" / "still" / "certs" / "client.crt"));
}

// ---------------------------------------------------------------- tls::Session

namespace {

// Two Sessions wired back to back in memory: whatever one outputs is what the other receives.
struct Pair {
  tls::Session client, server;
  std::string client_got, server_got;  // plaintext each received
  tls::Session::Status client_status = tls::Session::Status::Ok, server_status = tls::Session::Status::Ok;
  Pair(asio::ssl::context& client_ctx, asio::ssl::context& server_ctx)
      : client(client_ctx, tls::Session::Side::Client), server(server_ctx, tls::Session::Side::Server) {}
  // Moves bytes both ways until neither has anything to say; `chunk` bytes at a time.
  void pump(size_t chunk = SIZE_MAX) {
    for (int round = 0; round < 100 && (client.has_output() || server.has_output()); ++round) {
      std::string bytes;
      client.take_output(bytes);
      for (size_t i = 0; i < bytes.size() && server_status == tls::Session::Status::Ok; i += chunk)
        server_status = server.receive(std::string_view(bytes).substr(i, chunk), server_got);
      bytes.clear();
      server.take_output(bytes);
      for (size_t i = 0; i < bytes.size() && client_status == tls::Session::Status::Ok; i += chunk)
        client_status = client.receive(std::string_view(bytes).substr(i, chunk), client_got);
    }
  }
};

}  // namespace

TEST_CASE("tls::Session: a handshake and records in memory, whole or a byte at a time", "[tls]") {
  TempDir d;
  REQUIRE(Maker().run(d.str(), certs::parties({1})).ok());
  auto priest1 = context(d.str(), kPriest1);
  auto client = context(d.str(), kClient);
  Pair p(*client, *priest1);
  CHECK(p.client.has_output());  // the client's hello, at once
  CHECK_FALSE(p.server.established());
  size_t chunk = GENERATE(size_t(1), size_t(7), SIZE_MAX);
  p.pump(chunk);
  REQUIRE(p.client_status == tls::Session::Status::Ok);
  REQUIRE(p.server_status == tls::Session::Status::Ok);
  REQUIRE(p.client.established());
  REQUIRE(p.server.established());
  auto server_sees = tls::peer_identity(p.server.native());
  REQUIRE(server_sees.ok());
  CHECK(*server_sees == kClient);
  auto client_sees = tls::peer_identity(p.client.native());
  REQUIRE(client_sees.ok());
  CHECK(*client_sees == kPriest1);

  // A megabyte and a few bytes, sealed at once into many records, arrive whole and in order.
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 31 + 7);
  REQUIRE(p.client.seal(big) == tls::Session::Status::Ok);
  REQUIRE(p.client.seal("tail") == tls::Session::Status::Ok);
  p.pump(chunk == 1 ? 4096 : chunk);  // (a byte at a time would take a while for a megabyte)
  REQUIRE(p.server_got.size() == big.size() + 4);
  CHECK(p.server_got == big + "tail");
  REQUIRE(p.server.seal("reply") == tls::Session::Status::Ok);
  p.pump(chunk);
  CHECK(p.client_got == "reply");
}

// Why a connection seals at most kWriteBatch for one write (server/conn.cpp): what OpenSSL
// allocates for output keeps the largest size it ever held.
TEST_CASE("tls::Session: output sealed a piece at a time holds a piece, not the whole", "[tls]") {
  TempDir d;
  REQUIRE(Maker().run(d.str(), certs::parties({1})).ok());
  auto priest1 = context(d.str(), kPriest1);
  auto client = context(d.str(), kClient);
  Pair p(*client, *priest1);
  p.pump();
  REQUIRE(p.client.established());
  const std::string frame(4 << 20, 'x');
  const size_t piece = 256 << 10;
  SECTION("sealed at once, the whole stays allocated after it was taken") {
    REQUIRE(p.client.seal(frame) == tls::Session::Status::Ok);
    p.pump();
    CHECK(p.server_got.size() == frame.size());
    CHECK(p.client.output_capacity() >= frame.size());
  }
  SECTION("sealed a piece at a time, taken between pieces: about a piece") {
    for (size_t at = 0; at < frame.size(); at += piece) {
      REQUIRE(p.client.seal(std::string_view(frame).substr(at, piece)) == tls::Session::Status::Ok);
      p.pump();
    }
    CHECK(p.server_got == frame);
    CHECK(p.client.output_capacity() < 2 * piece);
  }
}

TEST_CASE("tls::Session: refusals and damage are failures that say why", "[tls]") {
  TempDir d;
  REQUIRE(Maker().run(d.str(), certs::parties({1})).ok());
  auto priest1 = context(d.str(), kPriest1);

  SECTION("a client of another parliament: the server fails, naming the certificate") {
    TempDir foreign;
    REQUIRE(Maker().run(foreign.str(), certs::parties({1})).ok());
    auto client = stranger(foreign.str(), kClient, d.str() + "/ca.crt");
    Pair p(*client, *priest1);
    p.pump();
    REQUIRE(p.server_status == tls::Session::Status::Failed);
    CHECK_THAT(p.server.error(), Catch::Contains("certificate"));
    CHECK_FALSE(p.server.established());
    // The alert reached the client, which fails too instead of waiting.
    CHECK(p.client_status == tls::Session::Status::Failed);
  }
  SECTION("bytes that are not TLS") {
    auto client = context(d.str(), kClient);
    tls::Session server(*priest1, tls::Session::Side::Server);
    std::string plain;
    CHECK(server.receive("GET / HTTP/1.1\r\nHost: x\r\n\r\n", plain) == tls::Session::Status::Failed);
    CHECK(plain.empty());
    CHECK_FALSE(server.error().empty());
    // Failed stays failed.
    CHECK(server.receive("more", plain) == tls::Session::Status::Failed);
  }
  SECTION("a record altered on the way does not decrypt") {
    auto client = context(d.str(), kClient);
    Pair p(*client, *priest1);
    p.pump();
    REQUIRE(p.server.established());
    REQUIRE(p.client.seal("decree 7: wine for everyone") == tls::Session::Status::Ok);
    std::string bytes;
    p.client.take_output(bytes);
    bytes[bytes.size() / 2] ^= 1;
    CHECK(p.server.receive(bytes, p.server_got) == tls::Session::Status::Failed);
    CHECK(p.server_got.empty());
  }
  SECTION("close_notify ends the stream after what came before it") {
    auto client = context(d.str(), kClient);
    Pair p(*client, *priest1);
    p.pump();
    REQUIRE(p.client.seal("last words") == tls::Session::Status::Ok);
    SSL_shutdown(p.client.native());
    std::string bytes;
    p.client.take_output(bytes);
    CHECK(p.server.receive(bytes, p.server_got) == tls::Session::Status::PeerClosed);
    CHECK(p.server_got == "last words");
  }
  SECTION("sealing before the handshake is refused") {
    tls::Session server(*priest1, tls::Session::Side::Server);
    CHECK(server.seal("early") == tls::Session::Status::Failed);
  }
}
