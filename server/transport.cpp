// The Asio host of one priest. One io_context, one thread: no locks, no strands.
//
// Connections: every priest listens on one port. A peer that connects says
// {"type":"hello","from":ID,"incarnation":HEX} first and then only sends the paxos
// messages it addresses to us; we send ours to it over our own outbound link (one per
// peer, reconnecting with back-off). Any other first frame makes the connection a client
// session. Every message on a peer's connection is stepped as said by the incarnation of
// its hello: the core (proto/priest.hpp) decides whose votes count.
//
// A link the peer closes soon after we connect, before it has said anything (a priest not
// bootstrapped yet, or with another membership, closes it at once), counts as a failure:
// we wait, with back-off, before trying again. Warnings a peer can provoke over and over
// go through a LogLimit (server/log_limit.hpp): one line per kind and peer per 10 s.
#include "server/transport.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <spdlog/spdlog.h>

#include "proto/framing.hpp"
#include "proto/message.hpp"
#include "proto/priest.hpp"
#include "proto/clerk.hpp"
#include "client/tls.hpp"
#include "client/tls_session.hpp"
#include "server/archive.hpp"
#include "server/chronicle.hpp"
#include "server/http.hpp"
#include "server/metrics.hpp"
#include "server/log_limit.hpp"
#include "server/storage.hpp"

namespace parliament {

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr size_t kPeerQueueBytes = 64 << 20;    // beyond this, messages to a slow peer drop
// Replies waiting for a client (queued, or in the write under way): at most 2 frames' worth
// on one connection (8 MiB with the default max_frame_bytes), and kClientRepliesBudget on all
// client connections together. A client that goes over either is closed with one line: the
// one holding the most unread replies goes first (README "Limits").
constexpr size_t kClientRepliesBudget = 32 << 20;
// Connections by kind, each with its own cap, so that no kind can take another's place
// (README "Limits"). An accepted connection that has not yet said its first frame is
// pending: beyond kMaxPending the oldest of them is closed (an honest one speaks at once, so
// a flood of new connections cannot starve it). At most kMaxHandshakes are in the middle of
// a TLS handshake: beyond that, the oldest goes if it has been at it for kHandshakeGrace
// (an honest one finishes in a few round trips), otherwise the newcomer does, so that a
// burst of honest connections (a client opening a hundred at once) is not cut down by its
// own later members while each handshake waits its turn for the CPU. Frames a client has begun but not finished hold at most
// kUnfinishedBudget bytes in all.
constexpr size_t kMaxPending = 1024;
constexpr size_t kMaxHandshakes = 256;
constexpr auto kHandshakeGrace = std::chrono::seconds(1);
constexpr size_t kMaxClients = 512;
constexpr size_t kMaxPeers = 64;
constexpr size_t kUnfinishedBudget = 16 << 20;
constexpr auto kFirstFrameDeadline = std::chrono::seconds(10);  // accept to first whole frame
constexpr auto kClientFrameDeadline = std::chrono::seconds(10);  // first byte to last of a frame
constexpr auto kPeerFrameDeadline = std::chrono::seconds(30);
constexpr auto kFinishDeadline = std::chrono::seconds(2);  // to write a refusal before closing
constexpr std::chrono::milliseconds kAcceptBackoff{100};  // after EMFILE and the like
// Reconnecting to a peer: the first wait, and its cap when connecting fails and when the
// peer closes the link at once. A link that stayed up this long, or on which the peer has
// spoken, has proved itself: the back-off starts again from the first wait.
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kConnectBackoffCap{500};
constexpr std::chrono::milliseconds kClosedBackoffCap{2000};
constexpr std::chrono::milliseconds kLinkProven{1000};
// Reconnects that skip the back-off (the peer said hello, or a proven link closed) are at
// least this far apart, so no peer can make them a tight loop.
constexpr std::chrono::milliseconds kMinReconnectGap{100};

class Host;

// One TCP connection carrying frames both ways, with a bounded write queue; over TLS unless
// the config says "tls": false. It costs little until its other end speaks: an accepted
// connection waits for its first bytes before it allocates a TLS session or a read buffer,
// and the read buffer grows with what arrives (4 KiB first, 64 KiB at most).
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  enum class Kind { Unknown, Client, PeerIn, PeerOut };

  Conn(tcp::socket s, Host& host, Kind kind, size_t max_frame, size_t max_queue,
       std::shared_ptr<asio::ssl::context> tls)
      : kind(kind), sock_(std::move(s)), host_(host), decoder_(max_frame), max_queue_(max_queue),
        tls_context_(std::move(tls)) {
    asio::error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);
    auto ep = sock_.remote_endpoint(ec);
    ip = ec ? "?" : ep.address().to_string();
    name = ec ? "?" : ip + ":" + std::to_string(ep.port());
  }

  Kind kind;
  PriestId peer = 0;
  uint64_t incarnation = 0;  // PeerIn: the incarnation the peer's hello named
  std::string ip;    // the remote address, without the port (the key for rate-limited warnings)
  std::string name;  // ip:port
  // Who the other end is, from its certificate; nullopt without TLS (anyone may say anything).
  std::optional<tls::Identity> identity;
  std::string key;  // its certificate's public key (tls::peer_key); empty without TLS
  Clock::time_point opened = Clock::now();
  Clock::time_point last_frame = Clock::now();  // the last whole frame received

  // Accepted connections wait for the first bytes, then (TLS) shake hands as the server;
  // our links to peers shake hands as the client. Frames queued before are sent after.
  void start();
  // Queues one frame; false if the queue is full (the frame is not sent).
  bool send(std::string framed);
  // Sends this last frame (a refusal), reads no more, and closes once it is written.
  void finish(std::string framed);
  void close();
  size_t counted_unfinished = 0;  // of unfinished_bytes(), what the host's budget counts
  Clock::time_point finish_began;
  bool closed() const { return closed_; }
  bool ready() const { return ready_; }    // handshake done (or plaintext and bytes came)
  bool handshaking() const { return handshaking_; }
  Clock::time_point handshake_began() const { return handshake_began_; }
  bool finishing() const { return finishing_; }
  size_t unfinished_bytes() const { return decoder_.pending_bytes(); }
  size_t held_bytes() const { return held_bytes_; }  // replies not yet written out
  Clock::time_point frame_started() const { return frame_started_; }

 private:
  void handshake();
  void on_ready();
  // TLS: decrypts what arrived into `plain`, shaking hands first; false if the connection
  // was refused or closed.
  bool unseal(std::string_view bytes, std::string& plain);
  void read();
  void write();

  tcp::socket sock_;  // (before tls_, which refers to it)
  Host& host_;
  FrameDecoder decoder_;
  size_t max_queue_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<tls::Session> tls_;
  std::vector<char> buf_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  size_t held_bytes_ = 0;  // queued, or in the write under way (before TLS)
  void release(size_t n);  // n held bytes were written (or dropped)
  std::string sealing_;  // TLS: frames being sealed into writing_
  std::string writing_;  // the bytes of the one write under way (empty: none)
  bool closed_ = false;
  bool peer_closed_ = false;  // TLS close_notify came: close after what came with it
  bool ready_ = false;
  bool handshaking_ = false;
  Clock::time_point handshake_began_;
  bool finishing_ = false;
  Clock::time_point frame_started_;
};

// Our outbound link to one peer: connects, says hello, reconnects with back-off.
struct PeerLink {
  PriestAddress addr;
  uint64_t generation = 0;  // callbacks of an earlier link to the same id find nothing
  std::shared_ptr<Conn> conn;
  std::unique_ptr<asio::steady_timer> retry;
  std::unique_ptr<asio::steady_timer> connect_deadline;
  Clock::time_point connected_at;
  Clock::time_point heard;  // the last frame from this priest, on its link to us
  bool heard_since_connect = false;
  Clock::time_point last_attempt;  // when connect() last began
  bool connecting = false;
  std::chrono::milliseconds backoff = kFirstBackoff;  // the next wait before reconnecting
  bool warned = false;  // "cannot reach" was logged for this outage
};

// A client's answer to its propose: passed at decree_no, or not (yet), and why.
std::string reply_frame(uint64_t client, uint64_t request, const ClientReply& r, uint64_t ledger_client = 0) {
  json j{{"type", "reply"}, {"client", client}, {"request", request}, {"ok", r.decree_no > 0}};
  if (ledger_client) j["ledger_client"] = ledger_client;
  if (r.decree_no > 0) {
    j["decree_no"] = r.decree_no;
  } else {
    j["error"] = r.error;
    j["outcome_unknown"] = r.outcome_unknown;
  }
  return frame(j);
}

// The documented refusal of a client request.
json error_frame(std::string why) { return json{{"type", "error"}, {"error", std::move(why)}}; }

struct Waiting {
  std::weak_ptr<Conn> conn;
  uint64_t client;
  uint64_t request;
  // A linearizable read instead of a proposal: the page of the ledger it asked for.
  bool read = false;
  uint64_t from = 1, max = 1000;
  uint64_t ledger_client = 0;  // a proposal's client as the ledger keys it (tls::ledger_client)
};

// The priest's Messenger (proto/clerk.hpp): peer links and client sessions.
class Host : public Messenger {
 public:
  Host(asio::io_context& io, const PriestRun& run)
      : io_(io), run_(run), me_(run.me), acceptor_(io), ticker_(io),
        signals_(io, SIGINT, SIGTERM) {}

