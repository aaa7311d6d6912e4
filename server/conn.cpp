// The host's connections: one Conn each (TLS, frames, bounded queues), the accept loop, the
// caps by kind, and our outbound links to peers with their back-off (see host.hpp).
#include "server/host.hpp"

namespace parliament::host_detail {

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
  tls_ = std::make_unique<tls::Session>(*tls_context_, kind == Kind::PeerOut
                                                           ? tls::Session::Side::Client
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
    take_frames();
  });
}

void Conn::take_frames() {
  auto self = shared_from_this();
  for (;;) {
    // A client by its frames, or (TLS) by its certificate before its first frame.
    const bool client = kind == Kind::Client ||
                        (kind == Kind::Unknown && identity && identity->role != tls::Role::Priest);
    if (client && host_.holding_clients()) {
      // What it holds unread (at most one read, 64 KiB) is not charged to the clients' budget
      // of unfinished frames: in a flood of pipelining clients that would cut honest ones.
      held_ = true;
      held_since_ = Clock::now();
      host_.hold(self);
      return;
    }
    auto payload = decoder_.next();
    if (!payload) break;
    last_frame = frame_started_ = Clock::now();
    try {
      host_.on_frame(self, *payload);
    } catch (const std::exception& e) {
      // A reader that throws is a bug (the fuzzers look for them); it costs this one
      // connection, never the priest.
      host_.bad_input(self, "unreadable frame",
                      std::string("a frame could not be read: ") + e.what());
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
    // What this turn answered a client goes out first: it closes once written (or when
    // the sweep's kFinishDeadline passes).
    if (kind != Kind::PeerOut && !queue_.empty()) {
      finishing_ = true;
      finish_began = Clock::now();
      write_now();
      return;
    }
    close();
    host_.on_closed(self);
    return;
  }
  if (!host_.admit_unfinished(self)) {
    host_.on_closed(self);
    return;
  }
  read();
}

void Conn::resume() {
  if (!held_ || closed_ || finishing_) return;
  held_ = false;
  // The clock of a frame it was sending stops while it is held (and goes on after), and so
  // does the first frame's deadline of a TLS client held before its first frame.
  const auto held_for = Clock::now() - held_since_;
  frame_started_ += held_for;
  if (kind == Kind::Unknown) opened += held_for;
  take_frames();
}

bool Conn::send(std::string framed) {
  if (closed_ || finishing_) return false;
  if (kind == Kind::Client && !host_.room_for_reply(*this, framed.size())) return false;
  if (queued_bytes_ + framed.size() > max_queue_) return false;
  queued_bytes_ += framed.size();
  if (held_bytes_ == 0) last_written_ = Clock::now();  // the first held reply: its clock starts
  held_bytes_ += framed.size();
  if (kind == Kind::Client) host_.client_reply_bytes(static_cast<int64_t>(framed.size()));
  queue_.push_back(std::move(framed));
  if (ready_ && writing_.empty() && !write_posted_) {
    write_posted_ = true;
    asio::post(sock_.get_executor(), [self = shared_from_this()] {
      self->write_posted_ = false;
      self->write_now();
    });
  }
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
  // Coalesce queued frames into one write of up to kWriteBatch; a longer frame goes alone.
  std::string& batch = tls_ ? sealing_ : writing_;
  size_t taken = 0;  // the plaintext bytes of this write, held until it completes
  while (ready_ && !queue_.empty() &&
         (batch.empty() || batch.size() + queue_.front().size() <= kWriteBatch)) {
    queued_bytes_ -= queue_.front().size();
    taken += queue_.front().size();
    host_.count_bytes(0, queue_.front().size());
    batch += queue_.front();
    queue_.pop_front();
  }
  if (tls_) {
    // Sealed and taken a kWriteBatch at a time: OpenSSL's output buffer keeps the largest size
    // it ever held, so a long frame sealed at once would stay allocated for the connection's
    // life (writing_, which holds the whole, is freed once written).
    for (size_t at = 0; at < sealing_.size(); at += kWriteBatch) {
      if (tls_->seal(std::string_view(sealing_).substr(at, kWriteBatch)) !=
          tls::Session::Status::Ok) {
        spdlog::warn("closing connection to {}: {}", name, tls_->error());
        trim(sealing_);
        trim(writing_);
        close();
        // Not from here: write() runs inside write_now(), which Host::write_out calls while
        // going through the links.
        asio::post(sock_.get_executor(),
                   [self = shared_from_this(), &host = host_] { host.on_closed(self); });
        return;
      }
      tls_->take_output(writing_);
    }
    trim(sealing_);
    tls_->take_output(writing_);  // what the handshake or an alert left, when nothing was sealed
  }
  if (writing_.empty()) {
    release(taken);
    if (finishing_) close();
    return;
  }
  auto self = shared_from_this();
  asio::async_write(sock_, asio::buffer(writing_),
                    [this, self, taken](asio::error_code ec, size_t) {
                      trim(writing_);
                      if (closed_) return;
                      release(taken);
                      last_written_ = Clock::now();
                      if (ec) {
                        close();
                        host_.on_closed(self);
                        return;
                      }
                      write();
                    });
}

void Conn::trim(std::string& buffer) {
  buffer.clear();
  // A frame longer than a batch had it grow: give the memory back rather than hold it for
  // the life of the connection.
  if (buffer.capacity() > 2 * kWriteBatch) std::string().swap(buffer);
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
    if (auto id = admission_.room_for_pending(snapshot())) {
      auto oldest = conn_of(*id);
      warn_limited("too many pending",
                   "{} connections have not said a word yet; closing the oldest of the address "
                   "holding the most, from {}",
                   admission_.caps().pending, oldest->name);
      oldest->close();
    }
    auto c = std::make_shared<Conn>(std::move(s), *this, Conn::Kind::Unknown,
                                    run_.config.max_frame_bytes,
                                    2 * size_t(run_.config.max_frame_bytes), run_.tls);
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

Admission::Snapshot Host::snapshot() const {
  Admission::Snapshot open;
  for (auto& w : sessions_)
    if (auto c = w.lock(); c && !c->closed()) {
      open.push_back({id_of(*c), c->kind, c->opened, std::nullopt, c->held_bytes(), c->address});
      if (c->handshaking()) open.back().handshake_began = c->handshake_began();
    }
  return open;
}

std::shared_ptr<Conn> Host::conn_of(Admission::Id id) const {
  for (auto& w : sessions_)
    if (auto c = w.lock(); c && id_of(*c) == id) return c;
  return nullptr;
}

bool Host::make_room_for_handshake(Conn& c) {
  const auto& caps = admission_.caps();
  auto room = admission_.room_for_handshake(id_of(c), snapshot(), Clock::now());
  if (!room.admit) {
    warn_limited(
        "too many handshakes",
        "{} TLS handshakes under way, none older than {} ms; closing the newest, from {}",
        caps.handshakes,
        std::chrono::duration_cast<std::chrono::milliseconds>(caps.handshake_grace).count(),
        c.name);
    return false;
  }
  if (room.close) {
    auto oldest = conn_of(*room.close);
    warn_limited("too many handshakes",
                 "{} TLS handshakes under way; closing an older one, from {}", caps.handshakes,
                 oldest->name);
    oldest->close();
  }
  return true;
}

void Host::tls_refused(Conn& c, const std::string& why) {
  if (c.kind == Conn::Kind::PeerOut) {
    warn_limited("tls priest " + std::to_string(c.peer), "cannot reach priest {} at {}: TLS: {}",
                 c.peer, c.name, why);
    return;
  }
  warn_limited("tls " + c.ip,
               "refusing connection from {}: TLS: {} (a party of this parliament presents "
               "a certificate signed by its CA)",
               c.name, why);
}

void Host::bad_tls_record(Conn& c, const std::string& why) {
  warn_limited("tls record " + c.ip,
               "closing connection from {}{}: a bad TLS record after the handshake: {}", c.name,
               who(c), why);
}

bool Host::on_ready(const std::shared_ptr<Conn>& c) {
  if (c->kind != Conn::Kind::PeerOut || !c->identity) return true;
  std::string retired = priest() ? priest()->membership().key_refusal(c->peer, 0, c->key) : "";
  if (*c->identity == tls::Identity{tls::Role::Priest, c->peer} && retired.empty()) return true;
  warn_limited("not priest " + std::to_string(c->peer), "closing our link to priest {} at {}: {}",
               c->peer, c->name,
               retired.empty() ? "its certificate names " + tls::describe(*c->identity) +
                                     ", not priest " + std::to_string(c->peer)
                               : retired);
  c->close();
  on_closed(c);
  return false;
}

bool Host::room_for_reply(Conn& c, size_t bytes) {
  auto cut = [&](Conn& o, const char* why) {
    warn_limited("unread replies " + o.ip,
                 "closing connection from {}{}: it does not read its replies ({} "
                 "bytes of them waiting; {})",
                 o.name, who(o), o.held_bytes(), why);
    o.close();
  };
  // Every reply asks: the snapshot (all connections) only when something must give.
  if (admission_.reply_fits(c.held_bytes(), bytes)) return true;
  auto room = admission_.room_for_reply(id_of(c), c.held_bytes(), bytes, snapshot());
  if (room.per_client) {
    cut(c, "at most two frames' worth may wait on one connection");
    return false;
  }
  for (auto id : room.close)
    if (auto o = conn_of(id)) cut(*o, "the replies waiting for all clients reached their budget");
  return room.admit;
}

bool Host::admit_unfinished(const std::shared_ptr<Conn>& c) {
  if (c->kind == Conn::Kind::PeerIn || c->kind == Conn::Kind::PeerOut) return true;
  size_t now = c->unfinished_bytes();
  if (admission_.admit_unfinished(id_of(*c), now)) return true;
  // Closed at once, not after an error frame: its bytes must go now.
  warn_limited("unfinished frames " + c->ip,
               "closing connection from {}{}: clients' unfinished frames hold more "
               "than {} MiB; this one holds {} bytes",
               c->name, who(*c), admission_.caps().unfinished_bytes >> 20, now);
  c->close();
  return false;
}

// Every 100 ms: connections that missed a deadline are closed (docs/PROTOCOL.md "Limits").
void Host::sweep_connections() {
  auto now = Clock::now();
  auto idle = std::chrono::milliseconds(run_.config.client_idle_timeout_ms);
  std::erase_if(sessions_, [](auto& w) { return w.expired(); });
  for (auto& w : sessions_) {
    auto c = w.lock();
    if (!c || c->closed()) continue;
    auto quiet = [&](const char* key, const std::string& why) {
      warn_limited(std::string(key) + " " + c->ip, "closing connection from {}{}: {}", c->name,
                   who(*c), why);
      c->close();
    };
    if (c->finishing()) {
      if (now - c->finish_began > kFinishDeadline) c->close();
    } else if (c->held()) {
      // Held by this priest (holding_clients): its silence is ours, not its own.
    } else if (c->kind == Conn::Kind::Unknown && now - c->opened > kFirstFrameDeadline) {
      quiet("no first frame", c->ready() ? "no whole frame within 10 s of connecting"
                              : run_.tls ? "no TLS handshake within 10 s of connecting"
                                         : "nothing said within 10 s of connecting");
    } else if (c->unfinished_bytes() > 0 &&
               now - c->frame_started() >
                   (c->kind == Conn::Kind::PeerIn ? kPeerFrameDeadline : kClientFrameDeadline)) {
      quiet("slow frame",
            "a frame begun " +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::seconds>(now - c->frame_started())
                        .count()) +
                " s ago is still unfinished (" + std::to_string(c->unfinished_bytes()) + " bytes)");
    } else if (c->kind == Conn::Kind::Client && c->held_bytes() > 0 &&
               now - c->last_written() > idle) {
      // Its replies have not moved for the whole timeout, whatever it waits for or watches.
      quiet("unread replies", "it has read none of its replies for client_idle_timeout_ms (" +
                                  std::to_string(c->held_bytes()) + " bytes waiting)");
    } else if (c->kind == Conn::Kind::Client && c->held_bytes() == 0 &&
               now - c->last_frame > idle && now - c->last_written() > idle && !awaits_answer(c)) {
      spdlog::debug("closing idle client connection from {} (client_idle_timeout_ms {})", c->name,
                    run_.config.client_idle_timeout_ms);
      c->close();
    }
  }
}

// A client waiting for an answer (a proposal, a read) or watching the ledger is not idle,
// however long it has said nothing.
bool Host::awaits_answer(const std::shared_ptr<Conn>& c) const {
  auto same = [&](const auto& w) { return w.conn.lock() == c; };
  return std::any_of(waiting_.begin(), waiting_.end(), [&](auto& kv) { return same(kv.second); }) ||
         std::any_of(watchers_.begin(), watchers_.end(), same);
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
        asio::async_connect(
            *sock, res, [this, id, gen, sock, retry](asio::error_code ec, const tcp::endpoint&) {
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
              l.conn = std::make_shared<Conn>(
                  std::move(*sock), *this, Conn::Kind::PeerOut, run_.config.max_frame_bytes,
                  kPeerQueueFrames * run_.config.max_frame_bytes, run_.tls);
              l.conn->peer = id;
              l.conn->send(frame(json{{"type", "hello"},
                                      {"from", run_.id},
                                      {"incarnation", incarnation_text(incarnation_)},
                                      {"version", kWireVersion},
                                      {"binary", true}}));
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

}  // namespace parliament::host_detail
