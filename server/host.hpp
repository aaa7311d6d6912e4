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
//
// This header is internal to the host's source files (server/transport.cpp: start, stop and
// the priest's clock; server/conn.cpp: connections and links; server/peer_frames.cpp: what
// priests say and who is admitted; server/client_port.cpp: clients, status and the ledger;
// server/watch_port.cpp: the watchers).
#pragma once

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

#include "proto/client_call.hpp"
#include "proto/framing.hpp"
#include "proto/message.hpp"
#include "proto/priest.hpp"
#include "proto/clerk.hpp"
#include "proto/node.hpp"
#include "proto/version.hpp"
#include "net/tls.hpp"
#include "net/snapshot.hpp"
#include "net/tls_session.hpp"
#include "server/admission.hpp"
#include "server/archive.hpp"
#include "server/chronicle.hpp"
#include "server/http.hpp"
#include "server/metrics.hpp"
#include "server/log_limit.hpp"
#include "server/storage.hpp"

namespace parliament::host_detail {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// What waits for a peer (Host::connect, Host::send): its link queues at most kPeerQueueFrames
// longest frames (max_frame_bytes; 64 MiB by default); beyond that, messages to a slow peer
// drop, as a network would drop them. What the peer can do without (Message::spare: a begin
// ballot sent again, a catch-up) is not queued behind more than a 1/kSpareBacklog frame: it
// would arrive after what already waits, often repeating it, and the priest sends it again
// if it is still needed. A slow priest gets every begin ballot once and no pile of repeats;
// one not heard within an election timeout (its process stopped, its machine hung) is told
// nothing and asked only as spare (Priest::begin), so what waits for it is about a quarter
// frame and the successful ballots.
constexpr size_t kPeerQueueFrames = 16;
constexpr size_t kSpareBacklog = 4;

// A write takes the queued frames up to this many bytes (fewer system calls and TLS records
// under load; the memory each busy connection holds is a few times this).
constexpr size_t kWriteBatch = 256 << 10;
// The caps on connections by kind, handshakes, unfinished frames and unread replies are the
// Admission's (server/admission.hpp); the deadlines below are the Host's.
constexpr auto kFirstFrameDeadline = std::chrono::seconds(10);  // accept to first whole frame
constexpr auto kClientFrameDeadline = std::chrono::seconds(10);  // first byte to last of a frame
// Clients are held back (Host::holding_clients) for at most this long at a time: a queue that
// does not drain (a president without its quorum) then answers "overloaded" as it fills, and
// a client asking for status is answered.
constexpr auto kMaxClientHold = std::chrono::seconds(1);

// The decree bytes of one ledger page (ledger, ledger_hash, a read's answer, HTTP /ledger):
// an eighth of a frame, so that a page of escaped text (six bytes a character in JSON) fits
// one, and building it takes the I/O thread a few tens of milliseconds at most.
inline size_t page_bytes(const Config& c) { return c.max_frame_bytes / 8; }
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
  using Kind = ConnKind;