  int start();
  void on_frame(const std::shared_ptr<Conn>& c, std::string_view payload);
  void on_closed(const std::shared_ptr<Conn>& c);
  // Closes a connection that sent bad input, with one warning (rate-limited: `kind` names
  // the kind of fault, and with the peer's address or priest id it is the limit's key). A
  // client is told why first, in the documented error frame.
  void bad_input(const std::shared_ptr<Conn>& c, std::string_view kind, const std::string& why) {
    std::string key(kind);
    key += c->kind == Conn::Kind::PeerIn ? " priest " + std::to_string(c->peer) : " " + c->ip;
    warn_limited(key, "closing connection from {}{}: {}", c->name, who(*c), why);
    if (c->kind == Conn::Kind::PeerIn || c->kind == Conn::Kind::PeerOut) return c->close();
    c->finish(frame(error_frame(why)));
  }
  // For logs: " (priest 3)" when the connection's certificate says so.
  static std::string who(const Conn& c) {
    return c.identity ? " (" + tls::describe(*c.identity) + ")" : "";
  }
  // Called by a Conn about to begin its TLS handshake, when kMaxHandshakes are under way:
  // closes the oldest other handshake if it is older than kHandshakeGrace, or else returns
  // false (the newcomer must go).
  bool make_room_for_handshake(Conn& c);
  // A handshake failed or named no party of the parliament.
  void tls_refused(Conn& c, const std::string& why);
  // After the handshake, bytes that are not a good TLS record: the connection is closed.
  void bad_tls_record(Conn& c, const std::string& why);
  // The handshake is done (or, plaintext, the first bytes came): false if the connection was
  // refused and closed.
  bool on_ready(const std::shared_ptr<Conn>& c);
  // After a read: counts the client's unfinished frame against kUnfinishedBudget; false if
  // the connection was closed for it.
  bool admit_unfinished(const std::shared_ptr<Conn>& c);
  // Called by a client's Conn before it queues a reply of `bytes`: false if it must not (it
  // was closed for holding too many unread replies). Makes room under kClientRepliesBudget
  // by closing the client connections holding the most.
  bool room_for_reply(Conn& c, size_t bytes);
  void client_reply_bytes(int64_t delta) { client_reply_bytes_ += delta; }
  void forget_unfinished(Conn& c) {
    unfinished_bytes_ -= c.counted_unfinished;
    c.counted_unfinished = 0;
  }
  void count_bytes(size_t in, size_t out) {
    counters_.bytes_in += in;
    counters_.bytes_out += out;
  }

 private:
  void accept();
  void sweep_connections();
  size_t count(Conn::Kind kind) const;
  void on_tick();
  void schedule_flush();
  void reset_silent_links();
  void flush();
  void halt(const std::string& why);
  void start_parliament(const Membership& membership);
  void connect(PeerLink& link);
  void connect_soon(PeerLink& link);
  std::chrono::milliseconds retry_later(PeerLink& link, std::chrono::milliseconds cap);
  // The link to `id` still the one of generation `gen`, or nullptr (it was closed since).
  PeerLink* link_of(PriestId id, uint64_t gen) {
    auto it = links_.find(id);
    return it == links_.end() || it->second.generation != gen ? nullptr : &it->second;
  }
  // Logs a warning unless one with the same key was logged in the last 10 s; true if logged.
  template <class... Args>
  bool warn_limited(std::string_view key, fmt::format_string<Args...> f, Args&&... args) {
    auto suffix = log_limit_.admit(key, Clock::now());
    if (!suffix) return false;
    spdlog::warn("{}{}", fmt::format(f, std::forward<Args>(args)...), *suffix);
    return true;
  }
  std::string encode_frame(const Message& m);
  void shutdown();

  // Messenger
  bool send(const Message& m) override;
  void reply(const ClientReply& r) override;
  void note(const std::string& line) override { spdlog::info("{}", line); }
  void events(const std::vector<Event>& events) override {
    for (const auto& e : events) {
      counters_.count(e);
      if (chronicle_) chronicle_->add(e);
    }
  }
  void peers(const std::vector<PriestAddress>& peers) override;
  void membership(const Membership& m) override;

  // Membership is the only admission: the core's rule (Priest::admits) and the key rule
  // (Membership::key_refusal) for a link from priest `id` speaking as `incarnation` over `c`.
  bool admits(const Conn& c, PriestId id, uint64_t incarnation) const;
  // Why a client is served no more ("" if it is): its name is revoked by the membership in
  // force. Used by the client port and the HTTP port, and on every membership change.
  std::string revoked(const tls::Identity& who) const;
  void refuse_stranger(const std::shared_ptr<Conn>& c, PriestId id, uint64_t incarnation);
  void on_not_member(const std::shared_ptr<Conn>& c, const json& j);
  void retire(const std::string& why);  // removed or replaced by decree: stop for good
  void on_client_request(const std::shared_ptr<Conn>& c, const json& j);
  void on_propose(const std::shared_ptr<Conn>& c, const json& j);
  json status_json() const;
  // The HTTP port (server/http.hpp), if the config gives this priest one; its routes.
  Status start_http();
  std::string metrics_text() const;
  json ledger_json(const json& j);
  // Decrees from..from+max-1 of the ledger, not beyond decree upto, as the ledger and read
  // replies carry them.
  Result<json> ledger_page(uint64_t from, uint64_t max, uint64_t upto);
  void on_read(const std::shared_ptr<Conn>& c, const json& j);
  // Writes the parliament's id into the data directory (before membership.json), if TLS
  // gives it one.
  Status save_parliament() {
    return run_.parliament_id.empty() ? ok_status() : save_parliament_id(run_.data_dir, run_.parliament_id);
  }
  json bootstrap(const json& j);
  json join(const json& j);
  void on_change(const std::shared_ptr<Conn>& c, const json& j);
  bool begun() const;

  asio::io_context& io_;
  PriestRun run_;
  PriestAddress me_;
  tcp::acceptor acceptor_;
  asio::steady_timer ticker_;
  asio::signal_set signals_;

  Histogram votes_sync_seconds_;  // observed by the archive's syncer thread: outlives archive_
  std::unique_ptr<Archive> archive_;
  Restored restored_;  // what the files held at start, until the parliament starts
  uint64_t incarnation_ = 0;
  std::optional<Membership> membership_;  // as in membership.json; none: not bootstrapped
  std::optional<Priest> priest_;
  std::optional<Clerk> clerk_;
  std::map<PriestId, PeerLink> links_;
  uint64_t link_generation_ = 0;

  std::map<uint64_t, Waiting> waiting_;
  // Random start: an answer that was meant for a token of this priest's previous run never
  // finds a client of this one.
  uint64_t next_token_ = (std::random_device{}() | uint64_t{1}) << 20;
  std::vector<std::weak_ptr<Conn>> sessions_;
  bool flush_posted_ = false;
  // The president sends the same begin ballot to every priest: encode it once.
  std::tuple<Kind, Ballot, uint64_t, uint64_t, uint64_t, size_t, uint64_t, uint64_t> encoded_key_{};
  std::string encoded_;
  uint64_t ticks_ = 0;
  std::string halted_;
  std::string removed_;  // why this priest retired (removed or replaced by decree), if it did
  std::map<PriestId, uint64_t> refused_by_;  // peers that said not_member, and their decree
  bool stopping_ = false;
  LogLimit log_limit_;
  size_t unfinished_bytes_ = 0;
  int64_t client_reply_bytes_ = 0;  // replies held by client connections (Conn::held_bytes)
  asio::steady_timer accept_backoff_{io_};
  asio::steady_timer retire_timer_{io_};
  Counters counters_;
  std::unique_ptr<Chronicle> chronicle_;
  std::unique_ptr<HttpPort> http_;
};

// ---------------------------------------------------------------- Conn

void Conn::start() {
  auto self = shared_from_this();
  if (kind == Kind::PeerOut) return handshake();
  sock_.async_wait(tcp::socket::wait_read, [this, self](asio::error_code ec) {
    if (closed_) return;
    if (ec) {
      close();
      return host_.on_closed(self);
    }
    handshake();
  });
}

void Conn::handshake() {
  if (!tls_context_) return on_ready();
  if (kind != Kind::PeerOut && !host_.make_room_for_handshake(*this)) {
    close();
    return host_.on_closed(shared_from_this());
  }
  handshake_began_ = Clock::now();
  tls_ = std::make_unique<tls::Session>(*tls_context_, kind == Kind::PeerOut ? tls::Session::Side::Client
                                                                             : tls::Session::Side::Server);
  handshaking_ = true;
  write();  // our hello, when we are the client
  read();
}

void Conn::on_ready() {
  ready_ = true;
  if (!host_.on_ready(shared_from_this())) return;
  write();
  if (!tls_) read();
}

