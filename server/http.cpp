// HttpPort: a priest's HTTP port, served on the priest's own I/O thread (see http.hpp).
#include "server/http.hpp"

#include <http_parser.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <list>
#include <map>
#include <set>

#include <asio.hpp>
#include <asio/ssl/context.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "net/tls.hpp"
#include "net/tls_session.hpp"
#include "server/log_limit.hpp"
#include "page/page.hpp"

namespace parliament {

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxConnections = 1024;     // at the cap, the oldest unproven one goes
constexpr size_t kMaxPerAddress = 64;        // the same, among one address's connections
constexpr size_t kMaxRequestBytes = 8192;    // a request's line and headers
constexpr auto kFirstRequest = std::chrono::seconds(5);  // accept to the first whole request
constexpr auto kIdle = std::chrono::seconds(5);          // between requests on a kept-alive one
constexpr size_t kMaxRequests = 100;         // requests on one connection
constexpr size_t kMaxUnwrittenBytes = 32 << 20;  // answers not yet written, on all connections
constexpr size_t kAnswerPiece = 64 << 10;        // sealed and written at a time

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 400: return "Bad Request";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

uint64_t query_number(const std::string& query, const std::string& name, uint64_t fallback) {
  size_t at = 0;
  while (at < query.size()) {
    size_t end = query.find('&', at);
    if (end == std::string::npos) end = query.size();
    std::string_view kv(query.data() + at, end - at);
    if (kv.substr(0, name.size() + 1) == name + "=") {
      uint64_t v = 0;
      auto digits = kv.substr(name.size() + 1);
      if (digits.empty() || digits.size() > 19) return fallback;
      for (char c : digits) {
        if (c < '0' || c > '9') return fallback;
        v = v * 10 + uint64_t(c - '0');
      }
      return v;
    }
    at = end + 1;
  }
  return fallback;
}

}  // namespace

// One connection: TLS (if any) through tls::Session on this thread, HTTP/1.1 requests read
// by http_parser, answers written in order. Nothing here blocks. One request at a time: the
// parser pauses after each request, and nothing more is read or parsed until its answer is
// written, so a client that pipelines requests and reads nothing holds one answer here.
class HttpConn : public std::enable_shared_from_this<HttpConn> {
 public:
  HttpConn(HttpPort::Impl& port, tcp::socket s);
  void start();
  void close();
  bool closed() const { return closed_; }
  bool proven() const { return requests_ > 0; }  // it completed a request
  size_t unwritten() const { return unwritten_; }  // its answer's bytes not yet written
  std::string ip;
  Clock::time_point opened = Clock::now(), last = Clock::now();

 private:
  void read();
  bool busy() const {
    return paused_ || !out_.empty() || !writing_.empty() || answer_at_ < answer_.size();
  }             // an answer not yet written
  void feed();  // parses pending_ up to the end of the next request
  void on_bytes(std::string_view bytes);
  void on_plain(std::string_view plain);
  void answer();
  void send(std::string answer);
  void write();
  void written();  // its answer is all written (or it closed): no longer held
  static int on_url(http_parser* p, const char* at, size_t n);
  static int on_header_field(http_parser* p, const char* at, size_t n);
  static int on_header_value(http_parser* p, const char* at, size_t n);
  static int on_complete(http_parser* p);

  HttpPort::Impl& port_;
  tcp::socket sock_;
  std::unique_ptr<tls::Session> tls_;
  std::optional<tls::Identity> who_;
  http_parser parser_;
  http_parser_settings settings_{};
  std::string url_, field_, origin_;
  bool in_origin_ = false, in_value_ = false;
  size_t request_bytes_ = 0;
  size_t requests_ = 0;
  size_t unwritten_ = 0;  // counted in the port's `unwritten`
  bool keep_alive_ = true;
  std::vector<char> buf_ = std::vector<char>(4096);
  std::string out_, writing_;
  std::string answer_;  // the answer being written (sent from answer_at_ on, piece by piece)
  size_t answer_at_ = 0;
  std::string
      pending_;  // bytes read but not parsed yet (after a request, while its answer is written)
  bool reading_ = false, paused_ = false;
  bool closed_ = false, finishing_ = false;
};

