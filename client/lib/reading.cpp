// Parliament's readings (include/parliament/client.hpp): a linearizable read, the watch that
// follows the ledger as it grows, and one priest's own ledger. A ledger holds only decrees
// that passed, so decree n read from any priest is the decree at n.
#include <algorithm>
#include <thread>

#include "client/lib/parliament_impl.hpp"
#include "net/rpc.hpp"

namespace parliament::client {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kPage = 1000;  // decrees asked for at a time

// The decrees of a reply's page that continue from `next` (each number once, in order),
// appended to `out`; false if the page is malformed.
bool take_page(const json& reply, uint64_t& next, uint64_t upto, std::vector<Decree>& out) {
  auto page = reply.find("decrees");
  if (page == reply.end() || !page->is_array()) return false;
  for (const auto& d : *page) {
    auto decree = decree_of(d);
    if (!decree) return false;
    if (decree->number != next || decree->number > upto) break;
    out.push_back(std::move(*decree));
    ++next;
  }
  return true;
}

}  // namespace

std::optional<Decree> decree_of(const json& d) {
  if (!d.is_object()) return std::nullopt;
  auto no = d.find("decree_no");
  if (no == d.end() || !no->is_number_unsigned()) return std::nullopt;
  Decree out;
  out.number = no->get<uint64_t>();
  out.ballot = d.value("ballot", "");
  std::string kind = d.value("kind", "decree");
  out.kind = kind == "olive-day"    ? Decree::Kind::OliveDay
             : kind == "membership" ? Decree::Kind::Membership
                                    : Decree::Kind::Client;
  if (auto t = d.find("decree"); t != d.end() && t->is_string()) out.text = t->get<std::string>();
  out.client = d.value("client", uint64_t(0));
  out.request = d.value("request", uint64_t(0));
  return out;
}

Status Parliament::read(uint64_t from, Reading* out) {
  const auto deadline = Clock::now() + impl_->options.timeout;
  std::vector<PriestAddress> priests = impl_->priests();
  Status last(Code::Unreachable, "no priest answered");
  *out = Reading{};
  std::optional<uint64_t> upto;
  for (size_t at = 0; Clock::now() < deadline; at = (at + 1) % priests.size()) {
    // The first page fixes n; the next pages (a long ledger) read up to that n only, from
    // whichever priest answers.
    const PriestAddress& p = priests[at];
    auto r = call_priest(p, json{{"type", "read"}, {"from", from}, {"max", kPage}}, Millis(3000));
    if (!r) {
      last = Status(Code::Unreachable, "priest " + std::to_string(p.id) + ": " + r.error());
    } else if (r->value("type", "") != "read" || reply_code(*r) != Code::Ok) {
      last = refusal_of(p.id, *r);
      if (!last.retryable() && last.code() != Code::Unknown) return last;
    } else {
      auto n = r->find("upto");
      if (n == r->end() || !n->is_number_unsigned())
        return Status(Code::Malformed, "priest " + std::to_string(p.id) +
                                           " sent a malformed read reply: " + r->dump());
      if (!upto) {
        upto = n->get<uint64_t>();
        out->answered_by = p.id;
      }
      if (!take_page(*r, from, *upto, out->decrees))
        return Status(Code::Malformed, "priest " + std::to_string(p.id) +
                                           " sent a malformed read reply: " + r->dump());
      if (from > *upto) break;
      continue;
    }
    std::this_thread::sleep_for(Millis(50));
  }
  if (!upto || from <= *upto)
    return Status(last.code() == Code::Unreachable ? Code::Timeout : last.code(),
                  "no linearizable read within " + std::to_string(impl_->options.timeout.count()) +
                      " ms: " + last.message());
  out->upto = *upto;
  return Status();
}