bool Conn::unseal(std::string_view bytes, std::string& plain) {
  auto self = shared_from_this();
  bool was_handshaking = handshaking_;
  auto status = tls_->receive(bytes, plain);
  write();  // what the handshake answers, or an alert
  if (status == tls::Session::Status::Failed) {
    handshaking_ = false;
    if (was_handshaking) host_.tls_refused(*this, tls_->error());
    else host_.bad_tls_record(*this, tls_->error());
    if (kind == Kind::PeerOut || writing_.empty()) {
      close();
      host_.on_closed(self);
    } else {
      // Closed once the alert is written: the other end learns why.
      finishing_ = true;
      finish_began = Clock::now();
    }
    return false;
  }
  if (was_handshaking && tls_->established()) {
    handshaking_ = false;
    auto who = tls::peer_identity(tls_->native());
    if (!who) {
      host_.tls_refused(*this, who.error());
      close();
      host_.on_closed(self);
      return false;
    }
    identity = *who;
    key = tls::peer_key(tls_->native());
    on_ready();
    if (closed_) return false;
  }
  if (status == tls::Session::Status::PeerClosed) peer_closed_ = true;
  return true;
}

void Conn::read() {
  if (finishing_) return;
  if (buf_.empty()) buf_.resize(4096);
  auto self = shared_from_this();
  sock_.async_read_some(asio::buffer(buf_), [this, self](asio::error_code ec, size_t n) {
    if (closed_ || finishing_) return;
    if (ec) {
      close();
      host_.on_closed(self);
      return;
    }
    std::string decrypted;
    std::string_view got(buf_.data(), n);
    if (tls_) {
      if (!unseal(got, decrypted)) return;
      got = decrypted;
    }
    host_.count_bytes(got.size(), 0);
    bool was_empty = decoder_.pending_bytes() == 0;
    bool fed = decoder_.feed(got);
    if (n == buf_.size() && buf_.size() < 64 * 1024) buf_.resize(buf_.size() * 2);
    if (!fed) {
      host_.bad_input(self, "bad frame", decoder_.error());
      host_.on_closed(self);
      return;
    }
    if (was_empty && !got.empty()) frame_started_ = Clock::now();
    while (auto payload = decoder_.next()) {
      last_frame = frame_started_ = Clock::now();
      try {
        host_.on_frame(self, *payload);
      } catch (const std::exception& e) {
        // A reader that throws is a bug (the fuzzers look for them); it costs this one
        // connection, never the priest.
        host_.bad_input(self, "unreadable frame", std::string("a frame could not be read: ") + e.what());
      }
      if (closed_) {
        host_.on_closed(self);
        return;
      }
      if (finishing_) return;
    }
    if (decoder_.failed()) {
      host_.bad_input(self, "bad frame", decoder_.error());
      host_.on_closed(self);
      return;
    }
    if (peer_closed_) {
      close();
      host_.on_closed(self);
      return;
    }
    if (!host_.admit_unfinished(self)) {
      host_.on_closed(self);
      return;
    }
    read();
  });
}

bool Conn::send(std::string framed) {
  if (closed_ || finishing_) return false;
  if (kind == Kind::Client && !host_.room_for_reply(*this, framed.size())) return false;
  if (queued_bytes_ + framed.size() > max_queue_) return false;
  queued_bytes_ += framed.size();
  held_bytes_ += framed.size();
  if (kind == Kind::Client) host_.client_reply_bytes(static_cast<int64_t>(framed.size()));
  queue_.push_back(std::move(framed));
  if (ready_ && writing_.empty()) write();
  return true;
}

void Conn::finish(std::string framed) {
  send(std::move(framed));
  finishing_ = true;
  finish_began = Clock::now();
  if (writing_.empty() && queue_.empty()) close();
}

void Conn::write() {
  if (!writing_.empty() || closed_) return;  // one write at a time; its completion calls again
  // Coalesce queued frames into one write of up to about 1 MiB (sealed into records at once).
  std::string& batch = tls_ ? sealing_ : writing_;
  size_t taken = 0;  // the plaintext bytes of this write, held until it completes
  while (ready_ && !queue_.empty() &&
         (batch.empty() || batch.size() + queue_.front().size() <= (1 << 20))) {
    queued_bytes_ -= queue_.front().size();
    taken += queue_.front().size();
    host_.count_bytes(0, queue_.front().size());
    batch += queue_.front();
    queue_.pop_front();
  }
  if (tls_) {
    if (!sealing_.empty() && tls_->seal(sealing_) != tls::Session::Status::Ok) {
      spdlog::warn("closing connection to {}: {}", name, tls_->error());
      close();
      // Not from here: write() runs inside send(), which the host may be calling on this link.
      asio::post(sock_.get_executor(), [self = shared_from_this(), &host = host_] { host.on_closed(self); });
      return;
    }
    sealing_.clear();
    tls_->take_output(writing_);
  }
  if (writing_.empty()) {
    release(taken);
    if (finishing_) close();
    return;
  }
  auto self = shared_from_this();
  asio::async_write(sock_, asio::buffer(writing_), [this, self, taken](asio::error_code ec, size_t) {
    writing_.clear();
    if (closed_) return;
    release(taken);
    if (ec) {
      close();
      host_.on_closed(self);
      return;
    }
    write();
  });
}

void Conn::close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ec;
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
  queue_.clear();
  queued_bytes_ = 0;
  release(held_bytes_);
  host_.forget_unfinished(*this);
}

void Conn::release(size_t n) {
  n = std::min(n, held_bytes_);
  held_bytes_ -= n;
  if (kind == Kind::Client) host_.client_reply_bytes(-static_cast<int64_t>(n));
}

// ---------------------------------------------------------------- Host: start and stop

int Host::start() {
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ priest " + std::to_string(run_.id) + ": %v");
  if (auto s = ensure_dir(run_.data_dir); !s) {
    spdlog::critical("{}", s.error());
    return 1;
  }
  // Before any other file: a blank directory is a new incarnation of this priest.
  auto inc = load_or_create_incarnation(run_.data_dir);
  if (!inc) {
    spdlog::critical("{}", inc.error());
    return 1;
  }
  incarnation_ = *inc;
  auto removed = read_removed(run_.data_dir);
  if (!removed) {
    spdlog::critical("{}", removed.error());
    return 1;
  }
  if (!removed->empty()) {
    spdlog::critical("priest {} was removed from the parliament ({}/removed: {}); it does not "
                     "start again. To bring this machine back, wipe {} and paxos-god add or "
                     "replace it.", run_.id, run_.data_dir, *removed, run_.data_dir);
    return kExitRemoved;
  }
  auto archive = Archive::open(
      run_.data_dir, restored_, [this](std::function<void()> f) { asio::post(io_, std::move(f)); },
      [this](const std::string& why) { halt(why); }, run_.config.max_frame_bytes / 4,
      [this](const Status& s) {
        if (!clerk_ || !halted_.empty()) return;
        clerk_->votes_synced(s);
        flush();
      });
  if (!archive) {
    spdlog::critical("{}", archive.error());
    return 1;
  }
  archive_ = std::move(*archive);
  archive_->time_votes_syncs(&votes_sync_seconds_);
  chronicle_ = std::make_unique<Chronicle>(run_.data_dir, run_.id);
  chronicle_->add("started");
  auto members = load_membership(run_.data_dir);
  if (!members) {
    spdlog::critical("{}", members.error());
    return 1;
  }
  std::string retire_at_start;
  // The ledger is the authority: its last membership decree, if membership.json has not
  // caught up with it (a crash between the two).
  if (*members && restored_.last_membership &&
      restored_.last_membership->decree_no > (*members)->decree_no) {
    auto m = parse_membership_decree(restored_.last_membership->decree.text,
                                     restored_.last_membership->decree_no);
    if (!m) {
      spdlog::critical("{}/ledger.csv: decree {}: {}", run_.data_dir,
                       restored_.last_membership->decree_no, m.error());
      return 1;
    }
    // A crash came between the ledger holding a decree that removed this priest and
    // membership.json saying so (Host::membership): it retires now.
    if ((*members)->voter(run_.id, incarnation_) && !m->voter(run_.id, incarnation_))
      retire_at_start = "its ledger holds membership decree " + std::to_string(m->decree_no) +
                        ", which does not name incarnation " + incarnation_text(incarnation_) +
                        " of priest " + std::to_string(run_.id);
    *members = *m;
    if (auto s = save_membership(run_.data_dir, *m); !s) {
      spdlog::critical("{}", s.error());
      return 1;
    }
  }
  // (A priest that joined to learn the ledger was given the membership of a decree it has
  // not learned yet; it is not a voter of it.)
  if (*members && (*members)->decree_no > archive_->ledger_length() &&
      (*members)->voter(run_.id, incarnation_)) {
    spdlog::critical("{}/membership.json was set by decree {}, but ledger.csv holds only {} "
                     "decrees: the ledger lost decrees it had made durable; restore the data "
                     "directory, or replace this priest (paxos-god replace {})",
                     run_.data_dir, (*members)->decree_no, archive_->ledger_length(), run_.id);
    return 1;
  }

  asio::error_code ec;
  auto addr = asio::ip::make_address(me_.listen, ec);
  if (ec) {
    // a host name (e.g. in docker): resolve it
    tcp::resolver resolver(io_);
    auto res = resolver.resolve(me_.listen, std::to_string(me_.port), ec);
    if (ec || res.empty()) {
      spdlog::critical("cannot resolve listen address {} of priest {} in {}: {}", me_.listen,
                       run_.id, run_.config_path, ec.message());
      return 1;
    }
    addr = res.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, me_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    spdlog::critical("cannot listen on {}:{}: {} (is another priest already running there?)",
                     me_.listen, me_.port, ec.message());
    return 1;
  }
  spdlog::info("listening on {}:{}; data in {} (incarnation {}); ledger holds {} decrees; promise {}",
               me_.listen, me_.port, run_.data_dir, incarnation_text(incarnation_),
               archive_->ledger_length(), to_string(restored_.next_bal));
  if (auto s = start_http(); !s) {
    spdlog::critical("{}", s.error());
    return 1;
  }
  // A data directory of a parliament that began before ids were written: it is this one's.
  if (*members && !run_.parliament_id.empty())
    if (auto held = read_parliament_id(run_.data_dir); held && held->empty())
      if (auto s = save_parliament_id(run_.data_dir, run_.parliament_id); !s) {
        spdlog::critical("{}", s.error());
        return 1;
      }
  if (*members) {
    start_parliament(**members);
    if (!retire_at_start.empty()) retire(retire_at_start);
  } else {
    spdlog::info("not bootstrapped yet: waiting for paxos-god to send the membership");
  }
  accept();
  signals_.async_wait([this](asio::error_code ec, int sig) {
    if (!ec) {
      spdlog::info("signal {}: shutting down", sig);
      shutdown();
    }
  });
  on_tick();
  io_.run();
  if (!removed_.empty()) return kExitRemoved;
  return halted_.empty() ? 0 : 1;
}

