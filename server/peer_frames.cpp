// What priests say to the host: frames encoded and stepped, the hello and who is admitted,
// refusals (not_member) and retiring when removed (see host.hpp, docs/SAFETY.md).
#include "server/host.hpp"

namespace parliament::host_detail {

void Host::write_out() {
  for (auto& [id, link] : links_)
    if (link.conn) link.conn->write_now();
}

bool Host::send(const Message& m) {
  auto it = links_.find(m.to);
  if (it == links_.end() || !it->second.conn) return false;
  // What the peer can do without (Message::spare) is not queued behind a backlog (host.hpp).
  if (m.spare && it->second.conn->queued_bytes() > run_.config.max_frame_bytes / kSpareBacklog) {
    spdlog::debug("not sending a {} to priest {}: {} bytes still wait for it", name_of(m.kind),
                  m.to, it->second.conn->queued_bytes());
    return false;
  }
  if (it->second.conn->send(encode_frame(m, reads_binary_.count(m.to) > 0))) {
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
// placeholder recipient, then set "to" per priest (a begin ballot once for the ballot's
// quorum and once for the rest). In binary where the peer reads it.
std::string Host::encode_frame(const Message& m, bool binary) {
  binary = binary && has_binary_form(m.kind);
  if (m.kind != Kind::BeginBallot && m.kind != Kind::Success) {
    std::string out;
    append_frame(out, binary ? encode_binary(m) : encode_text(m));
    return out;
  }
  constexpr PriestId kAnyone = 0xFFFFFFFF;
  auto key = std::tuple{m.kind, m.ballot, m.commit_no, m.passed_len,
                        m.entries.empty() ? 0 : m.entries.front().decree_no, m.entries.size(),
                        m.entries.empty() ? 0 : m.entries.back().decree_no, m.token};
  Encoded& cached = encoded_[binary][m.quorum];
  if (key != cached.key || cached.text.empty()) {
    Message any = m;
    any.to = kAnyone;
    cached.text = binary ? encode_binary(any) : encode_text(any);
    cached.key = key;
  }
  std::string text = cached.text;
  if (binary) {
    for (int i = 0; i < 4; ++i)
      text[kBinaryToOffset + i] = static_cast<char>((m.to >> (8 * i)) & 0xFF);
  } else {
    static const std::string placeholder = "\"to\":" + std::to_string(kAnyone);
    // Inside a JSON string every quote is escaped, so only the key itself can match; and
    // encode_text writes "to" among the first keys, so the search ends within a few bytes.
    auto pos = text.find(placeholder);
    text.replace(pos, placeholder.size(), "\"to\":" + std::to_string(m.to));
  }
  std::string out;
  append_frame(out, text);
  return out;
}

void Host::on_frame(const std::shared_ptr<Conn>& c, std::string_view payload) {
  if (c->kind == Conn::Kind::PeerIn) return on_peer_frame(c, payload);
  // A client's propose or read, what every decree and read costs, without a JSON tree
  // (proto/client_call.hpp); anything else is read the general way.
  if (c->kind == Conn::Kind::Client)
    if (auto call = parse_client_call(payload)) return on_client_call(c, std::move(*call));
  auto j = parse_object(payload);
  if (!j) return bad_input(c, "not an object", "frame is not a JSON object");
  auto t = j->find("type");
  if (t == j->end() || !t->is_string()) return bad_input(c, "no type", "frame has no type");
  const std::string& type = t->get_ref<const std::string&>();
  if (c->kind == Conn::Kind::Unknown) {
    if (type == "hello") return on_hello(c, *j);
    if (!admission_.may_become(Conn::Kind::Client, snapshot()))
      return bad_input(c, "too many clients",
                       std::to_string(admission_.caps().clients) +
                           " client connections are open here already; retry later or elsewhere",
                       Code::Overloaded);
    c->kind = Conn::Kind::Client;
  }
  if (c->kind == Conn::Kind::Client) on_client_request(c, *j);
  // On our outbound links a peer says one thing only: that it does not admit us.
  if (c->kind == Conn::Kind::PeerOut) on_not_member(c, *j);
}

// What an admitted priest says on its link: the paper's messages and catch-up, stepped into
// the priest. The hot path: read straight from the text, no JSON tree.
void Host::on_peer_frame(const std::shared_ptr<Conn>& c, std::string_view payload) {
  if (auto l = links_.find(c->peer); l != links_.end()) {
    l->second.heard = Clock::now();
    l->second.heard_since_connect = true;
  }
  auto m = decode_frame(payload);
  if (!m)
    return bad_input(c, "bad message",
                     "priest " + std::to_string(c->peer) + " sent a bad frame: " + m.error());
  if (m->from != c->peer || m->to != run_.id)
    return bad_input(c, "misaddressed frame",
                     "frame from " + std::to_string(m->from) + " to " + std::to_string(m->to) +
                         " on the link of priest " + std::to_string(c->peer));
  if (!priest() || !halted_.empty()) return;
  m->incarnation = c->incarnation;
  if (m->kind == Kind::CatchUp && !m->entries.empty()) {
    ++counters_.catch_up_received;
    counters_.catch_up_decrees_received += m->entries.size();
  }
  if (auto why = priest()->step(*m); !why.empty())
    return bad_input(c, "refused message",
                     "priest " + std::to_string(c->peer) + " sent a " + name_of(m->kind) +
                         " no priest would send: " + why);
  schedule_flush();
}

// A priest's hello on a connection it opened: admitted as the link of a member, or refused.
void Host::on_hello(const std::shared_ptr<Conn>& c, const json& j) {
  auto from = j.find("from");
  PriestId id = from != j.end() && from->is_number_unsigned() && from->get<uint64_t>() <= 1000000
                    ? from->get<PriestId>()
                    : 0;
  auto inc = j.find("incarnation");
  auto incarnation = inc != j.end() && inc->is_string() ? parse_incarnation(inc->get<std::string>())
                                                        : std::nullopt;
  if (id == 0 || id == run_.id || !incarnation)
    return bad_input(c, "bad hello",
                     "hello needs from (another priest's id) and incarnation (16 hex digits)");
  const uint64_t life = incarnation.value();
  // The id is the certificate's, never the frame's.
  if (c->identity && !(*c->identity == tls::Identity{tls::Role::Priest, id}))
    return bad_input(c, "hello of another",
                     "hello from priest " + std::to_string(id) +
                         " over a connection whose certificate is " + tls::describe(*c->identity) +
                         "'s");
  // A hello without a version is from a priest older than the field: wire version 1. (One
  // log key for every version, so that no sender can flood the log by varying it.)
  auto version = j.find("version");
  const uint64_t wire = version == j.end()                ? 1
                        : version->is_number_unsigned() ? version->get<uint64_t>()
                                                        : 0;
  if (auto why = wire_version_refusal(wire); !why.empty())
    return bad_input(c, "wire version", "priest " + std::to_string(id) + ": " + why);
  if (!priest())
    return bad_input(c, "hello before bootstrap " + std::to_string(id),
                     "hello from priest " + std::to_string(id) +
                         ", but this priest is not bootstrapped yet");
  // Membership is the only admission: a priest the membership in force here does not name
  // with this incarnation (removed, replaced, never added, or added by a decree not learned
  // here yet) is told so and gets nothing more.
  if (!admits(*c, id, life)) return refuse_stranger(c, id, life);
  // One link from each priest: a newer one replaces the older (the peer restarted). Another
  // life of the id (admitted only as the priest a president's change is teaching) replaces
  // only another life's link, never that of the life the membership names.
  const Membership& m = priest()->membership();
  const bool named = m.voter(id, life);
  for (auto& w : sessions_)
    if (auto o = w.lock(); o && o != c && o->kind == Conn::Kind::PeerIn && o->peer == id &&
                           (named || !m.voter(id, o->incarnation)))
      o->close();
  if (!admission_.may_become(Conn::Kind::PeerIn, snapshot()))
    return bad_input(c, "too many peers",
                     std::to_string(admission_.caps().peers) + " priests are linked here already");
  forget_unfinished(*c);
  c->kind = Conn::Kind::PeerIn;
  c->peer = id;
  c->incarnation = life;
  // It reads the binary form of begin ballot, vote yes and successful ballot (a priest older
  // than the field says nothing, and is sent JSON only).
  if (auto b = j.find("binary"); b != j.end() && b->is_boolean() && b->get<bool>())
    reads_binary_.insert(id);
  else
    reads_binary_.erase(id);
  // The peer is back: reach it now rather than when our back-off expires (at most once per
  // kMinReconnectGap). The back-off itself starts over once the link proves itself.
  if (auto l = links_.find(id); l != links_.end()) connect_soon(l->second);
}

std::string Host::revoked(const tls::Identity& who) const {
  if (!priest() || who.role != tls::Role::Client || !priest()->membership().is_revoked(who.name))
    return "";
  return "client " + who.name + "'s certificate was revoked by decree (membership of decree " +
         std::to_string(priest()->membership().decree_no) + ")";
}

bool Host::admits(const Conn& c, PriestId id, uint64_t incarnation) const {
  return priest()->admits(id, incarnation) &&
         priest()->membership().key_refusal(id, incarnation, c.key).empty();
}

void Host::refuse_stranger(const std::shared_ptr<Conn>& c, PriestId id, uint64_t incarnation) {
  const Membership& m = priest()->membership();
  std::string why = m.key_refusal(id, incarnation, c->key);
  // Why, for the refused priest: "key" (the life named here, with another key: an operator's
  // mistake, never a reason for it to retire) or "membership" (removed, replaced, retired).
  const bool named_other_key = !why.empty() && !m.retired_key(c->key);
  // One line per cause, each limited on its own: the new life a replace is teaching (told
  // no by every priest but the president until the decree passes) must not hide a retired
  // key's line.
  std::string cause = why.empty() ? "" : " key";
  const PriestAddress* member = m.find(id);
  if (why.empty() && member && member->incarnation != incarnation &&
      !m.retired_life(id, incarnation)) {
    why = "the membership in force here (decree " + std::to_string(m.decree_no) +
          ") names incarnation " + incarnation_text(member->incarnation) +
          " of that id (a priest whose data directory was lost is a new priest: paxos-god "
          "replace " +
          std::to_string(id) + ")";
    cause = " life";
  }
  if (why.empty())
    why = "it is not a member of the membership in force here (decree " +
          std::to_string(m.decree_no) + ")";
  warn_limited(
      "not a member " + std::to_string(id) + cause,
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
  if (!priest() || !halted_.empty()) return;
  const Membership& mine = priest()->membership();
  uint64_t at = n->get<uint64_t>();
  const bool key = j.value("cause", "") == "key";
  warn_limited(
      "refused by " + std::to_string(c->peer),
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
  retire("a majority of the membership of decree " + std::to_string(mine.decree_no) + " (priests " +
         id_list(who) + ") holds a newer membership that does not name it");
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
  auto linger =
      std::chrono::milliseconds(10 * run_.config.election_timeout_ticks * run_.config.tick_ms);
  spdlog::critical("priest {} is no longer a member of the parliament: {}. It stops for good "
                   "in {} ms (exit {}); its data directory is kept as a record. To bring this "
                   "machine back, wipe the data directory and paxos-god add or replace it.",
                   run_.id, why, linger.count(), kExitRemoved);
  retire_timer_.expires_after(linger);
  retire_timer_.async_wait([this](asio::error_code ec) {
    if (!ec && !stopping_) shutdown();
  });
}

}  // namespace parliament::host_detail