class HttpPort::Impl {
 public:
  explicit Impl(asio::io_context& io) : io(io), acceptor(io), sweeper(io), backoff(io) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer sweeper, backoff;
  std::shared_ptr<asio::ssl::context> tls;
  HttpRoutes routes;
  std::function<std::string(const tls::Identity&)> refusal;
  std::set<std::string> origins;
  std::string parliament_json;
  std::list<std::weak_ptr<HttpConn>> conns;
  size_t unwritten = 0;  // the bytes of answers not yet written, on all connections
  LogLimit log_limit;
  bool stopping = false;

  template <class... Args>
  void warn(const std::string& key, fmt::format_string<Args...> f, Args&&... args) {
    if (auto suffix = log_limit.admit(key, Clock::now()))
      spdlog::warn("HTTP: {}{}", fmt::format(f, std::forward<Args>(args)...), *suffix);
  }

  void accept() {
    acceptor.async_accept([this](asio::error_code ec, tcp::socket s) {
      if (stopping) return;
      if (ec) {  // out of descriptors or the like: wait, then accept again
        warn("accept", "cannot accept connections: {}", ec.message());
        backoff.expires_after(std::chrono::milliseconds(100));
        backoff.async_wait([this](asio::error_code e) {
          if (!e && !stopping) accept();
        });
        return;
      }
      auto c = std::make_shared<HttpConn>(*this, std::move(s));
      make_room(c->ip);
      conns.push_back(c);
      c->start();
      accept();
    });
  }

  // At kMaxPerAddress from one address, or kMaxConnections in all, the oldest connection
  // that has not completed a request goes (an honest client finishes its handshake and
  // request at once; an idle or slow one waits), else the oldest of all.
  void make_room(const std::string& ip) {
    std::erase_if(conns, [](auto& w) { return w.expired() || w.lock()->closed(); });
    auto evict = [&](auto same) {
      size_t n = 0;
      std::shared_ptr<HttpConn> victim;
      for (auto& w : conns)
        if (auto c = w.lock(); c && same(*c)) {
          ++n;
          if (!victim || (victim->proven() && !c->proven()) ||
              (victim->proven() == c->proven() && c->last < victim->last))
            victim = c;
        }
      return std::pair{n, victim};
    };
    auto [mine, v1] = evict([&](const HttpConn& c) { return c.ip == ip; });
    if (mine >= kMaxPerAddress && v1) {
      warn("per address " + ip, "{} connections from {}; closing its oldest idle one", mine, ip);
      v1->close();
    }
    auto [all, v2] = evict([](const HttpConn&) { return true; });
    if (all >= kMaxConnections && v2) {
      warn("too many", "{} connections; closing the oldest idle one, from {}", all, v2->ip);
      v2->close();
    }
  }

  // `me` is to hold an answer of `bytes`: over kMaxUnwrittenBytes in all, the connections
  // holding the most unwritten bytes (readers that stopped reading) are closed first, so that
  // clients that do not read cannot hold a priest's memory, nor keep others from being answered.
  // An answer is always given when nothing else is held.
  void make_room_for_answer(const HttpConn& me, size_t bytes) {
    if (unwritten + bytes <= kMaxUnwrittenBytes) return;
    std::vector<std::shared_ptr<HttpConn>> holders;
    for (auto& w : conns)
      if (auto c = w.lock(); c && c.get() != &me && !c->closed() && c->unwritten() > 0)
        holders.push_back(c);
    std::sort(holders.begin(), holders.end(),
              [](auto& a, auto& b) { return a->unwritten() > b->unwritten(); });
    for (auto& c : holders) {
      if (unwritten + bytes <= kMaxUnwrittenBytes) break;
      warn("unwritten",
           "answers not yet read hold {} KiB (at most {} KiB); closing the "
           "connection from {} holding {} KiB",
           unwritten >> 10, kMaxUnwrittenBytes >> 10, c->ip, c->unwritten() >> 10);
      c->close();
    }
  }