void Host::shutdown() {
  stopping_ = true;
  asio::error_code ec;
  acceptor_.close(ec);
  ticker_.cancel();
  if (archive_) {
    archive_->stop();  // joins the archive's helper and syncer threads
    if (halted_.empty())
      if (auto s = archive_->sync_ledger(); !s) halt(s.error());
  }
  for (auto& [id, link] : links_) {
    if (link.conn) link.conn->close();
    if (link.retry) link.retry->cancel();
  }
  for (auto& w : sessions_)
    if (auto c = w.lock()) c->close();
  http_.reset();  // (its connections close with the loop)
  io_.stop();
}

void Host::start_parliament(const Membership& membership) {
  membership_ = membership;
  PriestOptions o;
  o.id = run_.id;
  o.incarnation = incarnation_;
  o.membership = membership;
  o.heartbeat_ticks = run_.config.heartbeat_ticks;
  o.max_decree_bytes = run_.config.max_decree_bytes;
  o.election_timeout_ticks = run_.config.election_timeout_ticks;
  o.max_batch_bytes = std::min<size_t>(o.max_batch_bytes, run_.config.max_frame_bytes / 4);
  o.max_in_flight_bytes = std::min<size_t>(o.max_in_flight_bytes, run_.config.max_frame_bytes / 2);
  o.seed = std::random_device{}();
  priest_.emplace(o, std::move(restored_));
  restored_ = {};
  clerk_.emplace(*priest_, *archive_, *this, [this](const std::string& why) { halt(why); });
  bool voter = membership.voter(run_.id, incarnation_);
  spdlog::info("{} a parliament of {} priests (membership of decree {}); {} open votes on disk",
               voter ? "in" : "learning the ledger of, not yet a voter of,",
               membership.priests.size(), membership.decree_no, priest_->votes().size());
  flush();  // the priest's first Ready names its peers (Host::peers)
}

// Keeps one outbound link per peer the priest names: new ones connect, ones whose address
// changed (a priest replaced on another host) reconnect, ones no longer named close.
void Host::peers(const std::vector<PriestAddress>& peers) {
  // The membership (or the priest being taught) changed: inbound links of priests no longer
  // admitted are told so and closed.
  for (auto& w : sessions_)
    if (auto c = w.lock(); c && !c->closed() && !c->finishing() && c->kind == Conn::Kind::PeerIn &&
                           !admits(*c, c->peer, c->incarnation)) {
      c->kind = Conn::Kind::Unknown;  // (nothing it still sends is stepped)
      refuse_stranger(c, c->peer, c->incarnation);
    }
  // A revocation among them: the revoked clients' connections are closed.
  for (auto& w : sessions_)
    if (auto c = w.lock(); c && !c->closed() && !c->finishing() && c->kind == Conn::Kind::Client && c->identity)
      if (auto why = revoked(*c->identity); !why.empty()) bad_input(c, "revoked", why);
  std::set<PriestId> named;
  for (auto& p : peers) {
    if (p.id == run_.id) continue;
    named.insert(p.id);
    auto it = links_.find(p.id);
    if (it != links_.end() && it->second.addr.host == p.host && it->second.addr.port == p.port) {
      it->second.addr = p;
      continue;
    }
    if (it != links_.end()) {
      if (it->second.conn) it->second.conn->close();
      it->second.retry->cancel();
      it->second.connect_deadline->cancel();
      links_.erase(it);
    }
    auto& link = links_[p.id];
    link.addr = p;
    link.generation = ++link_generation_;
    link.retry = std::make_unique<asio::steady_timer>(io_);
    link.connect_deadline = std::make_unique<asio::steady_timer>(io_);
    connect(link);
  }
  for (auto it = links_.begin(); it != links_.end();) {
    if (named.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.conn) it->second.conn->close();
    it->second.retry->cancel();
    it->second.connect_deadline->cancel();
    it = links_.erase(it);
  }
}

// membership.json follows the ledger: written once the ledger holding the decree that set
// the membership is fdatasynced, so that it never names a membership the ledger lost.
void Host::membership(const Membership& m) {
  if (auto s = archive_->sync_ledger(); !s) return halt(s.error());
  if (auto s = save_membership(run_.data_dir, m); !s) return halt(s.error());
  bool was_voter = membership_ && membership_->voter(run_.id, incarnation_);
  membership_ = m;
  refused_by_.clear();  // (refusals counted against the membership before)
  spdlog::info("membership.json now holds the membership of decree {} ({} priests)", m.decree_no,
               m.priests.size());
  if (was_voter && !m.voter(run_.id, incarnation_))
    retire("its ledger holds membership decree " + std::to_string(m.decree_no) +
           ", which does not name incarnation " + incarnation_text(incarnation_) + " of priest " +
           std::to_string(run_.id));
}

// ---------------------------------------------------------------- connections

void Host::accept() {
  acceptor_.async_accept([this](asio::error_code ec, tcp::socket s) {
    if (stopping_) return;
    if (ec) {
      // Out of file descriptors (EMFILE, ENFILE) or the like: the pending connection stays
      // in the kernel's queue, so accepting again at once would spin. Wait, then try again.
      warn_limited("accept", "cannot accept connections: {}; trying again in {} ms ({} open here)",
                   ec.message(), kAcceptBackoff.count(), sessions_.size());
      accept_backoff_.expires_after(kAcceptBackoff);
      accept_backoff_.async_wait([this](asio::error_code e) {
        if (!e && !stopping_) accept();
      });
      return;
    }
    std::erase_if(sessions_, [](auto& w) { return w.expired(); });
    if (count(Conn::Kind::Unknown) >= kMaxPending) {
      // Make room: the oldest pending connection goes (an honest one would have spoken).
      std::shared_ptr<Conn> oldest;
      for (auto& w : sessions_)
        if (auto c = w.lock(); c && c->kind == Conn::Kind::Unknown && (!oldest || c->opened < oldest->opened))
          oldest = c;
      warn_limited("too many pending", "{} connections have not said a word yet; closing the oldest, from {}",
                   kMaxPending, oldest->name);
      oldest->close();
    }
    auto c = std::make_shared<Conn>(std::move(s), *this, Conn::Kind::Unknown,
                                    run_.config.max_frame_bytes, 2 * size_t(run_.config.max_frame_bytes), run_.tls);
    sessions_.push_back(c);
    c->start();
    accept();
  });
}

size_t Host::count(Conn::Kind kind) const {
  size_t n = 0;
  for (auto& w : sessions_)
    if (auto c = w.lock(); c && !c->closed() && c->kind == kind) ++n;
  return n;
}

bool Host::make_room_for_handshake(Conn& c) {
  size_t n = 0;
  std::shared_ptr<Conn> oldest;
  for (auto& w : sessions_)
    if (auto o = w.lock(); o && o.get() != &c && o->handshaking() && !o->closed()) {
      ++n;
      if (!oldest || o->handshake_began() < oldest->handshake_began()) oldest = o;
    }
  if (n < kMaxHandshakes) return true;
  if (Clock::now() - oldest->handshake_began() < kHandshakeGrace) {
    warn_limited("too many handshakes", "{} TLS handshakes under way, none older than {} ms; closing the newest, from {}",
                 kMaxHandshakes, std::chrono::milliseconds(kHandshakeGrace).count(), c.name);
    return false;
  }
  warn_limited("too many handshakes", "{} TLS handshakes under way; closing the oldest, from {}",
               kMaxHandshakes, oldest->name);
  oldest->close();
  return true;
}

void Host::tls_refused(Conn& c, const std::string& why) {
  if (c.kind == Conn::Kind::PeerOut) {
    warn_limited("tls priest " + std::to_string(c.peer), "cannot reach priest {} at {}: TLS: {}", c.peer,
                 c.name, why);
    return;
  }
  warn_limited("tls " + c.ip, "refusing connection from {}: TLS: {} (a party of this parliament presents "
               "a certificate signed by its CA)", c.name, why);
}

void Host::bad_tls_record(Conn& c, const std::string& why) {
  warn_limited("tls record " + c.ip, "closing connection from {}{}: a bad TLS record after the handshake: {}",
               c.name, who(c), why);
}

