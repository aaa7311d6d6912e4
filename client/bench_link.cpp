// paxos-bench's connection (client/bench_link.hpp).
#include "client/bench_link.hpp"

#include "net/tls.hpp"

namespace parliament::bench {

using asio::ip::tcp;

void Link::fail(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  calls_.failed(why);
}

void Link::start() {
  sock_.async_connect(ep_, [this](asio::error_code ec) {
    if (ec) return fail("connect: " + ec.message());
    sock_.set_option(tcp::no_delay(true));
    if (tls_context_) {
      tls_ = std::make_unique<tls::Session>(*tls_context_, tls::Session::Side::Client);
      write();  // the hello; the owner begins once the handshake is done
    } else {
      calls_.ready();
    }
    read();
  });
}

void Link::send(std::string_view payload) {
  append_frame(out_, payload);
  write();
}

void Link::write() {
  if (!writing_.empty() || failed_) return;  // the write under way calls again when done
  if (!tls_) {
    writing_.swap(out_);
  } else {
    if (tls_->established() && !out_.empty()) {
      if (tls_->seal(out_) != tls::Session::Status::Ok) return fail(tls_->error());
      out_.clear();
    }
    tls_->take_output(writing_);
  }
  if (writing_.empty()) return;
  asio::async_write(sock_, asio::buffer(writing_), [this](asio::error_code ec, size_t) {
    writing_.clear();
    if (ec) return fail("write: " + ec.message());
    write();
  });
}

void Link::read() {
  sock_.async_read_some(asio::buffer(buf_), [this](asio::error_code ec, size_t n) {
    if (ec) return fail("read: " + ec.message());
    std::string_view got(buf_.data(), n);
    std::string plain;
    if (tls_) {
      bool was_established = tls_->established();
      if (tls_->receive(got, plain) == tls::Session::Status::Failed) return fail(tls_->error());
      write();
      if (!was_established && tls_->established()) {
        // Clients check whom they reached (rpc.hpp, check_priest_ids).
        auto who = tls::peer_identity(tls_->native());
        if (!who || who->role != tls::Role::Priest || (expect_ && who->id != expect_))
          return fail("the process at " + ep_.address().to_string() + ":" +
                      std::to_string(ep_.port()) + " is " +
                      (who ? tls::describe(*who) : who.error()) + ", not priest " +
                      std::to_string(expect_));
        calls_.ready();
      }
      got = plain;
    }
    if (!decoder_.feed(got)) return fail(decoder_.error());
    while (auto p = decoder_.next()) {
      calls_.frame(*p);
      if (failed_) return;
    }
    read();
  });
}

}  // namespace parliament::bench
