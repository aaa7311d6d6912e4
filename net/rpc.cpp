// rpc: blocking request/reply over framed JSON, every wait bounded by a deadline.
//
// Each Connection owns its io_context. An operation is started asynchronously and the
// io_context is run until the operation completes or its deadline passes; on a timeout the
// socket is closed (which cancels the operation) and the connection is unusable from then on.
#include "net/rpc.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "net/tls.hpp"
#include "proto/framing.hpp"

namespace parliament {

using asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Replies may carry up to a page of the ledger; a client accepts the largest frame any
// priest may be configured to send.
constexpr size_t kMaxReplyBytes = 64 * 1024 * 1024 + 4096;

std::string address_of(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

std::shared_ptr<asio::ssl::context> g_tls;  // set_tls(): this process's client credentials

}  // namespace

Millis remaining(std::chrono::steady_clock::time_point deadline) {
  return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

Code reply_code(const json& reply) {
  if (reply.value("ok", false)) return Code::Ok;
  auto c = reply.find("error_code");
  if (c != reply.end() && c->is_string())
    return code_from_name(c->get_ref<const std::string&>()).value_or(Code::Unknown);
  if (reply.value("outcome_unknown", false)) return Code::OutcomeUnknown;
  auto type = reply.value("type", "");
  bool refused = type == "error" || reply.contains("error") || reply.contains("ok");
  return refused ? Code::Unknown : Code::Ok;
}

void set_tls(std::shared_ptr<asio::ssl::context> context) { g_tls = std::move(context); }
std::shared_ptr<asio::ssl::context> current_tls() { return g_tls; }

bool g_check_ids = true;  // check_priest_ids()
void check_priest_ids(bool on) { g_check_ids = on; }

Status use_tls(const Config& config, const std::string& config_file, const tls::Identity& who,
               const std::string& certs_dir) {
  auto context = tls::load(config, config_file, who, certs_dir);
  if (!context)
    return Status::failure(
        context.error() +
        " (the parliament's certificates are made by: paxos-god --config FILE certs --out " +
        tls::certs_dir(config, config_file, certs_dir) + ")");
  set_tls(*context);
  return ok_status();
}

struct Connection::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;  // over `socket`, when set_tls was called
  std::string peer_key;                                  // its certificate's (tls::peer_key)
  template <class F>
  void with_stream(F&& f) {
    if (tls) f(*tls);
    else f(socket);
  }
  FrameDecoder decoder{kMaxReplyBytes};
  std::string address;  // "host:port", for messages
  bool broken = false;

  // Runs the io_context until `done` or the deadline. On a timeout closes the socket, lets the
  // cancelled handler run (it refers to the caller's locals) and returns false.
  bool run_until(Clock::time_point deadline, const bool& done) {
    io.restart();
    while (!done && Clock::now() < deadline && !io.stopped()) io.run_one_until(deadline);
    if (done) return true;
    std::error_code ignored;
    socket.close(ignored);
    broken = true;
    io.restart();
    io.run();
    return false;
  }

  std::string failure(const std::error_code& ec) {
    broken = true;
    std::error_code ignored;
    socket.close(ignored);
    if (ec == asio::error::eof || ec == asio::error::connection_reset)
      return "priest at " + address + " closed the connection";
    if (ec.category() == asio::error::get_ssl_category())
      return "priest at " + address + " refused us: TLS: " + ec.message() +
             " (is this the parliament whose certificates we hold?)";
    return "connection to priest at " + address + " failed: " + ec.message();
  }

  Result<json> call(const json& request, Millis timeout) {
    using R = Result<json>;
    if (broken) return R::failure("connection to priest at " + address + " is closed");
    auto deadline = Clock::now() + timeout;
    std::string out = frame(request);
    std::error_code ec;
    bool done = false;
    with_stream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(out), [&](std::error_code e, size_t) {
        ec = e;
        done = true;
      });
    });
    if (!run_until(deadline, done)) return timed_out(timeout);
    if (ec) return R::failure(failure(ec));
    return receive(deadline, timeout);
  }

  Result<json> timed_out(Millis timeout) const {
    return Result<json>::failure("priest at " + address + " did not answer within " +
                                 std::to_string(timeout.count()) + " ms");
  }

  // The next frame, by the deadline (`timeout` is how long the caller gave, for the message).
  Result<json> receive(Clock::time_point deadline, Millis timeout) {
    using R = Result<json>;
    if (broken) return R::failure("connection to priest at " + address + " is closed");
    std::error_code ec;
    bool done = false;
    char buf[16 * 1024];
    for (;;) {
      if (auto payload = decoder.next()) {
        auto reply = parse_object(*payload);
        if (!reply) {
          broken = true;
          return R::failure("priest at " + address + " sent a reply that is not a JSON object");
        }
        return std::move(*reply);
      }
      if (decoder.failed()) {
        broken = true;
        return R::failure("priest at " + address + " sent a bad frame: " + decoder.error());
      }
      size_t n = 0;
      done = false;
      with_stream([&](auto& stream) {
        stream.async_read_some(asio::buffer(buf), [&](std::error_code e, size_t got) {
          ec = e;
          n = got;
          done = true;
        });
      });
      if (!run_until(deadline, done)) return timed_out(timeout);
      if (ec) return R::failure(failure(ec));
      decoder.feed(std::string_view(buf, n));
    }
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::connect(const std::string& host, uint16_t port,
                                                        Millis timeout, PriestId expect) {
  using R = Result<std::unique_ptr<Connection>>;
  auto impl = std::make_unique<Impl>();
  impl->address = address_of(host, port);
  auto deadline = Clock::now() + timeout;
  std::error_code ec;
  // A numeric address needs no lookup. A host name is looked up synchronously: getaddrinfo
  // cannot be cancelled, so a deadline would not shorten the wait anyway.
  std::vector<tcp::endpoint> endpoints;
  if (auto addr = asio::ip::make_address(host, ec); !ec) {
    endpoints.emplace_back(addr, port);
  } else {
    tcp::resolver resolver(impl->io);
    auto found = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return R::failure("cannot resolve " + host + ": " + ec.message());
    for (const auto& e : found) endpoints.push_back(e.endpoint());
  }
  bool done = false;
  asio::async_connect(impl->socket, endpoints, [&](std::error_code e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  if (!impl->run_until(deadline, done))
    return R::failure("priest at " + impl->address + " did not accept a connection within " +
                      std::to_string(timeout.count()) + " ms");
  if (ec) return R::failure("cannot connect to priest at " + impl->address + ": " + ec.message());
  impl->socket.set_option(tcp::no_delay(true), ec);
  if (g_tls) {
    impl->tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(impl->socket, *g_tls);
    done = false;
    impl->tls->async_handshake(asio::ssl::stream_base::client, [&](std::error_code e) {
      ec = e;
      done = true;
    });
    if (!impl->run_until(deadline, done))
      return R::failure("priest at " + impl->address + " did not finish a TLS handshake within " +
                        std::to_string(timeout.count()) + " ms");
    if (ec) return R::failure(impl->failure(ec));
    auto who = tls::peer_identity(impl->tls->native_handle());
    if (!who || who->role != tls::Role::Priest)
      return R::failure(
          "the process at " + impl->address +
          " is not a priest of this parliament: " + (who ? tls::describe(*who) : who.error()));
    if (expect != 0 && g_check_ids && who->id != expect)
      return R::failure("the process at " + impl->address + " is priest " +
                        std::to_string(who->id) + ", not priest " + std::to_string(expect) +
                        " as the configuration says; "
                        "is the configuration right, or is someone else answering there?");
    impl->peer_key = tls::peer_key(impl->tls->native_handle());
  }
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

Result<json> Connection::call(const json& request, Millis timeout) {
  return impl_->call(request, timeout);
}

Result<json> Connection::receive(Millis timeout) {
  return impl_->receive(Clock::now() + timeout, timeout);
}

const std::string& Connection::peer_key() const { return impl_->peer_key; }

Result<json> call_priest(const PriestAddress& p, const json& request, Millis timeout,
                         std::string* peer_key) {
  auto deadline = Clock::now() + timeout;
  auto conn = Connection::connect(p.host, p.port, timeout, p.id);
  if (!conn) return Result<json>::failure(conn.error());
  if (peer_key) *peer_key = (*conn)->peer_key();
  auto reply = (*conn)->call(request, std::max(Millis(1), remaining(deadline)));
  if (!reply && Clock::now() >= deadline)  // name the caller's whole timeout, not what was left
    return Result<json>::failure("priest at " + address_of(p.host, p.port) +
                                 " did not answer within " + std::to_string(timeout.count()) +
                                 " ms");
  return reply;
}

std::optional<Membership> discover_membership(const std::vector<PriestAddress>& seeds,
                                              Millis timeout) {
  std::optional<Membership> best;
  std::set<std::pair<std::string, uint16_t>> asked;
  std::vector<PriestAddress> round = seeds;
  for (int rounds = 0; rounds < 3 && !round.empty(); ++rounds) {
    std::vector<Result<json>> replies(round.size(), Result<json>::failure("not asked"));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < round.size(); ++i) {
      asked.insert({round[i].host, round[i].port});
      threads.emplace_back([&, i] {
        replies[i] = call_priest(round[i], json{{"type", "status"}}, timeout);
      });
    }
    for (auto& t : threads) t.join();
    for (auto& r : replies) {
      if (!r || !r->contains("membership")) continue;
      auto m = parse_membership((*r)["membership"], "status.membership");
      if (m && (!best || m->decree_no > best->decree_no)) best = std::move(*m);
    }
    round.clear();
    if (best)
      for (auto& p : best->priests)
        if (!asked.count({p.host, p.port})) round.push_back(p);
  }
  return best;
}

std::vector<PriestAddress> parliament_priests_of(const std::vector<PriestAddress>& seeds,
                                                 const std::optional<Membership>& m) {
  if (!m) return seeds;
  // A member the caller's configuration names is reached at the configuration's address
  // (from a docker host, 127.0.0.1:7401 rather than priest1:7100); the others at theirs.
  std::vector<PriestAddress> out;
  for (const auto& p : m->priests) {
    auto seed = std::find_if(seeds.begin(), seeds.end(), [&](auto& s) { return s.id == p.id; });
    out.push_back(seed != seeds.end() ? *seed : p);
  }
  return out;
}

std::vector<PriestAddress> parliament_priests(const std::vector<PriestAddress>& seeds,
                                              Millis timeout) {
  return parliament_priests_of(seeds, discover_membership(seeds, timeout));
}

uint64_t random_client_id() {
  std::random_device rd;
  for (;;) {
    uint64_t id = (uint64_t(rd()) << 32 | rd()) & ((uint64_t(1) << 63) - 1);
    if (id != 0) return id;
  }
}

}  // namespace parliament
