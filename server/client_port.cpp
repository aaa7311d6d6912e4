// The client port: proposals, reads, the god's requests (bootstrap, join, change), status,
// the ledger pages, metrics and the HTTP port's routes (see host.hpp, net/rpc.hpp).
#include "server/host.hpp"

namespace parliament::host_detail {

// ---------------------------------------------------------------- clients

void Host::reply(const ClientReply& r) {
  auto it = waiting_.find(r.token);
  if (it == waiting_.end()) return;
  Waiting w = it->second;
  waiting_.erase(it);
  if (w.read) ++(r.code == Code::Ok ? counters_.reads_ok : counters_.reads_failed);
  else ++(r.decree_no > 0                   ? counters_.proposals_passed
          : r.code == Code::OutcomeUnknown ? counters_.proposals_unknown
                                           : counters_.proposals_refused);
  if (!w.read && r.decree_no > 0)
    proposal_seconds_.observe(std::chrono::duration<double>(Clock::now() - w.arrived).count());
  auto c = w.conn.lock();
  if (!c) return;
  std::string out;
  if (w.read) {
    out = r.code != Code::Ok ? frame(read_refusal(r.code, r.error))
                             : read_answer(w.from, w.max, r.decree_no);
  } else {
    out = reply_frame(w.client, w.request, r, w.ledger_client);
  }
  c->send(std::move(out));  // (one that does not read its replies is closed by send)
}

// Whether this connection's certificate may send a request of this type; if not, it is told
// why and closed (bad_input).
bool Host::may_ask(const std::shared_ptr<Conn>& c, const std::string& type) {
  // A priest's certificate speaks priest frames, and may read status (a container's health
  // check, which holds no client key); nothing else.
  if (c->identity && c->identity->role == tls::Role::Priest && type != "status")
    return bad_input(
        c, "priest as client",
        "a priest's certificate speaks only priest frames and status, not \"" + type + "\"",
        Code::Forbidden), false;
  // The membership is the god's alone to set (docs/OPERATIONS.md "Security").
  if ((type == "bootstrap" || type == "join" || type == "change") && c->identity &&
      c->identity->role != tls::Role::God)
    return bad_input(c, "not the god",
                     "only the god's certificate may send \"" + type + "\"; this connection's is " +
                         tls::describe(*c->identity) + "'s",
                     Code::Forbidden), false;
  // A revoked client gets nothing, from the decree that revoked it on.
  if (c->identity)
    if (auto why = revoked(*c->identity); !why.empty())
      return bad_input(c, "revoked", why, Code::Revoked), false;
  return true;
}

// A propose or read read by proto/client_call.hpp: the same checks and the same handling as
// the general reading gives them.
void Host::on_client_call(const std::shared_ptr<Conn>& c, ClientCall call) {
  const bool propose = call.type == ClientCall::Type::Propose;
  if (!may_ask(c, propose ? "propose" : "read")) return;
  if (propose) return propose_decree(c, call.client, call.request, std::move(call.decree));
  auto [from, max] = page_bounds(call.from, call.max);
  read_page(c, from, max);
}

void Host::on_client_request(const std::shared_ptr<Conn>& c, const json& j) {
  const std::string& type = j["type"].get_ref<const std::string&>();
  if (!may_ask(c, type)) return;
  json out;
  if (type == "propose") return on_propose(c, j);
  if (type == "change") return on_change(c, j);
  if (type == "read") return on_read(c, j);
  if (type == "watch") return on_watch(c, j);
  if (type == "ledger" || type == "ledger_hash") {
    std::string why;
    auto text = budgeted_page(
        [&] { return frame(type == "ledger" ? ledger_json(j) : ledger_hash_json(j)); }, why);
    return void(c->send(text ? std::move(*text) : frame(error_frame(Code::Overloaded, why))));
  }
  if (type == "status")
    out = status_json();
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
    return bad_input(c, "bad propose",
                     "propose needs client (>0), request (>0) and decree (a string)");
  propose_decree(c, client->get<uint64_t>(), request->get<uint64_t>(),
                 decree->get_ref<const std::string&>());
}

void Host::propose_decree(const std::shared_ptr<Conn>& c, uint64_t cid, uint64_t rid,
                          std::string text) {
  auto refuse = [&](Code code, const std::string& why) {
    c->send(reply_frame(cid, rid, ClientReply{0, 0, code, why}));
  };
  if (text.size() > run_.config.max_decree_bytes)
    return refuse(Code::Invalid,
                  "decree of " + std::to_string(text.size()) + " bytes is over the limit of " +
                      std::to_string(run_.config.max_decree_bytes) + " bytes (max_decree_bytes)");
  if (!halted_.empty())
    return refuse(Code::Halted, "priest " + std::to_string(run_.id) + " stopped: " + halted_);
  if (!priest())
    return refuse(Code::NotBootstrapped, "priest " + std::to_string(run_.id) +
                                             " is not bootstrapped yet: run paxos-god --config "
                                             "FILE bootstrap");
  uint64_t token = next_token_++;
  // Every client is someone: the ledger (and exactly-once) keys the request by who sent it.
  const uint64_t key = c->identity ? tls::ledger_client(*c->identity, cid) : cid;
  waiting_[token] = Waiting{c, cid, rid};
  waiting_[token].ledger_client = key;
  Proposal p;
  p.token = token;
  p.decree = Decree{false, key, rid, std::move(text), {}};
  if (c->identity && c->identity->role == tls::Role::Client) p.owner = c->identity->name;
  priest()->propose(std::move(p));
  schedule_flush();
}

// A change of the membership, from the god: answered like a proposal once its decree passed.
void Host::on_change(const std::shared_ptr<Conn>& c, const json& j) {
  auto refuse = [&](Code code, const std::string& why) {
    c->send(reply_frame(0, 0, ClientReply{0, 0, code, why}));
  };
  auto ch = j.find("change");
  if (ch == j.end()) return refuse(Code::Invalid, "change: missing");
  auto change = parse_change(*ch);
  if (!change) return refuse(Code::Invalid, change.error());
  if (!halted_.empty())
    return refuse(Code::Halted, "priest " + std::to_string(run_.id) + " stopped: " + halted_);
  if (!priest())
    return refuse(Code::NotBootstrapped,
                  "priest " + std::to_string(run_.id) + " is not in a parliament yet");
  uint64_t token = next_token_++;
  waiting_[token] = Waiting{c, 0, 0};
  priest()->propose_change(token, *change);
  schedule_flush();
}

// Something happened here: a promise, or a decree in the ledger. A priest that has begun
// is never bootstrapped again.
// What the page draws (GET /parliament): the membership in force, each member with the URL
// of its HTTP port where this priest knows it (the configuration's, and its own), and the
// configuration's priests that are no longer members, marked so. Before the bootstrap: the
// configuration's priests.
json Host::parliament_json() const {
  json priests = json::array();
  auto url_of = [&](PriestId id) { return http_url(run_.config, id); };
  auto entry = [&](PriestId id, bool member) {
    json p{{"id", id}, {"member", member}};
    if (auto url = url_of(id); !url.empty()) p["url"] = url;
    priests.push_back(std::move(p));
  };
  if (!priest()) {
    for (const auto& p : run_.config.priests) entry(p.id, true);
  } else {
    const Membership& m = priest()->membership();
    for (const auto& p : m.priests) entry(p.id, true);
    for (const auto& p : run_.config.priests)
      if (!m.find(p.id) && run_.config.http.count(p.id)) entry(p.id, false);
  }
  json j{{"mode", "priest"}, {"self", run_.id}, {"priests", std::move(priests)}};
  if (priest()) j["decree_no"] = priest()->membership().decree_no;
  return j;
}

Status Host::start_http() {
  auto at = run_.config.http.find(run_.id);
  if (at == run_.config.http.end()) return ok_status();
  HttpRoutes routes;
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  routes.status = [this, dump] { return dump(status_json()); };
  routes.metrics = [this] { return metrics_text(); };
  routes.parliament = [this, dump] { return dump(parliament_json()); };
  routes.events = [this](uint64_t since) { return chronicle_->since(since, 2000); };
  routes.ledger = [this, dump](uint64_t from, uint64_t max) {
    std::string why;
    auto text =
        budgeted_page([&] { return dump(ledger_json(json{{"from", from}, {"max", max}})); }, why);
    return text ? std::pair{200, std::move(*text)}
                : std::pair{503, dump(error_frame(Code::Overloaded, why))};
  };

  // The HTTP port admits whom the client port admits: a party of this parliament's CA, named
  // by its certificate (tls::peer_identity), and not a revoked client.
  auto refusal = [this](const tls::Identity& who) { return revoked(who); };
  auto port =
      HttpPort::start(io_, run_.config, run_.id, at->second, run_.tls, std::move(routes), refusal);
  if (!port) return Status::failure(port.error());
  http_ = std::move(*port);
  spdlog::info("HTTP: {} (metrics, status, events and the live page), bound to {}:{}",
               http_url(run_.config, run_.id), at->second.listen, at->second.port);
  return ok_status();
}

std::string Host::metrics_text() const {
  Gauges g;
  g.bootstrapped = (priest() != nullptr);
  if (priest()) g.status = priest()->status();
  g.halted = !halted_.empty();
  g.ledger_length = archive_->ledger_length();
  g.votes_file_bytes = archive_->votes_bytes();
  g.connections = {
      {"client", count(Conn::Kind::Client)},
      {"peer_in", count(Conn::Kind::PeerIn)},
      {"peer_out", static_cast<size_t>(std::count_if(
                       links_.begin(), links_.end(),
                       [](auto& l) { return l.second.conn && !l.second.conn->closed(); }))},
      {"unknown", count(Conn::Kind::Unknown)}};
  g.waiting_clients = waiting_.size();
  return render_metrics(run_.id, counters_, g, votes_sync_seconds_, proposal_seconds_);
}

json Host::status_json() const {
  json j{{"type", "status"}, {"id", run_.id}, {"incarnation", incarnation_text(incarnation_)},
         {"bootstrapped", (priest() != nullptr)}, {"begun", node_->begun()},
         {"members", node_->recorded() ? node_->recorded()->priests.size() : 0},
         {"version", PARLIAMENT_VERSION}, {"wire_version", kWireVersion},
         {"data_format", kDataFormat}};
  if (!halted_.empty()) j["halted"] = halted_;
  if (!priest()) {
    j["passed_len"] = archive_->ledger_length();
    return j;
  }
  auto s = priest()->status();
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

std::pair<uint64_t, uint64_t> page_bounds(std::optional<uint64_t> from,
                                          std::optional<uint64_t> max) {
  return {std::max<uint64_t>(1, from.value_or(1)),
          std::clamp<uint64_t>(max.value_or(1000), 1, 10000)};
}

// page_bounds of what a ledger, ledger_hash or read frame says (a value that is not a whole
// number counts as not sent).
std::pair<uint64_t, uint64_t> page_of(const json& j) {
  std::optional<uint64_t> from, max;
  if (auto f = j.find("from"); f != j.end() && f->is_number_unsigned()) from = f->get<uint64_t>();
  if (auto m = j.find("max"); m != j.end() && m->is_number_unsigned()) max = m->get<uint64_t>();
  return page_bounds(from, max);
}

std::optional<std::string> Host::budgeted_page(const std::function<std::string()>& page,
                                               std::string& why) {
  if (!page_budget_.room(Clock::now())) {
    why = "priest " + std::to_string(run_.id) +
          " is busy building ledger pages (they may take half its time); try again shortly";
    return std::nullopt;
  }
  const auto began = Clock::now();
  std::string out = page();
  page_budget_.spend(Clock::now() - began);
  return out;
}

Result<json> Host::ledger_page(uint64_t from, uint64_t max, uint64_t upto) {
  json arr = json::array();
  if (from > upto) return arr;
  auto entries = archive_->read(from, std::min(max, upto - from + 1), page_bytes(run_.config));
  if (!entries) return Result<json>::failure(entries.error());
  for (auto& e : *entries) arr.push_back(entry_to_json(e));
  return arr;
}

// A linearizable read's answer, confirmed up to `upto` (read_answer_frame, server/host.hpp).
std::string Host::read_answer(uint64_t from, uint64_t max, uint64_t upto) {
  if (from > upto) return read_answer_frame({}, upto);
  std::string why;
  auto text = budgeted_page(
      [&] {
        auto entries =
            archive_->read(from, std::min(max, upto - from + 1), page_bytes(run_.config));
        if (!entries) return frame(read_refusal(Code::Halted, entries.error()));
        return read_answer_frame(*entries, upto);
      },
      why);
  return text ? std::move(*text) : frame(read_refusal(Code::Overloaded, why));
}

json Host::ledger_json(const json& j) {
  auto [from, max] = page_of(j);
  auto page = ledger_page(from, max, UINT64_MAX);
  if (!page) return error_frame(Code::Halted, page.error());
  return json{{"type", "ledger"},
              {"id", run_.id},
              {"length", archive_->ledger_length()},
              {"decrees", std::move(*page)}};
}

// The SHA-256 of a page of this priest's ledger (decrees from..upto, each as a ledger page
// writes it, one JSON object and "\n" each): `paxos-client audit` compares priests range by
// range and reads the rows only where two differ.
json Host::ledger_hash_json(const json& j) {
  auto [from, max] = page_of(j);
  auto entries = archive_->read(from, max, page_bytes(run_.config));
  if (!entries) return error_frame(Code::Halted, entries.error());
  std::string rows;
  for (const auto& e : *entries) rows += entry_to_json(e).dump() + "\n";
  return json{{"type", "ledger_hash"},
              {"id", run_.id},
              {"length", archive_->ledger_length()},
              {"from", from},
              {"upto", entries->empty() ? from - 1 : entries->back().decree_no},
              {"sha256", tls::sha256_hex(rows)}};
}

// A linearizable read: answered once the priest's core says how far the ledger is confirmed
// (Priest::read), from this priest's own ledger up to there.
void Host::on_read(const std::shared_ptr<Conn>& c, const json& j) {
  auto [from, max] = page_of(j);
  read_page(c, from, max);
}

void Host::read_page(const std::shared_ptr<Conn>& c, uint64_t from, uint64_t max) {
  if (!halted_.empty()) {
    c->send(frame(
        read_refusal(Code::Halted, "priest " + std::to_string(run_.id) + " stopped: " + halted_)));
    return;
  }
  if (!priest()) {
    c->send(frame(read_refusal(
        Code::NotBootstrapped, "priest " + std::to_string(run_.id) + " is not bootstrapped yet")));
    return;
  }
  uint64_t token = next_token_++;
  waiting_[token] = Waiting{c, 0, 0, true, from, max};
  priest()->read(token);
  schedule_flush();
}

// The god's bootstrap: the first membership of a parliament that has not begun
// (Node::bootstrap says who may be bootstrapped).
json Host::bootstrap(const json& j) {
  auto p = j.find("priests");
  if (p == j.end()) return error_frame(Code::Invalid, "bootstrap without priests");
  auto members = parse_priests(*p, "bootstrap.priests");
  if (!members) return error_frame(Code::Invalid, members.error());
  auto already = node_->bootstrap(Membership{0, std::move(*members)});
  if (!already)
    return error_frame(Code::Invalid,
                       already.error() + " (data directory " + run_.data_dir + ")");
  if (!*already) {
    spdlog::info("bootstrapped by the god: {} priests", node_->recorded()->priests.size());
    announce();
  }
  return json{{"type", "bootstrapped"}, {"id", run_.id}, {"already", *already}};
}

// The god's join, before it adds or replaces this priest: the membership in force, so that
// this (blank) priest accepts the president's links and learns the ledger (Node::join).
json Host::join(const json& j) {
  auto mj = j.find("membership");
  if (mj == j.end()) return error_frame(Code::Invalid, "join without membership");
  auto m = parse_membership(*mj, "join.membership");
  if (!m) return error_frame(Code::Invalid, m.error());
  bool running = priest() != nullptr;
  auto already = node_->join(*m);
  if (!already) return error_frame(Code::Invalid, already.error());
  if (!*already && running) {
    schedule_flush();
    spdlog::info("joined again: learning the ledger of the membership of decree {}", m->decree_no);
  } else if (!*already) {
    spdlog::info(
        "joining: learning the ledger of a parliament of {} priests (membership of decree {})",
        m->priests.size(), m->decree_no);
    announce();
  }
  return json{{"type", "joined"}, {"id", run_.id}, {"already", *already}};
}

}  // namespace parliament::host_detail
