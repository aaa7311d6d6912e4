#include "net/tls_session.hpp"

#include <stdexcept>

#include <openssl/ssl.h>

#include <openssl/buffer.h>
#include <openssl/err.h>

#include "net/openssl.hpp"

namespace parliament::tls {

namespace {

// Bytes handed to OpenSSL at a time: a little more than one whole record, so the input
// buffer stays small however large the socket read was.
constexpr size_t kFeedChunk = 16 * 1024 + 512;
// Room made in `plain` for each SSL_read: one record's plaintext at most.
constexpr size_t kReadChunk = 16 * 1024;

}  // namespace

Session::Session(asio::ssl::context& context, Side side) {
  ssl_ = SSL_new(context.native_handle());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !in_ || !out_) {
    BIO_free(in_);
    BIO_free(out_);
    SSL_free(ssl_);
    throw std::runtime_error("cannot make a TLS session: " + openssl::errors());
  }
  // An empty buffer means "nothing yet", not the end of the stream.
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);  // ssl_ owns both from here
  if (side == Side::Client) {
    SSL_set_connect_state(ssl_);
    std::string none;
    plain_ = &none;
    advance();  // writes the client's hello
    plain_ = nullptr;
  } else {
    SSL_set_accept_state(ssl_);
  }
}

Session::~Session() { SSL_free(ssl_); }

bool Session::established() const { return SSL_is_init_finished(ssl_) == 1; }

bool Session::has_output() const { return BIO_ctrl_pending(out_) > 0; }

size_t Session::output_capacity() const {
  BUF_MEM* held = nullptr;
  BIO_get_mem_ptr(out_, &held);
  return held ? held->max : 0;
}

void Session::take_output(std::string& out) {
  size_t n = BIO_ctrl_pending(out_);
  if (n == 0) return;
  size_t at = out.size();
  out.resize(at + n);
  int got = BIO_read(out_, out.data() + at, static_cast<int>(n));
  out.resize(at + (got > 0 ? size_t(got) : 0));
}

Session::Status Session::receive(std::string_view bytes, std::string& plain) {
  if (!error_.empty()) return Status::Failed;
  plain_ = &plain;
  Status s = Status::Ok;
  while (!bytes.empty() && s == Status::Ok) {
    auto piece = bytes.substr(0, kFeedChunk);
    bytes.remove_prefix(piece.size());
    if (BIO_write(in_, piece.data(), static_cast<int>(piece.size())) !=
        static_cast<int>(piece.size())) {
      error_ = "out of memory buffering what arrived";
      s = Status::Failed;
      break;
    }
    s = advance();
  }
  plain_ = nullptr;
  return s;
}

Session::Status Session::advance() {
  if (!established()) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return Status::Ok;
      return fail(nullptr, r);  // (the host says "TLS: ..." and who)
    }
  }
  for (;;) {
    size_t at = plain_->size();
    plain_->resize(at + kReadChunk);
    ERR_clear_error();
    int n = SSL_read(ssl_, plain_->data() + at, static_cast<int>(kReadChunk));
    plain_->resize(at + (n > 0 ? size_t(n) : 0));
    if (n > 0) continue;
    switch (SSL_get_error(ssl_, n)) {
      case SSL_ERROR_WANT_READ: return Status::Ok;
      case SSL_ERROR_ZERO_RETURN: return Status::PeerClosed;
      default: return fail("record", n);
    }
  }
}

Session::Status Session::seal(std::string_view plain) {
  if (!error_.empty()) return Status::Failed;
  if (!established()) {
    error_ = "sealing before the handshake completed";
    return Status::Failed;
  }
  while (!plain.empty()) {
    // SSL_write takes an int; a mem BIO never pushes back, so each call writes it all.
    auto piece = plain.substr(0, size_t(1) << 30);
    ERR_clear_error();
    int n = SSL_write(ssl_, piece.data(), static_cast<int>(piece.size()));
    if (n <= 0) return fail("write", n);
    plain.remove_prefix(size_t(n));
  }
  return Status::Ok;
}

Session::Status Session::fail(const char* what, int ret) {
  std::string why;
  int e = ret <= 0 ? SSL_get_error(ssl_, ret) : SSL_ERROR_SSL;
  if (e == SSL_ERROR_SSL) {
    // The reasons alone ("peer did not return a certificate"), as people read them in logs.
    while (unsigned long err = ERR_get_error()) {
      const char* reason = ERR_reason_error_string(err);
      why += (why.empty() ? "" : "; ") + std::string(reason ? reason : "unknown reason");
    }
    if (why.empty()) why = "no reason given by OpenSSL";
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  } else if (e == SSL_ERROR_SYSCALL) {
    why = "the stream ended in the middle of a record";
  } else {
    why = "OpenSSL error " + std::to_string(e);
  }
  error_ = what ? std::string(what) + ": " + why : why;
  return Status::Failed;
}

}  // namespace parliament::tls
