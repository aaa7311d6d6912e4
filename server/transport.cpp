// The Asio host of one priest: start, stop, the membership it links to, the priest's clock
// and its ready() (see host.hpp for the whole host and where each part lives).
#include "server/host.hpp"

#include "net/program.hpp"

namespace parliament {

namespace host_detail {

// ---------------------------------------------------------------- Host: start and stop

int Host::start() {
  use_dated_log_lines("priest " + std::to_string(run_.id));
  if (auto exit = open_records()) return *exit;
  if (auto s = listen(); !s) {
    spdlog::critical("{}", s.error());
    return 1;
  }
  spdlog::info(
      "listening on {}:{}; data in {} (incarnation {}); ledger holds {} decrees; promise {}",
      me_.listen, me_.port, run_.data_dir, incarnation_text(incarnation_),
      archive_->ledger_length(), to_string(node_->promise()));
  if (auto s = start_http(); !s) {
    spdlog::critical("{}", s.error());
    return 1;
  }
  // A data directory of a parliament that began before ids were written: it is this one's.
  if (node_->recorded() && !run_.parliament_id.empty())
    if (auto held = read_parliament_id(run_.data_dir); held && held->empty())
      if (auto s = save_parliament_id(run_.data_dir, run_.parliament_id); !s) {
        spdlog::critical("{}", s.error());
        return 1;
      }
  if (node_->recorded()) {
    node_->begin();
    announce();
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

// The data directory: its incarnation (written before any other file: a blank directory is a
// new incarnation of this priest), `removed`, the archive (ledger and votes) and
// membership.json, made into the node. nullopt once all is read; else the exit status.
std::optional<int> Host::open_records() {
  auto fail = [](const std::string& why) {
    spdlog::critical("{}", why);
    return std::optional<int>(1);
  };
  if (auto s = ensure_dir(run_.data_dir); !s) return fail(s.error());
  auto inc = load_or_create_incarnation(run_.data_dir);
  if (!inc) return fail(inc.error());
  incarnation_ = *inc;
  auto removed = read_removed(run_.data_dir);
  if (!removed) return fail(removed.error());
  if (!removed->empty()) {
    spdlog::critical("priest {} was removed from the parliament ({}/removed: {}); it does not "
                     "start again. To bring this machine back, wipe {} and paxos-god add or "
                     "replace it.", run_.id, run_.data_dir, *removed, run_.data_dir);
    return kExitRemoved;
  }
  Restored restored;
  auto archive = Archive::open(
      run_.data_dir, restored, [this](std::function<void()> f) { asio::post(io_, std::move(f)); },
      [this](const std::string& why) { halt(why); }, run_.config.max_frame_bytes / 4,
      [this](const Status& s) {
        if (!priest() || !halted_.empty()) return;
        node_->clerk().votes_synced(s);
        flush();
      });
  if (!archive) return fail(archive.error());
  archive_ = std::move(*archive);
  archive_->time_votes_syncs(&votes_sync_seconds_);
  chronicle_ = std::make_unique<Chronicle>(run_.data_dir, run_.id);
  chronicle_->add("started");
  auto members = load_membership(run_.data_dir);
  if (!members) return fail(members.error());
  const Config& c = run_.config;
  PriestOptions tuning = priest_tuning(c.heartbeat_ticks, c.election_timeout_ticks,
                                       c.max_decree_bytes, c.max_frame_bytes);
  tuning.max_queued_bytes = c.max_queued_bytes;
  tuning.seed = std::random_device{}();
  node_.emplace(run_.id, incarnation_, tuning, *archive_, static_cast<Records&>(*this),
                static_cast<NodeHost&>(*this));
  if (auto s = node_->restore(std::move(restored), std::move(*members)); !s)
    return fail(run_.data_dir + ": " + s.error());
  return std::nullopt;
}

// Opens the priest's port (its listen address may be a host name, as in docker).
Status Host::listen() {
  asio::error_code ec;
  auto addr = asio::ip::make_address(me_.listen, ec);
  if (ec) {
    tcp::resolver resolver(io_);
    auto res = resolver.resolve(me_.listen, std::to_string(me_.port), ec);
    if (ec || res.empty())
      return Status::failure("cannot resolve listen address " + me_.listen + " of priest " +
                             std::to_string(run_.id) + " in " + run_.config_path + ": " +
                             ec.message());
    addr = res.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, me_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::failure("cannot listen on " + me_.listen + ":" + std::to_string(me_.port) +
                           ": " + ec.message() + " (is another priest already running there?)");
  return ok_status();
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

void Host::announce() {
  if (!priest()) return;
  const Membership& m = *node_->recorded();
  spdlog::info("{} a parliament of {} priests (membership of decree {}); {} open votes on disk",
               node_->voter() ? "in" : "learning the ledger of, not yet a voter of,",
               m.priests.size(), m.decree_no, priest()->votes().size());
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
    if (auto c = w.lock();
        c && !c->closed() && !c->finishing() && c->kind == Conn::Kind::Client && c->identity)
      if (auto why = revoked(*c->identity); !why.empty())
        bad_input(c, "revoked", why, Code::Revoked);
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

// membership.json now holds `m` (Node::membership wrote it once the ledger was durable).
void Host::membership(const Membership& m) {
  refused_by_.clear();  // (refusals counted against the membership before)
  spdlog::info("membership.json now holds the membership of decree {} ({} priests)", m.decree_no,
               m.priests.size());
}

Status Host::save_membership(const Membership& m, bool first) {
  if (first)
    if (auto s = save_parliament(); !s) return s;
  return ::parliament::save_membership(run_.data_dir, m);
}

// ---------------------------------------------------------------- the priest's clock and its
// ready()

// Each tick is due tick_ms after the one before, not after its handler ran (next_tick).
void Host::on_tick() {
  ticker_.expires_at(host_detail::next_tick(ticker_.expiry(), Clock::now(),
                                            std::chrono::milliseconds(run_.config.tick_ms)));
  ticker_.async_wait([this](asio::error_code ec) {
    if (ec || stopping_) return;
    ++ticks_;
    if (priest() && halted_.empty()) {
      priest()->tick();
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
  if (!priest() || !halted_.empty()) return;
  auto st = priest()->status();
  auto now = Clock::now();
  auto limit =
      std::chrono::milliseconds(2 * run_.config.election_timeout_ticks * run_.config.tick_ms);
  for (auto& [id, link] : links_) {
    bool expected = st.role == Role::President || st.president == id;
    if (!expected || !link.conn || now - link.heard < limit || now - link.connected_at < limit)
      continue;
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
  if (!priest() || !halted_.empty()) return;
  // A follower with no client waiting only waits for its disk: it fdatasyncs on this thread.
  archive_->sync_on_calling_thread(priest()->role() != Role::President && waiting_.empty());
  node_->flush();
  if (!halted_.empty()) return;
  if (auto s = archive_->compact_if_large(*priest()); !s) halt(s.error());
  push_watches();
  resume_held();
}

bool Host::holding_clients() {
  if (!priest() || !halted_.empty() || priest()->room_for_client()) {
    no_room_since_.reset();
    return false;
  }
  auto now = Clock::now();
  if (!no_room_since_) no_room_since_ = now;
  return now - *no_room_since_ < kMaxClientHold;
}

// After each turn: once the priest has room for clients again, every held connection takes
// its frames, each in a turn of its own (one that finds no room is held again).
void Host::resume_held() {
  // (Asked even with none held: a turn with room ends the last spell without it.)
  if (holding_clients() || held_.empty()) return;
  for (auto& c : std::exchange(held_, {}))
    if (!c->closed()) asio::post(io_, [c] { c->resume(); });
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
      c->send(w.read ? frame(read_refusal(Code::Halted, stopped))
                     : reply_frame(w.client, w.request,
                                   ClientReply{token, 0, Code::OutcomeUnknown, stopped}));
  waiting_.clear();
  push_watches();  // each watcher is told, and closed
  resume_held();   // clients held back are told it stopped
}

}  // namespace host_detail

int run_priest(const PriestRun& run) {
  asio::io_context io(1);
  host_detail::Host host(io, run);
  return host.start();
}

}  // namespace parliament