  void sweep() {
    sweeper.expires_after(std::chrono::milliseconds(500));
    sweeper.async_wait([this](asio::error_code ec) {
      if (ec || stopping) return;
      auto now = Clock::now();
      for (auto& w : conns)
        if (auto c = w.lock();
            c && !c->closed() &&
            now - c->last > (c->proven()
                                 ? std::chrono::duration_cast<Clock::duration>(kIdle)
                                 : std::chrono::duration_cast<Clock::duration>(kFirstRequest)))
          c->close();
      std::erase_if(conns, [](auto& w) { return w.expired() || w.lock()->closed(); });
      if (!acceptor.is_open()) return;
      sweep();
    });
  }

  // The answer to GET `path` (status, content type, body).
  std::tuple<int, std::string, std::string> route(const std::string& path,
                                                  const std::string& query) {
    const std::string json = "application/json";
    if (path == "/") return {200, "text/html; charset=utf-8", std::string(parliament_page())};
    if (path == "/parliament")
      return {200, json, routes.parliament ? routes.parliament() : parliament_json};
    if (path == "/status") return {200, json, routes.status()};
    if (path == "/metrics")
      return {200, "text/plain; version=0.0.4; charset=utf-8", routes.metrics()};
    if (path == "/events") return {200, json, routes.events(query_number(query, "since", 0))};
    if (path == "/ledger") {
      uint64_t from = std::max<uint64_t>(1, query_number(query, "from", 1));
      uint64_t max = std::clamp<uint64_t>(query_number(query, "max", 100), 1, 1000);
      auto [status, body] = routes.ledger(from, max);
      return {status, json, std::move(body)};
    }
    return {404, "text/plain", "no such page\n"};
  }
};

HttpConn::HttpConn(HttpPort::Impl& port, tcp::socket s) : port_(port), sock_(std::move(s)) {
  asio::error_code ec;
  auto ep = sock_.remote_endpoint(ec);
  ip = ec ? "?" : ep.address().to_string();
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  settings_.on_url = on_url;
  settings_.on_header_field = on_header_field;
  settings_.on_header_value = on_header_value;
  settings_.on_message_complete = on_complete;
}

void HttpConn::start() {
  if (port_.tls) tls_ = std::make_unique<tls::Session>(*port_.tls, tls::Session::Side::Server);
  read();
}

void HttpConn::close() {
  if (closed_) return;
  closed_ = true;
  written();
  asio::error_code ec;
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
}

void HttpConn::read() {
  if (reading_ || closed_ || finishing_ || busy()) return;
  reading_ = true;
  auto self = shared_from_this();
  sock_.async_read_some(asio::buffer(buf_), [this, self](asio::error_code ec, size_t n) {
    reading_ = false;
    if (closed_ || finishing_) return;
    if (ec) return close();
    on_bytes(std::string_view(buf_.data(), n));
    read();
  });
}

void HttpConn::on_bytes(std::string_view bytes) {
  if (!tls_) return on_plain(bytes);
  bool was = tls_->established();
  std::string plain;
  auto status = tls_->receive(bytes, plain);
  write();  // the handshake's answer, or an alert
  if (status == tls::Session::Status::Failed) {
    port_.warn("tls " + ip, "refusing connection from {}: TLS: {}", ip, tls_->error());
    finishing_ = true;
    if (writing_.empty()) close();
    return;
  }
  if (!was && tls_->established()) {
    auto who = tls::peer_identity(tls_->native());
    std::string why = who ? port_.refusal(*who) : who.error();
    if (!why.empty()) {
      port_.warn("refused " + ip, "refusing connection from {}: {}", ip, why);
      return close();
    }
    who_ = *who;
  }
  if (!plain.empty()) on_plain(plain);
  if (status == tls::Session::Status::PeerClosed) close();
}