// The watch is pushed (server/watch_port.cpp): one connection to one priest, which sends the
// ledger from `from` on as it grows and word at least every 500 ms. A priest that falls
// silent for 1.5 s, or says for a second that it is not in touch with a president that hears
// a majority (cut off, or an election under way), is left for the next, asked to continue
// where this one stopped: no decree is missed or printed twice, whichever priest serves it.
Status Parliament::watch(uint64_t from, const std::function<bool(const Decree&)>& on_decree) {
  std::vector<PriestAddress> priests = impl_->priests();
  if (from == 0) {  // the next decree to pass: after the longest ledger
    uint64_t longest = 0;
    for (const auto& p : priests)
      if (auto r = call_priest(p, json{{"type", "status"}}, Millis(500));
          r && r->value("type", "") == "status")
        longest = std::max(longest, r->value("passed_len", uint64_t(0)));
    from = longest + 1;
  }
  size_t at = 0;
  for (;;) {
    const PriestAddress p = priests[at];
    at = (at + 1) % priests.size();
    auto conn = Connection::connect(p.host, p.port, Millis(1000), p.id);
    auto frame = conn ? (*conn)->call(json{{"type", "watch"}, {"from", from}}, Millis(1500))
                      : Result<json>::failure(conn.error());
    Clock::time_point in_touch = Clock::now();  // when it last said it was in touch
    while (frame) {
      if (frame->value("type", "") == "error") {
        Status refused = refusal_of(p.id, *frame);
        if (!refused.retryable()) return refused;
        break;
      }
      std::vector<Decree> page;
      if (frame->value("type", "") != "watch" || !take_page(*frame, from, UINT64_MAX, page))
        break;
      for (const auto& d : page)
        if (!on_decree(d)) return Status();
      if (frame->value("in_touch", false)) in_touch = Clock::now();
      else if (Clock::now() - in_touch > std::chrono::seconds(1)) break;
      frame = (*conn)->receive(Millis(1500));
    }
    // The membership may have changed meanwhile.
    priests = impl_->priests();
    at %= priests.size();
    std::this_thread::sleep_for(Millis(100));
  }
}

Status Parliament::ledger(uint64_t priest, uint64_t from, Ledger* out) {
  const PriestAddress* p = impl_->config.find(static_cast<PriestId>(priest));
  std::optional<Membership> held;
  if (!p) {  // a priest added after the configuration was written
    held = discover_membership(impl_->config.priests, Millis(500));
    if (held) p = held->find(static_cast<PriestId>(priest));
  }
  if (!p)
    return Status(Code::Invalid, "there is no priest " + std::to_string(priest) +
                                     " in the configuration or the membership in force "
                                     "(priests: " +
                                     id_list(held ? held->ids() : impl_->config.ids()) + ")");
  *out = Ledger{priest, p->host + ":" + std::to_string(p->port), 0, {}};
  const std::string who = "priest " + std::to_string(priest);
  auto conn = Connection::connect(p->host, p->port, Millis(2000), p->id);
  if (!conn) return Status(Code::Unreachable, who + " is unreachable: " + conn.error());
  auto busy_until = std::chrono::steady_clock::now() + impl_->options.timeout;
  for (;;) {
    auto reply = (*conn)->call(json{{"type", "ledger"}, {"from", from}, {"max", kPage}},
                               impl_->options.timeout);
    if (!reply) return Status(Code::Timeout, who + ": " + reply.error());
    if (reply->value("type", "") == "error") {
      // A priest busy building pages for others (overloaded) answers again shortly.
      Status refused = refusal_of(p->id, *reply);
      if (refused.code() != Code::Overloaded || std::chrono::steady_clock::now() > busy_until)
        return refused;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    busy_until = std::chrono::steady_clock::now() + impl_->options.timeout;
    auto len = reply->find("length");
    uint64_t before = from;
    if (reply->value("type", "") != "ledger" || len == reply->end() ||
        !len->is_number_unsigned() || !take_page(*reply, from, UINT64_MAX, out->decrees))
      return Status(Code::Malformed, who + " sent a malformed ledger reply: " + reply->dump());
    out->length = len->get<uint64_t>();
    if (from == before || from > out->length) break;
  }
  return Status();
}

}  // namespace parliament::client
