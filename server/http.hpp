// HttpPort: a priest's HTTP port (config "http_port", bound to "http_listen", by default
// 127.0.0.1), for people and Prometheus. Read-only: GET only, nothing here changes the priest.
//   /            the live page (server/www/parliament.html)
//   /parliament  the priests the page polls: {"mode":"priest","self":ID,"priests":[{"id","url"}]}
//   /status      this priest's status (the JSON `paxos-client status --json` shows for it)
//   /metrics     Prometheus text format (server/metrics.hpp)
//   /events?since=N   its ballot events (server/chronicle.hpp)
//   /ledger?from=N&max=M   a page of its ledger (as `paxos-client ledger`; max at most 1000)
// When the config says "tls" (the default) it speaks HTTPS with the parliament's mutual TLS:
// it presents the priest's certificate and serves only parties whose certificate the
// parliament's CA signed (a client, the god, a priest). A browser reaches it through
// `paxos-client console` (README "Watching the parliament"), or directly with the client's
// certificate imported. Answers the page's cross-origin requests only from the other
// priests' HTTP ports.
//
// cpp-httplib runs it on its own threads: at most 8 connections served at once and 32 waiting
// (more wait in the kernel's backlog), each let go after 5 idle seconds; a request must
// arrive within 5 s. Every answer is made on the priest's I/O thread:
// each route posts a function there and waits for its text (`post`), so the HTTP side never
// reads the priest's state itself; an answer not made within 2 s is 503.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "proto/config.hpp"
#include "proto/result.hpp"

namespace asio::ssl {
class context;
}

namespace parliament {

struct HttpRoutes {
  std::function<std::string()> status, metrics;
  std::function<std::string(uint64_t since)> events;
  std::function<std::string(uint64_t from, uint64_t max)> ledger;
};

class HttpPort {
 public:
  // Binds now (an error names the address); serves on its own threads until destroyed.
  // `tls` is the priest's own context (its certificate, key and the parliament's CA), or
  // nullptr for plaintext. `post` runs a function on the I/O thread.
  static Result<std::unique_ptr<HttpPort>> start(const Config& config, PriestId id, const HttpAddress& at,
                                                 const std::shared_ptr<asio::ssl::context>& tls, HttpRoutes routes,
                                                 std::function<void(std::function<void()>)> post);
  ~HttpPort();
  class Impl;

 private:
  explicit HttpPort(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The URL of priest `id`'s HTTP port, as the page and people reach it ("https://HOST:PORT").
std::string http_url(const Config& config, PriestId id);

}  // namespace parliament
