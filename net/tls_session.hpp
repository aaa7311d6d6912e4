// tls::Session: one TLS connection driven through memory buffers, without a socket.
//
// Bytes read from the socket go in with receive(), which returns everything they decrypt to;
// plaintext to send goes in with seal(); take_output() hands over what must be written to the
// socket (handshake messages, alerts, sealed records). The caller owns the socket and all I/O.
//
// Why not asio::ssl::stream: it decrypts one TLS record per read completion and writes one
// record per socket write, each completion going through the io_context. A priest that
// fdatasyncs once per batch of frames then syncs once per record instead of once per socket
// read, and TLS cost 2-6x in throughput at 64 clients (docs/BENCHMARKS.md). With a Session a
// read of 64 KiB is decrypted in one call and a megabyte of queued frames is one write, as
// without TLS.
//
// Used by the priest's transport (server/conn.cpp) for every connection, and by
// paxos-bench. Not thread-safe: one Session belongs to one connection on one thread.
#pragma once

#include <string>
#include <string_view>

#include <asio/ssl/context.hpp>

namespace parliament::tls {

class Session {
 public:
  enum class Side { Client, Server };
  enum class Status {
    Ok,          // fine (perhaps still shaking hands: see established())
    PeerClosed,  // the other end sent close_notify: read no more
    Failed,      // the handshake failed or a record did not decrypt: see error()
  };

  // A session with `context`'s credentials and checks (tls::make_context). A client begins
  // its handshake at once: its hello is in take_output().
  Session(asio::ssl::context& context, Side side);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Feeds bytes that arrived from the other end, shaking hands as far as they allow, and
  // appends the plaintext they complete to `plain` (a partial record waits for the rest).
  // After every call, what take_output() holds must be written to the socket.
  Status receive(std::string_view bytes, std::string& plain);

  // Seals `plain` into records, added to the output. Only once established().
  Status seal(std::string_view plain);

  // Appends the bytes waiting to be written to the socket to `out`, and forgets them.
  void take_output(std::string& out);
  bool has_output() const;
  // The bytes OpenSSL keeps allocated for output: the most it ever held at once, for the
  // session's life (so a caller seals a bounded piece at a time).
  size_t output_capacity() const;

  // The handshake has completed (the peer's certificate verified: tls::peer_identity).
  bool established() const;
  // Why the session failed, from OpenSSL.
  const std::string& error() const { return error_; }
  // For tls::peer_identity.
  SSL* native() const { return ssl_; }

 private:
  Status fail(const char* what, int ret);
  Status advance();  // the handshake, then every whole record into plain_

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // the socket's bytes, for OpenSSL to read (owned by ssl_)
  BIO* out_ = nullptr;  // OpenSSL's bytes, for the socket (owned by ssl_)
  std::string* plain_ = nullptr;
  std::string error_;
};

}  // namespace parliament::tls