bool Host::on_ready(const std::shared_ptr<Conn>& c) {
  if (c->kind != Conn::Kind::PeerOut || !c->identity) return true;
  std::string retired = priest_ ? priest_->membership().key_refusal(c->peer, 0, c->key) : "";
  if (*c->identity == tls::Identity{tls::Role::Priest, c->peer} && retired.empty()) return true;
  warn_limited("not priest " + std::to_string(c->peer),
               "closing our link to priest {} at {}: {}", c->peer, c->name,
               retired.empty() ? "its certificate names " + tls::describe(*c->identity) + ", not priest " +
                                     std::to_string(c->peer)
                               : retired);
  c->close();
  on_closed(c);
  return false;
}

bool Host::room_for_reply(Conn& c, size_t bytes) {
  auto cut = [&](Conn& o, const char* why) {
    warn_limited("unread replies " + o.ip, "closing connection from {}{}: it does not read its replies ({} "
                 "bytes of them waiting; {})", o.name, who(o), o.held_bytes(), why);
    o.close();
  };
  if (c.held_bytes() + bytes > 2 * size_t(run_.config.max_frame_bytes) && c.held_bytes() > 0) {
    cut(c, "at most two frames' worth may wait on one connection");
    return false;
  }
  while (client_reply_bytes_ + int64_t(bytes) > int64_t(kClientRepliesBudget)) {
    std::shared_ptr<Conn> worst;
    for (auto& w : sessions_)
      if (auto o = w.lock(); o && !o->closed() && o->kind == Conn::Kind::Client &&
                             (!worst || o->held_bytes() > worst->held_bytes()))
        worst = o;
    if (!worst || worst->held_bytes() == 0) return true;
    cut(*worst, "the replies waiting for all clients reached their budget");
    if (worst.get() == &c) return false;
  }
  return true;
}

bool Host::admit_unfinished(const std::shared_ptr<Conn>& c) {
  if (c->kind == Conn::Kind::PeerIn || c->kind == Conn::Kind::PeerOut) return true;
  size_t now = c->unfinished_bytes();
  unfinished_bytes_ = unfinished_bytes_ - c->counted_unfinished + now;
  c->counted_unfinished = now;
  if (unfinished_bytes_ <= kUnfinishedBudget) return true;
  // Closed at once, not after an error frame: its bytes must go now.
  warn_limited("unfinished frames " + c->ip, "closing connection from {}{}: clients' unfinished frames hold more "
               "than {} MiB; this one holds {} bytes", c->name, who(*c), kUnfinishedBudget >> 20, now);
  c->close();
  return false;
}

// Every 100 ms: connections that missed a deadline are closed (README "Limits").
void Host::sweep_connections() {
  auto now = Clock::now();
  auto idle = std::chrono::milliseconds(run_.config.client_idle_timeout_ms);
  std::erase_if(sessions_, [](auto& w) { return w.expired(); });
  for (auto& w : sessions_) {
    auto c = w.lock();
    if (!c || c->closed()) continue;
    auto quiet = [&](const char* key, const std::string& why) {
      warn_limited(std::string(key) + " " + c->ip, "closing connection from {}{}: {}", c->name, who(*c), why);
      c->close();
    };
    if (c->finishing()) {
      if (now - c->finish_began > kFinishDeadline) c->close();
    } else if (c->kind == Conn::Kind::Unknown && now - c->opened > kFirstFrameDeadline) {
      quiet("no first frame", c->ready() ? "no whole frame within 10 s of connecting"
                                         : run_.tls ? "no TLS handshake within 10 s of connecting"
                                                    : "nothing said within 10 s of connecting");
    } else if (c->unfinished_bytes() > 0 &&
               now - c->frame_started() > (c->kind == Conn::Kind::PeerIn ? kPeerFrameDeadline : kClientFrameDeadline)) {
      quiet("slow frame", "a frame begun " +
                              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - c->frame_started()).count()) +
                              " s ago is still unfinished (" + std::to_string(c->unfinished_bytes()) + " bytes)");
    } else if (c->kind == Conn::Kind::Client && now - c->last_frame > idle &&
               std::none_of(waiting_.begin(), waiting_.end(), [&](auto& kv) { return kv.second.conn.lock() == c; })) {
      spdlog::debug("closing idle client connection from {} (client_idle_timeout_ms {})", c->name,
                    run_.config.client_idle_timeout_ms);
      c->close();
    }
  }
}

void Host::connect(PeerLink& link) {
  if (stopping_ || link.connecting || link.conn) return;
  link.connecting = true;
  link.last_attempt = Clock::now();
  auto resolver = std::make_shared<tcp::resolver>(io_);
  PriestId id = link.addr.id;
  uint64_t gen = link.generation;
  auto retry = [this, id, gen](const std::string& why) {
    PeerLink* lp = link_of(id, gen);
    if (!lp) return;
    auto& l = *lp;
    l.connecting = false;
    if (!l.warned && warn_limited("cannot reach priest " + std::to_string(id),
                                  "cannot reach priest {} at {}:{}: {}; retrying", id, l.addr.host,
                                  l.addr.port, why))
      l.warned = true;
    retry_later(l, kConnectBackoffCap);
  };
  resolver->async_resolve(
      link.addr.host, std::to_string(link.addr.port),
      [this, id, gen, resolver, retry](asio::error_code ec, tcp::resolver::results_type res) {
        if (stopping_ || !link_of(id, gen)) return;
        if (ec) return retry(ec.message());
        auto sock = std::make_shared<tcp::socket>(io_);
        // A connect whose SYN is dropped (a partition) would wait out the kernel's retries,
        // minutes; give up after a second and try again with our own back-off.
        auto& dl = link_of(id, gen)->connect_deadline;
        dl->expires_after(std::chrono::seconds(1));
        dl->async_wait([sock](asio::error_code ec) {
          asio::error_code ignored;
          if (!ec) sock->close(ignored);
        });
        asio::async_connect(*sock, res, [this, id, gen, sock, retry](asio::error_code ec, const tcp::endpoint&) {
          PeerLink* lp = link_of(id, gen);
          if (!lp) return;
          lp->connect_deadline->cancel();
          if (stopping_) return;
          if (ec) return retry(ec.message());
          auto& l = *lp;
          l.connected_at = l.heard = Clock::now();
          l.heard_since_connect = false;
          l.connecting = false;
          // (the back-off starts over only once the link has proved itself: see on_closed)
          if (l.warned) spdlog::info("reached priest {} again", id);
          l.warned = false;
          l.conn = std::make_shared<Conn>(std::move(*sock), *this, Conn::Kind::PeerOut,
                                          run_.config.max_frame_bytes, kPeerQueueBytes, run_.tls);
          l.conn->peer = id;
          l.conn->send(frame(json{{"type", "hello"}, {"from", run_.id},
                                  {"incarnation", incarnation_text(incarnation_)}}));
          l.conn->start();
        });
      });
}

// Waits the link's back-off (at most `cap`), then connects; doubles the back-off up to
// `cap`. Returns the wait.
std::chrono::milliseconds Host::retry_later(PeerLink& link, std::chrono::milliseconds cap) {
  auto wait = std::min(link.backoff, cap);
  link.backoff = std::min(wait * 2, cap);
  PriestId id = link.addr.id;
  uint64_t gen = link.generation;
  link.retry->expires_after(wait);
  link.retry->async_wait([this, id, gen](asio::error_code ec) {
    if (PeerLink* l = link_of(id, gen); !ec && l) connect(*l);
  });
  return wait;
}

// Connects now, skipping the back-off, unless the last attempt began less than
// kMinReconnectGap ago: then as soon as that much time has passed.
void Host::connect_soon(PeerLink& link) {
  if (stopping_ || link.conn || link.connecting) return;
  auto at = link.last_attempt + kMinReconnectGap;
  if (Clock::now() >= at) {
    link.retry->cancel();
    return connect(link);
  }
  PriestId id = link.addr.id;
  uint64_t gen = link.generation;
  link.retry->expires_at(at);  // (cancels the back-off's wait, if any)
  link.retry->async_wait([this, id, gen](asio::error_code ec) {
    if (PeerLink* l = link_of(id, gen); !ec && l) connect(*l);
  });
}

void Host::on_closed(const std::shared_ptr<Conn>& c) {
  if (c->kind != Conn::Kind::PeerOut) return;
  auto it = links_.find(c->peer);
  if (it == links_.end() || it->second.conn != c) return;
  auto& l = it->second;
  l.conn.reset();
  if (stopping_) return;
  auto up = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - l.connected_at);
  if (up >= kLinkProven || l.heard_since_connect) {
    // A link that worked: the peer has probably restarted; try again at once.
    l.backoff = kFirstBackoff;
    return connect_soon(l);
  }
  // Closed at once, before a word: a priest not bootstrapped yet, or one whose membership
  // does not hold us. Reconnecting at once would be a loop of thousands a second.
  auto wait = retry_later(l, kClosedBackoffCap);
  warn_limited("closed early " + std::to_string(l.addr.id),
               "priest {} at {}:{} closed our link {} ms after we connected, before saying "
               "anything; is it bootstrapped, with a membership that holds priest {}? retrying "
               "in {} ms",
               l.addr.id, l.addr.host, l.addr.port, up.count(), run_.id, wait.count());
}

