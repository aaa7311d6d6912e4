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

Millis remaining(Clock::time_point deadline) {
  return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

std::string seconds_text(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", d.count() / 1000.0);
  return buf;
}

std::shared_ptr<asio::ssl::context> g_tls;  // set_tls(): this process's client credentials

}  // namespace

void set_tls(std::shared_ptr<asio::ssl::context> context) { g_tls = std::move(context); }

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
    auto timed_out = [&] {
      return R::failure("priest at " + address + " did not answer within " +
                        std::to_string(timeout.count()) + " ms");
    };
    std::string out = frame(request);
    std::error_code ec;
    bool done = false;
    with_stream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(out), [&](std::error_code e, size_t) {
        ec = e;
        done = true;
      });
    });
    if (!run_until(deadline, done)) return timed_out();
    if (ec) return R::failure(failure(ec));
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
      if (!run_until(deadline, done)) return timed_out();
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

Proposer::Proposer(std::vector<PriestAddress> priests, uint64_t client_id)
    : priests_(std::move(priests)), client_id_(client_id) {}
Proposer::~Proposer() = default;

namespace {

// What the attempts of one propose learned: who answered, whether the request may have
// been delivered, and the errors to report if it never passed.
struct Attempts {
  std::set<PriestId> answered;  // priests that sent any reply during this propose
  bool maybe_delivered = false;  // a request left and its fate is unknown
  std::string unknown_why;       // the last reason it is unknown
  std::string last_error;        // from any attempt
  std::string last_refusal;      // from a priest that answered

  // An attempt cut short by the deadline says less than the ones before it.
  void failed(const PriestAddress& p, const std::string& why, bool cut_short) {
    if (!cut_short || last_error.empty())
      last_error = "priest " + std::to_string(p.id) + ": " + why;
  }
  // The priest answered: passed (true, with its number in out), or refused.
  bool heard(const PriestAddress& p, const json& r, ProposeOutcome& out) {
    answered.insert(p.id);
    auto ok = r.find("ok");
    auto no = r.find("decree_no");
    if (r.value("type", "") == "reply" && ok != r.end() && ok->is_boolean() && ok->get<bool>() &&
        no != r.end() && no->is_number_unsigned()) {
      out.passed = true;
      out.decree_no = no->get<uint64_t>();
      return true;
    }
    auto err = r.find("error");
    std::string why = err != r.end() && err->is_string() ? err->get<std::string>()
                                                         : "malformed reply " + r.dump();
    auto unknown = r.find("outcome_unknown");
    last_error = last_refusal = "priest " + std::to_string(p.id) + ": " + why;
    if (unknown != r.end() && unknown->is_boolean() && unknown->get<bool>()) {
      maybe_delivered = true;
      unknown_why = last_error;
    }
    return false;
  }
  // Why the decree did not pass by the deadline, `after` that long.
  std::string error(size_t priests, const std::string& after) const {
    if (maybe_delivered)
      return "outcome unknown after " + after +
             ": decree may still pass (last error: " + unknown_why + ")";
    if (answered.size() < quorum_size(priests))
      return no_quorum_text({answered.begin(), answered.end()}, priests) +
             (last_error.empty() ? "" : " (last error: " + last_error + ")");
    return last_refusal;  // a majority answered, and refused: say why
  }
};

}  // namespace

ProposeOutcome Proposer::propose(const std::string& text, Millis deadline_after) {
  const auto deadline = Clock::now() + deadline_after;
  // One request number per decree: every retry below is the same (client, request), so the
  // parliament passes it at most once however many priests hear it.
  const uint64_t request = next_request_++;
  const json message = {
      {"type", "propose"}, {"client", client_id_}, {"request", request}, {"decree", text}};
  ProposeOutcome out;
  if (priests_.empty()) {
    out.error = "no priests to propose to";
    return out;
  }
  Attempts tried;
  Millis pause(20);  // bounded back-off between attempts
  for (Millis left = remaining(deadline); left.count() > 0; left = remaining(deadline)) {
    const PriestAddress& p = priests_[current_ % priests_.size()];
    if (!conn_) {
      auto c = Connection::connect(p.host, p.port, std::min(left, Millis(300)), p.id);
      if (c) conn_ = std::move(*c);
      else tried.failed(p, c.error(), left < Millis(300));
    }
    if (conn_) {
      left = std::max(Millis(1), remaining(deadline));
      auto reply = conn_->call(message, std::min(left, Millis(2000)));
      if (reply && tried.heard(p, *reply, out)) return out;
      if (!reply) {
        // The request may have reached the priest (or its president) before the silence or
        // the broken connection: from here on the decree may pass without our seeing it.
        tried.maybe_delivered = true;
        tried.failed(p, reply.error(), left < Millis(2000));
        tried.unknown_why = "priest " + std::to_string(p.id) + ": " + reply.error();
      }
    }
    conn_.reset();
    current_ = (current_ + 1) % priests_.size();
    auto wait = std::min(pause, remaining(deadline));
    if (wait.count() > 0) std::this_thread::sleep_for(wait);
    pause = std::min(Millis(250), pause * 3 / 2);
  }
  out.error = tried.error(priests_.size(), seconds_text(deadline_after));
  return out;
}

uint64_t random_client_id() {
  std::random_device rd;
  for (;;) {
    uint64_t id = (uint64_t(rd()) << 32 | rd()) & ((uint64_t(1) << 63) - 1);
    if (id != 0) return id;
  }
}

}  // namespace parliament