void HttpConn::on_plain(std::string_view plain) {
  pending_.append(plain);
  feed();
}

void HttpConn::feed() {
  if (paused_ || closed_ || pending_.empty()) return;
  size_t used = http_parser_execute(&parser_, &settings_, pending_.data(), pending_.size());
  if (closed_) return;
  pending_.erase(0, used);
  if (paused_) return;  // a request answered (on_complete); the rest waits for its answer to go out
  request_bytes_ += used;
  if (request_bytes_ > kMaxRequestBytes) {
    port_.warn("big request " + ip, "closing connection from {}: a request over {} bytes", ip,
               kMaxRequestBytes);
    return close();
  }
  if (parser_.http_errno != HPE_OK || !pending_.empty()) {
    port_.warn("bad request " + ip, "closing connection from {}: not HTTP/1.1: {}", ip,
               http_errno_description(HTTP_PARSER_ERRNO(&parser_)));
    close();
  }
}

int HttpConn::on_url(http_parser* p, const char* at, size_t n) {
  static_cast<HttpConn*>(p->data)->url_.append(at, n);
  return 0;
}

// (A field or value may come in pieces, across reads: a field begins after a value.)
int HttpConn::on_header_field(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<HttpConn*>(p->data);
  if (c->in_value_) c->field_.clear();
  c->in_value_ = false;
  c->field_.append(at, n);
  return 0;
}

int HttpConn::on_header_value(http_parser* p, const char* at, size_t n) {
  auto* c = static_cast<HttpConn*>(p->data);
  if (!c->in_value_) {
    std::string lower = c->field_;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    c->in_origin_ = lower == "origin";
  }
  c->in_value_ = true;
  if (c->in_origin_) c->origin_.append(at, n);
  return 0;
}

int HttpConn::on_complete(http_parser* p) {
  auto* c = static_cast<HttpConn*>(p->data);
  c->keep_alive_ = http_should_keep_alive(p) != 0 && ++c->requests_ < kMaxRequests;
  c->answer();
  c->url_.clear();
  c->origin_.clear();
  c->field_.clear();
  c->in_origin_ = c->in_value_ = false;
  c->request_bytes_ = 0;
  c->last = Clock::now();
  c->paused_ = true;  // (parsing stops right after this request: see feed)
  http_parser_pause(p, 1);
  return 0;
}

void HttpConn::answer() {
  http_parser_url u;
  http_parser_url_init(&u);
  std::string path = "/", query;
  if (http_parser_parse_url(url_.data(), url_.size(), 0, &u) == 0) {
    if (u.field_set & (1 << UF_PATH))
      path = url_.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
    if (u.field_set & (1 << UF_QUERY))
      query = url_.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
  }
  int status = 200;
  std::string type, body;
  std::string refused = who_ ? port_.refusal(*who_) : "";  // (revoked since the handshake)
  if (!refused.empty()) {
    status = 403, type = "text/plain", body = refused + "\n";
    keep_alive_ = false;
  } else if (parser_.method != HTTP_GET) {
    status = 405, type = "text/plain", body = "GET only: this port is read-only\n";
  } else {
    std::tie(status, type, body) = port_.route(path, query);
  }
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\nContent-Type: " + type +
      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nCache-Control: no-store\r\n";
  if (port_.origins.count(origin_))  // the page polls every priest: only from the priests' ports
    head += "Access-Control-Allow-Origin: " + origin_ +
            "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  port_.make_room_for_answer(*this, head.size() + body.size());
  unwritten_ = head.size() + body.size();
  port_.unwritten += unwritten_;
  head += body;
  std::string().swap(body);
  send(std::move(head));
  if (!keep_alive_) finishing_ = true;
}