// False if the message could not be queued (no link, or the link's queue is full): it is
// lost, as on any network; the protocol resends what matters.
bool Host::send(const Message& m) {
  auto it = links_.find(m.to);
  if (it == links_.end() || !it->second.conn) return false;
  if (it->second.conn->send(encode_frame(m))) {
    if (m.kind == Kind::CatchUp && !m.entries.empty()) {
      ++counters_.catch_up_sent;
      counters_.catch_up_decrees_sent += m.entries.size();
    }
    return true;
  }
  spdlog::debug("dropping {} to priest {}: its queue is full", name_of(m.kind), m.to);
  return false;
}

// A begin ballot or successful ballot is identified by its ballot, numbers and sender's
// ledger length (one president, one decree per number per ballot): encode it once with a
// placeholder recipient, then set "to" per priest.
std::string Host::encode_frame(const Message& m) {
  if (m.kind != Kind::BeginBallot && m.kind != Kind::Success) {
    std::string out;
    append_frame(out, encode_text(m));
    return out;
  }
  constexpr PriestId kAnyone = 0xFFFFFFFF;
  auto key = std::tuple{m.kind, m.ballot, m.commit_no, m.passed_len,
                        m.entries.empty() ? 0 : m.entries.front().decree_no, m.entries.size(),
                        m.entries.empty() ? 0 : m.entries.back().decree_no, m.token};
  if (key != encoded_key_ || encoded_.empty()) {
    Message any = m;
    any.to = kAnyone;
    encoded_ = encode_text(any);
    encoded_key_ = key;
  }
  static const std::string placeholder = "\"to\":" + std::to_string(kAnyone);
  std::string text = encoded_;
  // Inside a JSON string every quote is escaped, so only the key itself can match; and
  // encode_text writes "to" among the first keys, so the search ends within a few bytes.
  auto pos = text.find(placeholder);
  text.replace(pos, placeholder.size(), "\"to\":" + std::to_string(m.to));
  std::string out;
  append_frame(out, text);
  return out;
}

void Host::on_frame(const std::shared_ptr<Conn>& c, std::string_view payload) {
  if (c->kind == Conn::Kind::PeerIn) {
    if (auto l = links_.find(c->peer); l != links_.end()) {
      l->second.heard = Clock::now();
      l->second.heard_since_connect = true;
    }
    // The hot path: read the message straight from the text, no JSON tree.
    auto m = decode_text(payload);
    if (!m) return bad_input(c, "bad message", "priest " + std::to_string(c->peer) + " sent a bad frame: " + m.error());
    if (m->from != c->peer || m->to != run_.id)
      return bad_input(c, "misaddressed frame", "frame from " + std::to_string(m->from) + " to " + std::to_string(m->to) +
                              " on the link of priest " + std::to_string(c->peer));
    if (!priest_ || !halted_.empty()) return;
    m->incarnation = c->incarnation;
    if (m->kind == Kind::CatchUp && !m->entries.empty()) {
      ++counters_.catch_up_received;
      counters_.catch_up_decrees_received += m->entries.size();
    }
    if (auto why = priest_->step(*m); !why.empty())
      return bad_input(c, "refused message", "priest " + std::to_string(c->peer) + " sent a " +
                                                 name_of(m->kind) + " no priest would send: " + why);
    schedule_flush();
    return;
  }
  auto j = parse_object(payload);
  if (!j) return bad_input(c, "not an object", "frame is not a JSON object");
  auto t = j->find("type");
  if (t == j->end() || !t->is_string()) return bad_input(c, "no type", "frame has no type");
  const std::string& type = t->get_ref<const std::string&>();

  if (c->kind == Conn::Kind::Unknown) {
    if (type == "hello") {
      auto from = j->find("from");
      PriestId id = from != j->end() && from->is_number_unsigned() && from->get<uint64_t>() <= 1000000
                        ? from->get<PriestId>() : 0;
      auto inc = j->find("incarnation");
      auto incarnation = inc != j->end() && inc->is_string() ? parse_incarnation(inc->get<std::string>()) : std::nullopt;
      if (id == 0 || id == run_.id || !incarnation)
        return bad_input(c, "bad hello", "hello needs from (another priest's id) and incarnation (16 hex digits)");
      const uint64_t life = incarnation.value();
      // The id is the certificate's, never the frame's.
      if (c->identity && !(*c->identity == tls::Identity{tls::Role::Priest, id}))
        return bad_input(c, "hello of another", "hello from priest " + std::to_string(id) + " over a connection whose certificate is " +
                                                   tls::describe(*c->identity) + "'s");
      if (!membership_ || !priest_)
        return bad_input(c, "hello before bootstrap " + std::to_string(id),
                         "hello from priest " + std::to_string(id) + ", but this priest is not bootstrapped yet");
      // Membership is the only admission: a priest the membership in force here does not
      // name with this incarnation (removed, replaced, never added, or added by a decree not
      // learned here yet) is told so and gets nothing more.
      if (!admits(*c, id, life)) return refuse_stranger(c, id, life);
      // One link from each priest: a newer one replaces the older (the peer restarted).
      for (auto& w : sessions_)
        if (auto o = w.lock(); o && o != c && o->kind == Conn::Kind::PeerIn && o->peer == id) o->close();
      if (count(Conn::Kind::PeerIn) >= kMaxPeers)
        return bad_input(c, "too many peers", std::to_string(kMaxPeers) + " priests are linked here already");
      forget_unfinished(*c);
      c->kind = Conn::Kind::PeerIn;
      c->peer = id;
      c->incarnation = life;
      // The peer is back: reach it now rather than when our back-off expires (at most once
      // per kMinReconnectGap). The back-off itself starts over once the link proves itself.
      if (auto l = links_.find(id); l != links_.end()) connect_soon(l->second);
      return;
    }
    if (count(Conn::Kind::Client) >= kMaxClients)
      return bad_input(c, "too many clients", std::to_string(kMaxClients) +
                                                  " client connections are open here already; retry later or elsewhere");
    c->kind = Conn::Kind::Client;
  }
  if (c->kind == Conn::Kind::Client) on_client_request(c, *j);
  // On our outbound links a peer says one thing only: that it does not admit us.
  if (c->kind == Conn::Kind::PeerOut) on_not_member(c, *j);
}

std::string Host::revoked(const tls::Identity& who) const {
  if (!priest_ || who.role != tls::Role::Client || !priest_->membership().is_revoked(who.name)) return "";
  return "client " + who.name + "'s certificate was revoked by decree (membership of decree " +
         std::to_string(priest_->membership().decree_no) + ")";
}

bool Host::admits(const Conn& c, PriestId id, uint64_t incarnation) const {
  return priest_->admits(id, incarnation) && priest_->membership().key_refusal(id, incarnation, c.key).empty();
}

void Host::refuse_stranger(const std::shared_ptr<Conn>& c, PriestId id, uint64_t incarnation) {
  const Membership& m = priest_->membership();
  std::string why = m.key_refusal(id, incarnation, c->key);
  // Why, for the refused priest: "key" (the life named here, with another key: an operator's
  // mistake, never a reason for it to retire) or "membership" (removed, replaced, retired).
  const bool named_other_key = !why.empty() && !m.retired_key(c->key);
  if (why.empty()) why = "it is not a member of the membership in force here (decree " + std::to_string(m.decree_no) + ")";
  warn_limited("not a member " + std::to_string(id),
               "closing connection from {}{}: priest {} speaking as incarnation {}: {}; it gets nothing",
               c->name, who(*c), id, incarnation_text(incarnation), why);
  ++counters_.strangers_refused;
  c->finish(frame(json{{"type", "not_member"}, {"membership", m.decree_no}, {"priest", id},
                       {"incarnation", incarnation_text(incarnation)},
                       {"cause", named_other_key ? "key" : "membership"}}));
}

// A member of our membership refused our link: the membership in force in its ledger, of a
// newer decree than ours, does not name us. One peer's word proves nothing (a removed priest
// still at an address our membership names could say anything), but a majority of the
// membership we know cannot all hold a newer one without us unless it passed: then this
// priest was removed (one it missed, cut off while it passed), and it retires.
void Host::on_not_member(const std::shared_ptr<Conn>& c, const json& j) {
  auto n = j.find("membership");
  if (j.value("type", "") != "not_member" || n == j.end() || !n->is_number_unsigned())
    return bad_input(c, "bad refusal", "priest " + std::to_string(c->peer) +
                                           " wrote something other than not_member on our link");
  if (!priest_ || !halted_.empty()) return;
  const Membership& mine = priest_->membership();
  uint64_t at = n->get<uint64_t>();
  const bool key = j.value("cause", "") == "key";
  warn_limited("refused by " + std::to_string(c->peer),
               "priest {} does not admit this priest (incarnation {}): {}; it holds the membership of "
               "decree {}, this priest that of decree {}",
               c->peer, incarnation_text(incarnation_),
               key ? "the membership records another key for this priest (was it given a new key without "
                     "paxos-god replace?)"
                   : "not a member there",
               at, mine.decree_no);
  if (key) return;  // an operator's mistake to mend, not a removal
  if (at <= mine.decree_no || !mine.voter(run_.id, incarnation_) || !mine.find(c->peer)) return;
  refused_by_[c->peer] = at;
  std::vector<PriestId> who;
  for (auto& [id, decree] : refused_by_)
    if (mine.find(id) && decree > mine.decree_no) who.push_back(id);
  if (who.size() < mine.quorum()) return;
  std::string ids;
  for (PriestId id : who) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
  retire("a majority of the membership of decree " + std::to_string(mine.decree_no) + " (priests " +
         ids + ") holds a newer membership that does not name it");
}

