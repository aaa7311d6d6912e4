// HttpPort: a priest's HTTP port (config "http_port", bound to "http_listen", by default
// 127.0.0.1), for people and Prometheus. Read-only: GET only, nothing here changes the priest.
//   /            the live page (page/www/parliament.html)
//   /parliament  the priests the page polls: {"mode":"priest","self":ID,"priests":[{"id","url"}]}
//   /status      this priest's status (the JSON `paxos-client status --json` shows for it)
//   /metrics     Prometheus text format (server/metrics.hpp)
//   /events?since=N   its ballot events (server/chronicle.hpp)
//   /ledger?from=N&max=M   a page of its ledger (as `paxos-client ledger`; max at most 1000);
//                          503 while the priest is busy building pages (ask again shortly)
// When the config says "tls" (the default) it speaks HTTPS with the parliament's mutual TLS:
// it presents the priest's certificate and serves only parties whose certificate the
// parliament's CA signed (a client, the god, a priest). A browser reaches it through
// `paxos-client console` (docs/OPERATIONS.md "Watching the parliament"), or directly with
// the client's certificate imported. Answers the page's cross-origin requests only from the other
// priests' HTTP ports.
//
// It runs on the priest's own I/O thread (Asio), like the client port: no thread per
// connection, so no handshake or idle connection occupies anything but its socket and a few
// KiB. TLS through tls::Session (the same engine as the priest's other connections), HTTP/1.1
// requests read by Debian's http_parser (libhttp-parser). It admits exactly whom the client
// port admits (`refusal` says why not: a revoked client). Bounds: 1024 connections, 64 from
// one address (at either cap the oldest connection that has not completed a request goes, so
// idle or slow-handshake connections cannot crowd out a scraper), a request's head 8 KiB, 5 s
// from accept to the first whole request and between requests, 100 requests per connection,
// one answer held per connection and 32 MiB of answers not yet written on all of them (over
// that, the connections holding the most unwritten bytes are closed first).
#pragma once

#include <functional>
#include <utility>
#include <memory>
#include <string>

#include "proto/config.hpp"
#include "proto/result.hpp"

namespace asio {
class io_context;
}
namespace asio::ssl {
class context;
}
namespace parliament::tls {
struct Identity;
}

namespace parliament {

struct HttpRoutes {
  // parliament: the priests the page draws (the membership in force); unset: the
  // configuration's priests with an HTTP port.
  std::function<std::string()> status, metrics, parliament;
  std::function<std::string(uint64_t since)> events;
  // ledger: the status (200, or 503 while the priest is busy building pages) and the body.
  std::function<std::pair<int, std::string>(uint64_t from, uint64_t max)> ledger;
};

class HttpPort {
 public:
  // Binds now (an error names the address) and serves on `io` (the priest's I/O thread,
  // which also calls the routes) until destroyed. `tls` is the priest's own context (its
  // certificate, key and the parliament's CA), or nullptr for plaintext. `refusal` says why a
  // party that passed the TLS handshake is not served ("" to serve it).
  static Result<std::unique_ptr<HttpPort>> start(
      asio::io_context& io, const Config& config, PriestId id, const HttpAddress& at,
      const std::shared_ptr<asio::ssl::context>& tls, HttpRoutes routes,
      std::function<std::string(const tls::Identity&)> refusal);
  ~HttpPort();
  class Impl;

 private:
  explicit HttpPort(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parliament
