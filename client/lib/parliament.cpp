// Parliament: open, propose, members and status (include/parliament/client.hpp); the
// readings (read, watch, ledger) are in client/lib/reading.cpp.
#include <algorithm>
#include <thread>

#include "client/lib/health.hpp"
#include "client/lib/open.hpp"
#include "client/lib/parliament_impl.hpp"
#include "net/rpc.hpp"

namespace parliament::client {

using nlohmann::json;

namespace {

// Asking a priest how it stands takes no longer than this.
constexpr Millis kAskTimeout{500};

std::string address_of(const PriestAddress& p) { return p.host + ":" + std::to_string(p.port); }

PriestState state_of(const PriestAddress& p, const Result<json>& r) {
  PriestState s;
  s.id = p.id;
  s.address = address_of(p);
  if (!r) {
    s.error = Status(Code::Unreachable, r.error());
    return s;
  }
  if (r->value("type", "") != "status") {
    s.error = r->value("type", "") == "error"
                  ? refusal_of(p.id, *r)
                  : Status(Code::Malformed, "malformed reply: " + r->dump());
    return s;
  }
  json j = *r;
  j.erase("type");
  s.status_json = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s.role = j.value("role", "");
  if (auto it = j.find("president"); it != j.end() && it->is_number_unsigned())
    s.president = it->get<uint64_t>();
  s.ballot = j.value("ballot", "");
  s.next_bal = j.value("next_bal", "");
  s.incarnation = j.value("incarnation", "");
  s.ledger_length = j.value("passed_len", uint64_t(0));
  if (auto it = j.find("reachable"); it != j.end() && it->is_array())
    for (const auto& x : *it)
      if (x.is_number_unsigned()) s.reachable.push_back(x.get<uint64_t>());
  s.bootstrapped = j.value("bootstrapped", true);
  s.voter = j.value("voter", true);
  if (auto h = j.find("halted"); h != j.end() && h->is_string()) s.halted = h->get<std::string>();
  return s;
}

Members members_of(const Membership& m, const std::vector<PriestAddress>& seeds) {
  Members out;
  out.decree_no = m.decree_no;
  out.quorum = m.quorum();
  for (const auto& p : parliament_priests_of(seeds, m))
    out.priests.push_back(
        {p.id, address_of(p), incarnation_text(m.find(p.id) ? m.find(p.id)->incarnation : 0)});
  return out;
}

}  // namespace

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

Status refusal_of(PriestId id, const json& reply) {
  Code code = reply_code(reply);
  if (code == Code::Ok) code = Code::Malformed;
  auto err = reply.find("error");
  std::string why = err != reply.end() && err->is_string() ? err->get<std::string>()
                                                           : "malformed reply: " + reply.dump();
  return Status(code, "priest " + std::to_string(id) + ": " + why);
}

std::vector<PriestAddress> Parliament::Impl::priests() const {
  return parliament_priests(config.priests, kAskTimeout);
}

Parliament::Parliament(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Parliament::~Parliament() = default;

Status Parliament::open(const Options& options, std::unique_ptr<Parliament>* out) {
  auto config = parliament_config(options);
  if (!config) return Status(Code::Invalid, config.error());
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->config = std::move(*config);
  impl->client_id = random_client_id();
  out->reset(new Parliament(std::move(impl)));
  return Status();
}

uint64_t Parliament::client_id() const { return impl_->client_id; }

Status Parliament::propose(std::string_view text, uint64_t* decree_no) {
  if (text.size() > impl_->config.max_decree_bytes)
    return Status(Code::Invalid, "the decree is " + std::to_string(text.size()) +
                                     " bytes; the parliament takes at most " +
                                     std::to_string(impl_->config.max_decree_bytes) +
                                     " (max_decree_bytes)");
  // The configuration may be an old one: follow the membership the priests say is in force.
  if (!impl_->proposer) impl_->proposer = std::make_unique<Proposer>(impl_->priests(), client_id());
  auto outcome = impl_->proposer->propose(std::string(text), impl_->options.timeout);
  if (!outcome.passed) return Status(outcome.code, outcome.error);
  if (decree_no) *decree_no = outcome.decree_no;
  return Status();
}

Status Parliament::members(Members* out) {
  auto held = discover_membership(impl_->config.priests, kAskTimeout);
  if (!held) return Status(Code::Unreachable, "no priest answered with the membership in force");
  *out = members_of(*held, impl_->config.priests);
  return Status();
}

Status Parliament::status(Report* out) {
  const auto& seeds = impl_->config.priests;
  auto held = discover_membership(seeds, kAskTimeout);
  std::vector<PriestAddress> priests = parliament_priests_of(seeds, held);
  for (const auto& p : seeds)
    if (held && !held->find(p.id)) priests.push_back(p);
  if (held)
    std::stable_sort(priests.begin(), priests.end(), [](auto& a, auto& b) { return a.id < b.id; });
  std::vector<Result<json>> replies(priests.size(), Result<json>::failure("not asked"));
  std::vector<std::thread> askers;
  for (size_t i = 0; i < priests.size(); ++i)
    askers.emplace_back(
        [&, i] { replies[i] = call_priest(priests[i], json{{"type", "status"}}, kAskTimeout); });
  for (auto& t : askers) t.join();
  *out = Report{};
  if (held) out->membership = members_of(*held, seeds);
  for (size_t i = 0; i < priests.size(); ++i) {
    out->priests.push_back(state_of(priests[i], replies[i]));
    if (held) out->priests.back().member = held->find(priests[i].id) != nullptr;
  }
  return Status();
}

Status Parliament::health(Health* out) {
  Report report;
  if (auto s = status(&report); !s.ok()) return s;
  *out = judge_health(report);
  return Status();
}

Status Parliament::health_of(uint64_t priest, Health* out) {
  Report report;
  if (auto s = status(&report); !s.ok()) return s;
  *out = judge_priest_health(report, priest);
  return Status();
}

}  // namespace parliament::client