// This priest was removed or replaced by decree: it records so (so that a restart stops at
// once too) and stops with kExitRemoved, which its systemd unit does not restart. It lingers
// for ten election timeouts first, as a non-voter: a priest that holds the decree's vote but
// not its commit (the president that passed it hands over at once) may need this ledger,
// and the new membership admits every priest it still names.
void Host::retire(const std::string& why) {
  if (!removed_.empty()) return;
  removed_ = why;
  if (auto s = mark_removed(run_.data_dir, why); !s) spdlog::error("{}", s.error());
  if (chronicle_) chronicle_->add("removed", why);
  auto linger = std::chrono::milliseconds(10 * run_.config.election_timeout_ticks * run_.config.tick_ms);
  spdlog::critical("priest {} is no longer a member of the parliament: {}. It stops for good "
                   "in {} ms (exit {}); its data directory is kept as a record. To bring this "
                   "machine back, wipe the data directory and paxos-god add or replace it.",
                   run_.id, why, linger.count(), kExitRemoved);
  retire_timer_.expires_after(linger);
  retire_timer_.async_wait([this](asio::error_code ec) {
    if (!ec && !stopping_) shutdown();
  });
}

// ---------------------------------------------------------------- the priest's clock and its ready()

void Host::on_tick() {
  ticker_.expires_after(std::chrono::milliseconds(run_.config.tick_ms));
  ticker_.async_wait([this](asio::error_code ec) {
    if (ec || stopping_) return;
    ++ticks_;
    if (priest_ && halted_.empty()) {
      priest_->tick();
      flush();
    }
    if (chronicle_) chronicle_->write_out();
    if (ticks_ % 10 == 0) reset_silent_links();
    if (ticks_ % 10 == 0) sweep_connections();
    on_tick();
  });
}

// After a partition heals, a TCP connection that kept retransmitting into it can sit in
// the kernel's exponential back-off for many seconds. The president expects an answer from
// every priest each heartbeat, and a follower a heartbeat from its president: when such a
// peer has been silent for two election timeouts, start a fresh connection to it.
void Host::reset_silent_links() {
  if (!priest_ || !halted_.empty()) return;
  auto st = priest_->status();
  auto now = Clock::now();
  auto limit = std::chrono::milliseconds(2 * run_.config.election_timeout_ticks * run_.config.tick_ms);
  for (auto& [id, link] : links_) {
    bool expected = st.role == Role::President || st.president == id;
    if (!expected || !link.conn || now - link.heard < limit || now - link.connected_at < limit) continue;
    spdlog::info("no word from priest {} for {} ms: reconnecting to it", id,
                 std::chrono::duration_cast<std::chrono::milliseconds>(now - link.heard).count());
    link.conn->close();
    link.conn.reset();
    link.retry->cancel();
    connect(link);
  }
}

void Host::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    flush();
  });
}

// The clerk carries out the priest's ready() (proto/clerk.hpp); then votes.csv is compacted
// if it has grown large.
void Host::flush() {
  if (!priest_ || !halted_.empty()) return;
  clerk_->flush();
  if (!halted_.empty()) return;
  if (auto s = archive_->compact_if_large(*priest_); !s) halt(s.error());
}

void Host::halt(const std::string& why) {
  if (!halted_.empty()) return;
  halted_ = why;
  if (chronicle_) chronicle_->add("halted", why);
  spdlog::critical("{}. Priest {} has stopped voting and acknowledging decrees; what it made "
                   "durable before is intact. Fix the disk and restart it.",
                   why, run_.id);
  std::string stopped = "priest " + std::to_string(run_.id) + " stopped: " + why;
  for (auto& [token, w] : waiting_)
    if (auto c = w.conn.lock())
      c->send(w.read ? frame(json{{"type", "read"}, {"ok", false}, {"error", stopped}})
                     : reply_frame(w.client, w.request, ClientReply{token, 0, stopped, true}));
  waiting_.clear();
}

// ---------------------------------------------------------------- clients

void Host::reply(const ClientReply& r) {
  auto it = waiting_.find(r.token);
  if (it == waiting_.end()) return;
  Waiting w = it->second;
  waiting_.erase(it);
  if (w.read) ++(r.error.empty() ? counters_.reads_ok : counters_.reads_failed);
  else ++(r.decree_no > 0 ? counters_.proposals_passed
          : r.outcome_unknown ? counters_.proposals_unknown : counters_.proposals_refused);
  auto c = w.conn.lock();
  if (!c) return;
  std::string out;
  if (w.read) {
    json j{{"type", "read"}, {"ok", r.error.empty()}};
    if (!r.error.empty()) {
      j["error"] = r.error;
    } else if (auto page = ledger_page(w.from, w.max, r.decree_no); page) {
      j["upto"] = r.decree_no;
      j["decrees"] = std::move(*page);
    } else {
      j = json{{"type", "read"}, {"ok", false}, {"error", page.error()}};
    }
    out = frame(j);
  } else {
    out = reply_frame(w.client, w.request, r, w.ledger_client);
  }
  c->send(std::move(out));  // (one that does not read its replies is closed by send)
}

void Host::on_client_request(const std::shared_ptr<Conn>& c, const json& j) {
  const std::string& type = j["type"].get_ref<const std::string&>();
  // A priest's certificate speaks priest frames, and may read status (a container's health
  // check, which holds no client key); nothing else.
  if (c->identity && c->identity->role == tls::Role::Priest && type != "status")
    return bad_input(c, "priest as client", "a priest's certificate speaks only priest frames and status, not \"" + type + "\"");
  // The membership is the god's alone to set (README "Security").
  if ((type == "bootstrap" || type == "join" || type == "change") && c->identity &&
      c->identity->role != tls::Role::God)
    return bad_input(c, "not the god", "only the god's certificate may send \"" + type + "\"; this connection's is " +
                                           tls::describe(*c->identity) + "'s");
  // A revoked client gets nothing, from the decree that revoked it on.
  if (c->identity)
    if (auto why = revoked(*c->identity); !why.empty()) return bad_input(c, "revoked", why);
  json out;
  if (type == "propose") return on_propose(c, j);
  if (type == "change") return on_change(c, j);
  if (type == "read") return on_read(c, j);
  if (type == "status") out = status_json();
  else if (type == "ledger") out = ledger_json(j);
  else if (type == "bootstrap") out = bootstrap(j);
  else if (type == "join") out = join(j);
  else return bad_input(c, "unknown type", "unknown frame type \"" + type + "\"");
  c->send(frame(out));
}

void Host::on_propose(const std::shared_ptr<Conn>& c, const json& j) {
  auto client = j.find("client"), request = j.find("request"), decree = j.find("decree");
  if (client == j.end() || !client->is_number_unsigned() || client->get<uint64_t>() == 0 ||
      request == j.end() || !request->is_number_unsigned() || request->get<uint64_t>() == 0 ||
      decree == j.end() || !decree->is_string())
    return bad_input(c, "bad propose", "propose needs client (>0), request (>0) and decree (a string)");
  uint64_t cid = client->get<uint64_t>(), rid = request->get<uint64_t>();
  const std::string& text = decree->get_ref<const std::string&>();
  auto refuse = [&](const std::string& why) {
    c->send(reply_frame(cid, rid, ClientReply{0, 0, why, false}));
  };
  if (text.size() > run_.config.max_decree_bytes)
    return refuse("decree of " + std::to_string(text.size()) + " bytes is over the limit of " +
                  std::to_string(run_.config.max_decree_bytes) + " bytes (max_decree_bytes)");
  if (!halted_.empty()) return refuse("priest " + std::to_string(run_.id) + " stopped: " + halted_);
  if (!priest_)
    return refuse("priest " + std::to_string(run_.id) +
                  " is not bootstrapped yet: run paxos-god --config FILE bootstrap");
  uint64_t token = next_token_++;
  // Every client is someone: the ledger (and exactly-once) keys the request by who sent it.
  const uint64_t key = c->identity ? tls::ledger_client(*c->identity, cid) : cid;
  waiting_[token] = Waiting{c, cid, rid};
  waiting_[token].ledger_client = key;
  Proposal p;
  p.token = token;
  p.decree = Decree{false, key, rid, text, {}};
  if (c->identity && c->identity->role == tls::Role::Client) p.owner = c->identity->name;
  priest_->propose(std::move(p));
  schedule_flush();
}

// A change of the membership, from the god: answered like a proposal once its decree passed.
void Host::on_change(const std::shared_ptr<Conn>& c, const json& j) {
  auto refuse = [&](const std::string& why) {
    c->send(reply_frame(0, 0, ClientReply{0, 0, why, false}));
  };
  auto ch = j.find("change");
  if (ch == j.end()) return refuse("change: missing");
  auto change = parse_change(*ch);
  if (!change) return refuse(change.error());
  if (!halted_.empty()) return refuse("priest " + std::to_string(run_.id) + " stopped: " + halted_);
  if (!priest_)
    return refuse("priest " + std::to_string(run_.id) + " is not in a parliament yet");
  uint64_t token = next_token_++;
  waiting_[token] = Waiting{c, 0, 0};
  priest_->propose_change(token, *change);
  schedule_flush();
}