  Conn(tcp::socket s, Host& host, Kind kind, size_t max_frame, size_t max_queue,
       std::shared_ptr<asio::ssl::context> tls)
      : kind(kind), sock_(std::move(s)), host_(host), decoder_(max_frame), max_queue_(max_queue),
        tls_context_(std::move(tls)) {
    asio::error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);
    auto ep = sock_.remote_endpoint(ec);
    ip = ec ? "?" : ep.address().to_string();
    name = ec ? "?" : ip + ":" + std::to_string(ep.port());
    address = std::hash<std::string>{}(ip);
  }

  Kind kind;
  PriestId peer = 0;
  uint64_t incarnation = 0;  // PeerIn: the incarnation the peer's hello named
  std::string ip;    // the remote address, without the port (the key for rate-limited warnings)
  std::string name;  // ip:port
  uint64_t address;  // a hash of ip: the Admission's caps share places out by address
  // Who the other end is, from its certificate; nullopt without TLS (anyone may say anything).
  std::optional<tls::Identity> identity;
  std::string key;  // its certificate's public key (tls::peer_key); empty without TLS
  Clock::time_point opened = Clock::now();
  Clock::time_point last_frame = Clock::now();  // the last whole frame received

  // Accepted connections wait for the first bytes, then (TLS) shake hands as the server;
  // our links to peers shake hands as the client. Frames queued before are sent after.
  void start();
  // Queues one frame; false if the queue is full (the frame is not sent). It is written once
  // the handler that sent it returns, or at write_now(): the frames sent to this connection
  // in one turn of the loop usually go out in one write (kWriteBatch at most; a longer frame
  // goes alone).
  bool send(std::string framed);
  void write_now() {
    if (ready_ && writing_.empty() && !queue_.empty()) write();
  }
  // Sends this last frame (a refusal), reads no more, and closes once it is written.
  void finish(std::string framed);
  // A client's connection is held (its frames left unread) while the host holds clients
  // back (Host::holding_clients); resume() takes its frames and reads on.
  void resume();
  bool held() const { return held_; }
  void close();
  Clock::time_point finish_began;
  bool closed() const { return closed_; }
  bool ready() const { return ready_; }    // handshake done (or plaintext and bytes came)
  bool handshaking() const { return handshaking_; }
  Clock::time_point handshake_began() const { return handshake_began_; }
  bool finishing() const { return finishing_; }
  size_t unfinished_bytes() const { return decoder_.pending_bytes(); }
  size_t held_bytes() const { return held_bytes_; }  // replies not yet written out
  size_t queued_bytes() const { return queued_bytes_; }  // frames not yet taken for a write
  // When a write last completed, or a reply was queued with none held before (or the
  // connection opened): while replies are held, how long they have not moved.
  Clock::time_point last_written() const { return last_written_; }
  Clock::time_point frame_started() const { return frame_started_; }

 private:
  void handshake();
  void on_ready();
  // TLS: decrypts what arrived into `plain`, shaking hands first; false if the connection
  // was refused or closed.
  bool unseal(std::string_view bytes, std::string& plain);
  void read();
  void take_frames();  // the frames decoded so far, then read() (or held)
  void write();
  static void trim(std::string& buffer);  // empties a write buffer, freeing it if it grew

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
  Clock::time_point last_written_ = Clock::now();
  void release(size_t n);  // n held bytes were written (or dropped)
  std::string sealing_;  // TLS: frames being sealed into writing_
  std::string writing_;  // the bytes of the one write under way (empty: none)
  bool write_posted_ = false;  // a write() is posted to run after the current handler
  bool closed_ = false;
  bool peer_closed_ = false;  // TLS close_notify came: close after what came with it
  bool ready_ = false;
  bool handshaking_ = false;
  Clock::time_point handshake_began_;
  bool finishing_ = false;
  bool held_ = false;
  Clock::time_point held_since_;
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
inline std::string reply_frame(uint64_t client, uint64_t request, const ClientReply& r,
                               uint64_t ledger_client = 0) {
  if (r.decree_no > 0) {
    // "passed", the answer to nearly every proposal: written by hand, as the JSON library
    // would write it (keys in order), without building a tree for it.
    std::string out = R"({"client":)" + std::to_string(client) + R"(,"decree_no":)" +
                      std::to_string(r.decree_no);
    if (ledger_client) out += R"(,"ledger_client":)" + std::to_string(ledger_client);
    out += R"(,"ok":true,"request":)" + std::to_string(request) + R"(,"type":"reply"})";
    std::string f;
    append_frame(f, out);
    return f;
  }
  json j{{"type", "reply"}, {"client", client}, {"request", request}, {"ok", false}};
  if (ledger_client) j["ledger_client"] = ledger_client;
  j["error_code"] = code_name(r.code);
  j["error"] = r.error;
  j["outcome_unknown"] = r.code == Code::OutcomeUnknown;
  return frame(j);
}

