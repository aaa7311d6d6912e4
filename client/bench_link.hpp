// paxos-bench's connection (client/bench_main.cpp): one TCP connection to one priest, over TLS
// as the priests speak it unless plaintext, carrying frames both ways without blocking. Its
// owner is called back, on the io_context's one thread: once the connection is ready (the
// handshake done, the priest's certificate checked), for every frame that arrives, and once
// if it fails (after which it is silent).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <asio.hpp>
#include <asio/ssl/context.hpp>

#include "net/tls_session.hpp"
#include "proto/config.hpp"
#include "proto/framing.hpp"

namespace parliament::bench {

class Link {
 public:
  struct Calls {
    std::function<void()> ready;
    std::function<void(std::string_view payload)> frame;
    std::function<void(const std::string& why)> failed;
  };
  // expect: the priest id that must answer at ep (0: any priest of the parliament).
  Link(asio::io_context& io, asio::ip::tcp::endpoint ep, asio::ssl::context* tls,
       PriestId expect, Calls calls)
      : sock_(io), ep_(ep), tls_context_(tls), expect_(expect), calls_(std::move(calls)) {}
  void start();
  // Queues one frame (its payload) and writes what is queued as soon as it can, in one write.
  void send(std::string_view payload);

 private:
  void read();
  void write();
  void fail(const std::string& why);
  asio::ip::tcp::socket sock_;
  asio::ip::tcp::endpoint ep_;
  asio::ssl::context* tls_context_;  // null: plaintext
  PriestId expect_ = 0;
  Calls calls_;
  bool failed_ = false;
  std::unique_ptr<tls::Session> tls_;  // as the priests do it: one write and one read per batch
  FrameDecoder decoder_{64 << 20};
  std::array<char, 65536> buf_{};
  std::string out_, writing_;
};

}  // namespace parliament::bench