// Something happened here: a promise, or a decree in the ledger. A priest that has begun
// is never bootstrapped again.
bool Host::begun() const {
  return archive_->ledger_length() > 0 || !restored_.next_bal.is_zero() ||
         (priest_ && !priest_->next_bal().is_zero());
}

Status Host::start_http() {
  auto at = run_.config.http.find(run_.id);
  if (at == run_.config.http.end()) return ok_status();
  HttpRoutes routes;
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  routes.status = [this, dump] { return dump(status_json()); };
  routes.metrics = [this] { return metrics_text(); };
  routes.events = [this](uint64_t since) { return chronicle_->since(since, 2000); };
  routes.ledger = [this, dump](uint64_t from, uint64_t max) { return dump(ledger_json(json{{"from", from}, {"max", max}})); };
  // The HTTP port admits whom the client port admits: a party of this parliament's CA, named
  // by its certificate (tls::peer_identity), and not a revoked client.
  auto refusal = [this](const tls::Identity& who) { return revoked(who); };
  auto port = HttpPort::start(io_, run_.config, run_.id, at->second, run_.tls, std::move(routes), refusal);
  if (!port) return Status::failure(port.error());
  http_ = std::move(*port);
  spdlog::info("HTTP: {} (metrics, status, events and the live page), bound to {}:{}", http_url(run_.config, run_.id),
               at->second.listen, at->second.port);
  return ok_status();
}

std::string Host::metrics_text() const {
  Gauges g;
  g.bootstrapped = priest_.has_value();
  if (priest_) g.status = priest_->status();
  g.halted = !halted_.empty();
  g.ledger_length = archive_->ledger_length();
  g.votes_file_bytes = archive_->votes_bytes();
  g.connections = {{"client", count(Conn::Kind::Client)},
                   {"peer_in", count(Conn::Kind::PeerIn)},
                   {"peer_out", static_cast<size_t>(std::count_if(links_.begin(), links_.end(), [](auto& l) {
                      return l.second.conn && !l.second.conn->closed();
                    }))},
                   {"unknown", count(Conn::Kind::Unknown)}};
  g.waiting_clients = waiting_.size();
  return render_metrics(run_.id, counters_, g, votes_sync_seconds_);
}

json Host::status_json() const {
  json j{{"type", "status"}, {"id", run_.id}, {"incarnation", incarnation_text(incarnation_)},
         {"bootstrapped", priest_.has_value()}, {"begun", begun()},
         {"members", membership_ ? membership_->priests.size() : 0}};
  if (!halted_.empty()) j["halted"] = halted_;
  if (!priest_) {
    j["passed_len"] = archive_->ledger_length();
    return j;
  }
  auto s = priest_->status();
  j["membership"] = membership_to_json(s.membership);
  j["voter"] = s.voter;
  if (!s.change.empty()) j["change"] = s.change;
  j["role"] = name_of(s.role);
  j["president"] = s.president ? json(*s.president) : json(nullptr);
  j["ballot"] = to_string(s.ballot);
  j["next_bal"] = to_string(s.next_bal);
  j["passed_len"] = s.passed_len;
  j["reachable"] = s.reachable;
  j["in_flight"] = s.in_flight;
  j["queued"] = s.queued;
  return j;
}

// The page of a ledger or read request: "from" (default 1) and "max" (default 1000, at most
// 10000).
std::pair<uint64_t, uint64_t> page_of(const json& j) {
  uint64_t from = 1, max = 1000;
  if (auto f = j.find("from"); f != j.end() && f->is_number_unsigned()) from = std::max<uint64_t>(1, f->get<uint64_t>());
  if (auto m = j.find("max"); m != j.end() && m->is_number_unsigned()) max = std::clamp<uint64_t>(m->get<uint64_t>(), 1, 10000);
  return {from, max};
}

Result<json> Host::ledger_page(uint64_t from, uint64_t max, uint64_t upto) {
  json arr = json::array();
  if (from > upto) return arr;
  auto entries = archive_->read(from, std::min(max, upto - from + 1), run_.config.max_frame_bytes / 2);
  if (!entries) return Result<json>::failure(entries.error());
  for (auto& e : *entries) {
    json d{{"decree_no", e.decree_no}, {"ballot", to_string(e.ballot)},
           {"kind", e.decree.olive_day ? "olive-day" : e.decree.membership ? "membership" : "decree"}};
    if (e.decree.from_client()) {
      d["client"] = e.decree.client;
      d["request"] = e.decree.request;
    }
    if (!e.decree.olive_day) d["decree"] = e.decree.text;
    arr.push_back(std::move(d));
  }
  return arr;
}

json Host::ledger_json(const json& j) {
  auto [from, max] = page_of(j);
  auto page = ledger_page(from, max, UINT64_MAX);
  if (!page) return error_frame(page.error());
  return json{{"type", "ledger"}, {"id", run_.id}, {"length", archive_->ledger_length()}, {"decrees", std::move(*page)}};
}

// A linearizable read: answered once the priest's core says how far the ledger is confirmed
// (Priest::read), from this priest's own ledger up to there.
void Host::on_read(const std::shared_ptr<Conn>& c, const json& j) {
  auto [from, max] = page_of(j);
  std::string why;
  if (!halted_.empty()) why = "priest " + std::to_string(run_.id) + " stopped: " + halted_;
  else if (!priest_) why = "priest " + std::to_string(run_.id) + " is not bootstrapped yet";
  if (!why.empty()) {
    c->send(frame(json{{"type", "read"}, {"ok", false}, {"error", why}}));
    return;
  }
  uint64_t token = next_token_++;
  waiting_[token] = Waiting{c, 0, 0, true, from, max};
  priest_->read(token);
  schedule_flush();
}

// The god's bootstrap: the first membership of a parliament that has not begun. This
// priest must be named in it with its own incarnation (a blank data directory is a new
// incarnation, which the others would never count: it is replaced by decree instead).
json Host::bootstrap(const json& j) {
  auto p = j.find("priests");
  if (p == j.end()) return error_frame("bootstrap without priests");
  auto members = parse_priests(*p, "bootstrap.priests");
  if (!members) return error_frame(members.error());
  Membership m{0, std::move(*members)};
  const PriestAddress* mine = m.find(run_.id);
  if (!mine) return error_frame("the membership sent does not include priest " + std::to_string(run_.id));
  if (mine->incarnation != incarnation_)
    return error_frame("this is incarnation " + incarnation_text(incarnation_) + " of priest " +
               std::to_string(run_.id) + " (its data directory " + run_.data_dir +
               " was initialised anew), but the membership names incarnation " +
               incarnation_text(mine->incarnation) +
               ": a priest that forgot its promises and votes is replaced by decree: "
               "paxos-god --config FILE replace " + std::to_string(run_.id));
  if (membership_) {
    if (membership_->priests == m.priests && membership_->decree_no == 0)
      return json{{"type", "bootstrapped"}, {"id", run_.id}, {"already", true}};
    return error_frame("priest " + std::to_string(run_.id) + " is already in a parliament, membership " +
               membership_to_json(*membership_).dump() + "; membership changes pass by decree "
               "(paxos-god add, remove, replace)");
  }
  if (begun()) return error_frame("priest " + std::to_string(run_.id) + " has begun (a promise or a ledger) without a membership");
  if (auto s = save_parliament(); !s) return error_frame(s.error());
  if (auto s = save_membership(run_.data_dir, m); !s) return error_frame(s.error());
  spdlog::info("bootstrapped by the god: {} priests", m.priests.size());
  start_parliament(m);
  return json{{"type", "bootstrapped"}, {"id", run_.id}, {"already", false}};
}

// The god's join, before it adds or replaces this priest: the membership in force, so that
// this (blank) priest accepts the president's links and learns the ledger. It votes
// nowhere until a membership decree names it with its incarnation.
json Host::join(const json& j) {
  auto mj = j.find("membership");
  if (mj == j.end()) return error_frame("join without membership");
  auto m = parse_membership(*mj, "join.membership");
  if (!m) return error_frame(m.error());
  if (membership_) {
    if (membership_->voter(run_.id, incarnation_) || membership_->decree_no >= m->decree_no)
      return json{{"type", "joined"}, {"id", run_.id}, {"already", true}};
    // Still learning, and given a newer membership: the priests able to teach it may have
    // changed since its first join (Priest::rejoin).
    if (!priest_) return error_frame("priest " + std::to_string(run_.id) + " is not running its parliament yet");
    if (auto s = save_membership(run_.data_dir, *m); !s) return error_frame(s.error());
    membership_ = *m;
    priest_->rejoin(*m);
    schedule_flush();
    spdlog::info("joined again: learning the ledger of the membership of decree {}", m->decree_no);
    return json{{"type", "joined"}, {"id", run_.id}, {"already", false}};
  }
  if (begun()) return error_frame("priest " + std::to_string(run_.id) + " is not blank: it holds a promise or decrees");
  if (auto s = save_parliament(); !s) return error_frame(s.error());
  if (auto s = save_membership(run_.data_dir, *m); !s) return error_frame(s.error());
  spdlog::info("joining: learning the ledger of a parliament of {} priests (membership of decree {})",
               m->priests.size(), m->decree_no);
  start_parliament(*m);
  return json{{"type", "joined"}, {"id", run_.id}, {"already", false}};
}

}  // namespace

int run_priest(const PriestRun& run) {
  asio::io_context io(1);
  Host host(io, run);
  return host.start();
}

}  // namespace parliament