// A read's answer: the decrees read (as a ledger page writes them) and how far the ledger
// was known to reach. Written by hand around the decrees, as the JSON library would write it
// (keys in order), without building a tree for the page.
inline std::string read_answer_frame(const std::vector<Entry>& decrees, uint64_t upto) {
  std::string out = R"({"decrees":[)";
  for (size_t i = 0; i < decrees.size(); ++i) {
    if (i) out += ',';
    out += entry_to_json(decrees[i]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  out += R"(],"ok":true,"type":"read","upto":)" + std::to_string(upto) + "}";
  std::string f;
  append_frame(f, out);
  return f;
}

// The page of a ledger or read request: "from" (default 1) and "max" (default 1000, at most
// 10000), from the values sent.
std::pair<uint64_t, uint64_t> page_bounds(std::optional<uint64_t> from,
                                          std::optional<uint64_t> max);

// The documented refusal of a client request.
inline json error_frame(Code code, std::string why) {
  return json{{"type", "error"}, {"error_code", code_name(code)}, {"error", std::move(why)}};
}

// A linearizable read that was not answered.
inline json read_refusal(Code code, std::string why) {
  return json{{"type", "read"},
              {"ok", false},
              {"error_code", code_name(code)},
              {"error", std::move(why)}};
}

// When the priest's tick after the one due at `due` is due (Host::on_tick): a tick later, so
// that a busy machine does not stretch the timeouts the priest counts in ticks; but after a
// stall of more than a tick (a paused container), a tick from `now`: missed ticks are
// dropped, not run in a burst.
inline Clock::time_point next_tick(Clock::time_point due, Clock::time_point now,
                                   Clock::duration tick) {
  return due + 2 * tick < now ? now + tick : due + tick;
}

// A client connection that watches the ledger (server/watch_port.cpp): sent each decree from
// `next` on as it enters this priest's ledger.
struct Watcher {
  std::weak_ptr<Conn> conn;
  uint64_t next = 1;
  Clock::time_point last_sent;
};

struct Waiting {
  std::weak_ptr<Conn> conn;
  uint64_t client;
  uint64_t request;
  // A linearizable read instead of a proposal: the page of the ledger it asked for.
  bool read = false;
  uint64_t from = 1, max = 1000;
  uint64_t ledger_client = 0;  // a proposal's client as the ledger keys it (tls::ledger_client)
  Clock::time_point arrived = Clock::now();
};

// The priest's Messenger (proto/clerk.hpp): peer links and client sessions.
class Host : public NodeHost, private Records {
 public:
  Host(asio::io_context& io, const PriestRun& run)
      : io_(io), run_(run), me_(run.me), acceptor_(io), ticker_(io),
        signals_(io, SIGINT, SIGTERM), admission_(caps_of(run.config)) {}

  int start();
  void on_frame(const std::shared_ptr<Conn>& c, std::string_view payload);
  void on_peer_frame(const std::shared_ptr<Conn>& c, std::string_view payload);
  void on_hello(const std::shared_ptr<Conn>& c, const json& j);
  void on_closed(const std::shared_ptr<Conn>& c);
  // Closes a connection that sent bad input, with one warning (rate-limited: `kind` names
  // the kind of fault, and with the peer's address or priest id it is the limit's key). A
  // client is told why first, in the documented error frame, with `code`.
  void bad_input(const std::shared_ptr<Conn>& c, std::string_view kind, const std::string& why,
                 Code code = Code::Invalid) {
    std::string key(kind);
    key += c->kind == Conn::Kind::PeerIn ? " priest " + std::to_string(c->peer) : " " + c->ip;
    warn_limited(key, "closing connection from {}{}: {}", c->name, who(*c), why);
    if (c->kind == Conn::Kind::PeerIn || c->kind == Conn::Kind::PeerOut) return c->close();
    c->finish(frame(error_frame(code, why)));
  }
  // For logs: " (priest 3)" when the connection's certificate says so.
  static std::string who(const Conn& c) {
    return c.identity ? " (" + tls::describe(*c.identity) + ")" : "";
  }
  // Called by a Conn about to begin its TLS handshake: when the Admission's cap is reached,
  // closes the oldest other handshake if it is older than the grace, or else returns false
  // (the newcomer must go).
  bool make_room_for_handshake(Conn& c);
  // A handshake failed or named no party of the parliament.
  void tls_refused(Conn& c, const std::string& why);
  // After the handshake, bytes that are not a good TLS record: the connection is closed.
  void bad_tls_record(Conn& c, const std::string& why);
  // The handshake is done (or, plaintext, the first bytes came): false if the connection was
  // refused and closed.
  bool on_ready(const std::shared_ptr<Conn>& c);
  // After a read: counts the client's unfinished frame against the Admission's budget; false
  // if the connection was closed for it.
  bool admit_unfinished(const std::shared_ptr<Conn>& c);
  // Called by a client's Conn before it queues a reply of `bytes`: false if it must not (it
  // was closed for holding too many unread replies). Makes room under the Admission's budget
  // by closing the client connections holding the most.
  bool room_for_reply(Conn& c, size_t bytes);
  // While the priest has no room for another client request (Priest::room_for_client), a
  // client's Conn takes no more frames: it is held here until flush() finds room again, or
  // kMaxClientHold has passed since there was room. (Without TLS a connection's first frame
  // is read anyway: until then it may be a priest's hello.)
  bool holding_clients();
  void hold(const std::shared_ptr<Conn>& c) { held_.push_back(c); }
  void client_reply_bytes(int64_t delta) { admission_.replies_changed(delta); }
  void forget_unfinished(Conn& c) { admission_.forget_unfinished(id_of(c)); }
  void count_bytes(size_t in, size_t out) {
    counters_.bytes_in += in;
    counters_.bytes_out += out;
  }

 private:
  void accept();
  void sweep_connections();
  bool awaits_answer(const std::shared_ptr<Conn>& c) const;
  size_t count(Conn::Kind kind) const;
  // The open connections as the Admission sees them, and the one it names.
  static Admission::Id id_of(const Conn& c) { return reinterpret_cast<Admission::Id>(&c); }
  static AdmissionCaps caps_of(const Config& config) {
    AdmissionCaps caps;
    caps.replies_per_client = 2 * size_t(config.max_frame_bytes);  // two frames' worth
    return caps;
  }
  Admission::Snapshot snapshot() const;
  std::shared_ptr<Conn> conn_of(Admission::Id id) const;
  void on_tick();
  void schedule_flush();
  void reset_silent_links();
  void flush();
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
  std::string encode_frame(const Message& m, bool binary);
  void shutdown();
  std::optional<int> open_records();
  Status listen();

  // Messenger
  bool send(const Message& m) override;
  void reply(const ClientReply& r) override;
  void write_out() override;  // every link to a peer writes what it holds now
  void note(const std::string& line) override { spdlog::info("{}", line); }
  void events(const std::vector<Event>& events) override {
    for (const auto& e : events) {
      counters_.count(e);
      if (chronicle_) chronicle_->add(e);
    }
  }
  void peers(const std::vector<PriestAddress>& peers) override;
  void membership(const Membership& m) override;
  // NodeHost
  void retire(const std::string& why) override;  // removed or replaced by decree: stop for good
  void halt(const std::string& why) override;
  // Records
  Status sync_ledger() override { return archive_->sync_ledger(); }
  Status save_membership(const Membership& m, bool first) override;

  // The node's priest, once it runs (bootstrapped or joined); else null.
  Priest* priest() { return node_ && node_->running() ? &node_->priest() : nullptr; }
  const Priest* priest() const { return node_ && node_->running() ? &node_->priest() : nullptr; }
  // Says, once the node's priest runs, what it runs as.
  void announce();

  // Membership is the only admission: the core's rule (Priest::admits) and the key rule
  // (Membership::key_refusal) for a link from priest `id` speaking as `incarnation` over `c`.
  bool admits(const Conn& c, PriestId id, uint64_t incarnation) const;
  // Why a client is served no more ("" if it is): its name is revoked by the membership in
  // force. Used by the client port and the HTTP port, and on every membership change.
  std::string revoked(const tls::Identity& who) const;
  void refuse_stranger(const std::shared_ptr<Conn>& c, PriestId id, uint64_t incarnation);
  void on_not_member(const std::shared_ptr<Conn>& c, const json& j);
  void on_client_request(const std::shared_ptr<Conn>& c, const json& j);
  void on_client_call(const std::shared_ptr<Conn>& c, ClientCall call);
  bool may_ask(const std::shared_ptr<Conn>& c, const std::string& type);
  void on_propose(const std::shared_ptr<Conn>& c, const json& j);
  void propose_decree(const std::shared_ptr<Conn>& c, uint64_t client, uint64_t request,
                      std::string decree);
  json status_json() const;
  // The HTTP port (server/http.hpp), if the config gives this priest one; its routes.
  Status start_http();
  std::string metrics_text() const;
  json ledger_json(const json& j);
  // Decrees from..from+max-1 of the ledger, not beyond decree upto, as the ledger and read
  // replies carry them: at most page_bytes() of decrees (at least one), so that a page of
  // escaped text (six bytes a character) fits a frame.
  Result<json> ledger_page(uint64_t from, uint64_t max, uint64_t upto);
  // A ledger page's text, built by `page` (a ledger, ledger_hash or read answer, its frame or
  // HTTP body) with its time charged to page_budget_; nullopt, and `why` for the client, when
  // the budget has none left (answer `overloaded`).
  std::optional<std::string> budgeted_page(const std::function<std::string()>& page,
                                           std::string& why);
  std::string read_answer(uint64_t from, uint64_t max, uint64_t upto);  // a whole frame
  json parliament_json() const;
  json ledger_hash_json(const json& j);
  void on_read(const std::shared_ptr<Conn>& c, const json& j);
  void read_page(const std::shared_ptr<Conn>& c, uint64_t from, uint64_t max);
  // The watch (server/watch_port.cpp): a connection that asks is pushed the ledger as it grows.
  void on_watch(const std::shared_ptr<Conn>& c, const json& j);
  void push_watches();  // after each turn of the priest (and so each tick)
  json watch_frame_head() const;
  Result<std::pair<std::string, uint64_t>> watch_page(uint64_t from, uint64_t length);
  // Writes the parliament's id into the data directory (before membership.json), if TLS
  // gives it one.
  Status save_parliament() {
    return run_.parliament_id.empty() ? ok_status()
                                      : save_parliament_id(run_.data_dir, run_.parliament_id);
  }
  json bootstrap(const json& j);
  json join(const json& j);
  void on_change(const std::shared_ptr<Conn>& c, const json& j);

  asio::io_context& io_;
  PriestRun run_;
  PriestAddress me_;
  tcp::acceptor acceptor_;
  asio::steady_timer ticker_;
  asio::signal_set signals_;

  Histogram votes_sync_seconds_;  // observed by the archive's syncer thread: outlives archive_
  Histogram proposal_seconds_;    // client proposals that passed, arrival to answer (I/O thread)
  std::unique_ptr<Archive> archive_;
  uint64_t incarnation_ = 0;
  // The priest, its clerk and membership.json (proto/node.hpp); made once the files are read.
  std::optional<Node> node_;
  std::map<PriestId, PeerLink> links_;
  uint64_t link_generation_ = 0;

  std::map<uint64_t, Waiting> waiting_;
  // Random start: an answer that was meant for a token of this priest's previous run never
  // finds a client of this one.
  uint64_t next_token_ = (std::random_device{}() | uint64_t{1}) << 20;
  std::vector<std::weak_ptr<Conn>> sessions_;
  // Client connections held (holding_clients). Owned here: a held connection has no read
  // under way to keep it alive.
  std::vector<std::shared_ptr<Conn>> held_;
  std::optional<Clock::time_point> no_room_since_;  // while holding_clients found no room
  void resume_held();
  std::vector<Watcher> watchers_;
  std::deque<std::string> watch_recent_;  // the last decrees, encoded (Host::watch_page)
  uint64_t watch_recent_first_ = 1;       // the number of watch_recent_.front()
  size_t watch_recent_bytes_ = 0;         // their bytes
  bool flush_posted_ = false;
  // The president sends the same begin ballot to every priest: encode it once in each form
  // (JSON, binary).
  struct Encoded {
    std::tuple<Kind, Ballot, uint64_t, uint64_t, uint64_t, size_t, uint64_t, uint64_t> key{};
    std::string text;
  };
  std::array<std::array<Encoded, 2>, 2> encoded_;  // [binary][quorum]
  std::set<PriestId> reads_binary_;  // peers whose hello said they read binary frames
  uint64_t ticks_ = 0;
  std::string halted_;
  std::string removed_;  // why this priest retired (removed or replaced by decree), if it did
  std::map<PriestId, uint64_t> refused_by_;  // peers that said not_member, and their decree
  bool stopping_ = false;
  LogLimit log_limit_;
  Admission admission_;
  PageBudget page_budget_;  // ledger pages' share of this thread (page_room)
  asio::steady_timer accept_backoff_{io_};
  asio::steady_timer retire_timer_{io_};
  Counters counters_;
  std::unique_ptr<Chronicle> chronicle_;
  std::unique_ptr<HttpPort> http_;
};

}  // namespace parliament::host_detail