void HttpConn::send(std::string answer) {
  answer_ = std::move(answer);
  answer_at_ = 0;
  write();
}

// Writes what the handshake says, then the answer a piece at a time: sealed (or copied) only
// as the last piece has gone out, so that the TLS engine's buffer and out_ never hold more
// than a piece, however long the answer.
void HttpConn::write() {
  if (closed_ || !writing_.empty()) return;
  if (tls_) tls_->take_output(out_);
  if (out_.empty() && answer_at_ < answer_.size()) {
    std::string_view piece = std::string_view(answer_).substr(answer_at_, kAnswerPiece);
    answer_at_ += piece.size();
    if (!tls_)
      out_.assign(piece);
    else if (tls_->seal(piece) == tls::Session::Status::Ok)
      tls_->take_output(out_);
    else
      return close();
  }
  if (out_.empty()) {
    written();
    if (finishing_) return close();
    if (paused_) {  // the answer is written: on to the next request
      paused_ = false;
      http_parser_pause(&parser_, 0);
      feed();
      if (busy() || closed_ || finishing_) return;
    }
    return read();
  }
  writing_.swap(out_);
  auto self = shared_from_this();
  asio::async_write(sock_, asio::buffer(writing_), [this, self](asio::error_code ec, size_t) {
    writing_.clear();
    if (closed_) return;
    if (ec) return close();
    write();
  });
}

// Nothing of an answer is held once it is written: its bytes leave the port's count, and
// the buffers that held it are given back (an idle kept-alive connection holds a few KiB).
void HttpConn::written() {
  port_.unwritten -= unwritten_;
  unwritten_ = 0;
  std::string().swap(answer_);
  std::string().swap(out_);
  std::string().swap(writing_);
  answer_at_ = 0;
}

HttpPort::HttpPort(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpPort::~HttpPort() {
  impl_->stopping = true;
  asio::error_code ec;
  impl_->acceptor.close(ec);
  impl_->sweeper.cancel();
  impl_->backoff.cancel();
  for (auto& w : impl_->conns)
    if (auto c = w.lock()) c->close();
}

Result<std::unique_ptr<HttpPort>> HttpPort::start(
    asio::io_context& io, const Config& config, PriestId id, const HttpAddress& at,
    const std::shared_ptr<asio::ssl::context>& tls, HttpRoutes routes,
    std::function<std::string(const tls::Identity&)> refusal) {
  using R = Result<std::unique_ptr<HttpPort>>;
  auto impl = std::make_unique<Impl>(io);
  impl->tls = tls;
  impl->routes = std::move(routes);
  impl->refusal = std::move(refusal);
  for (auto& [pid, h] : config.http) impl->origins.insert(http_url(config, pid));
  nlohmann::json parliament{{"mode", "priest"}, {"self", id}, {"priests", nlohmann::json::array()}};
  for (auto& [pid, h] : config.http)
    parliament["priests"].push_back({{"id", pid}, {"url", http_url(config, pid)}});
  impl->parliament_json = parliament.dump();
  asio::error_code ec;
  auto addr = asio::ip::make_address(at.listen, ec);
  if (ec) {
    tcp::resolver resolver(io);
    auto res = resolver.resolve(at.listen, std::to_string(at.port), ec);
    if (ec || res.empty())
      return R::failure("cannot resolve http_listen " + at.listen + " of priest " +
                        std::to_string(id));
    addr = res.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, at.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return R::failure("cannot listen for HTTP on " + at.listen + ":" + std::to_string(at.port) +
                      " (http_listen, http_port of priest " + std::to_string(id) +
                      "): " + ec.message());
  impl->accept();
  impl->sweep();
  return std::unique_ptr<HttpPort>(new HttpPort(std::move(impl)));
}

}  // namespace parliament
