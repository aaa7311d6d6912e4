// Proposer: one client's proposals, each retried as the same request until it passes, is
// refused for good, or the deadline passes (client/lib/proposer.hpp).
#include "client/lib/proposer.hpp"

#include <cstdio>
#include <set>
#include <thread>

namespace parliament {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

Proposer::Proposer(std::vector<PriestAddress> priests, uint64_t client_id)
    : priests_(std::move(priests)), client_id_(client_id) {}
Proposer::~Proposer() = default;

namespace {

std::string seconds_text(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", d.count() / 1000.0);
  return buf;
}

// What the attempts of one propose learned: who answered, whether the request may have
// been delivered, and the errors to report if it never passed.
struct Attempts {
  std::set<PriestId> answered;   // priests that sent any reply during this propose
  bool maybe_delivered = false;  // a request left and its fate is unknown
  std::string unknown_why;       // the last reason it is unknown
  std::string last_error;        // from any attempt
  std::string last_refusal;      // from a priest that answered
  Code last_code = Code::Unreachable;  // the code of last_error
  Code refusal_code = Code::Unknown;   // the code of last_refusal

  // An attempt cut short by the deadline says less than the ones before it.
  void failed(const PriestAddress& p, const std::string& why, bool cut_short, Code code) {
    if (cut_short && !last_error.empty()) return;
    last_error = "priest " + std::to_string(p.id) + ": " + why;
    last_code = code;
  }
  // The priest answered: passed (true, with its number in out), or refused.
  bool heard(const PriestAddress& p, const json& r, ProposeOutcome& out) {
    answered.insert(p.id);
    auto no = r.find("decree_no");
    Code code = reply_code(r);
    if (r.value("type", "") == "reply" && code == Code::Ok && no != r.end() &&
        no->is_number_unsigned()) {
      out.passed = true;
      out.decree_no = no->get<uint64_t>();
      return true;
    }
    auto err = r.find("error");
    std::string why = err != r.end() && err->is_string() ? err->get<std::string>()
                                                         : "malformed reply " + r.dump();
    if (code == Code::Ok) code = Code::Malformed;
    last_error = last_refusal = "priest " + std::to_string(p.id) + ": " + why;
    last_code = refusal_code = code;
    if (code == Code::OutcomeUnknown) {
      maybe_delivered = true;
      unknown_why = last_error;
    }
    return false;
  }
  // Why the decree did not pass by the deadline, `after` that long.
  void explain(size_t priests, const std::string& after, ProposeOutcome& out) const {
    if (maybe_delivered) {
      out.code = Code::OutcomeUnknown;
      out.error = "outcome unknown after " + after +
                  ": decree may still pass (last error: " + unknown_why + ")";
    } else if (answered.size() < quorum_size(priests)) {
      out.code = answered.empty() ? last_code : Code::NoQuorum;
      out.error = no_quorum_text({answered.begin(), answered.end()}, priests) +
                  (last_error.empty() ? "" : " (last error: " + last_error + ")");
    } else {  // a majority answered, and refused: say why
      out.code = refusal_code;
      out.error = last_refusal;
    }
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
    out.code = Code::Invalid;
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
      else tried.failed(p, c.error(), left < Millis(300), Code::Unreachable);
    }
    if (conn_) {
      left = std::max(Millis(1), remaining(deadline));
      auto reply = conn_->call(message, std::min(left, Millis(2000)));
      if (reply && tried.heard(p, *reply, out)) return out;
      if (reply && !retryable(tried.refusal_code) && tried.refusal_code != Code::Unknown) {
        out.code = tried.refusal_code;  // refused for good: asking again will not help
        out.error = tried.last_refusal;
        return out;
      }
      if (!reply) {
        // The request may have reached the priest (or its president) before the silence or
        // the broken connection: from here on the decree may pass without our seeing it.
        tried.maybe_delivered = true;
        tried.failed(p, reply.error(), left < Millis(2000), Code::Timeout);
        tried.unknown_why = "priest " + std::to_string(p.id) + ": " + reply.error();
      }
    }
    conn_.reset();
    current_ = (current_ + 1) % priests_.size();
    auto wait = std::min(pause, remaining(deadline));
    if (wait.count() > 0) std::this_thread::sleep_for(wait);
    pause = std::min(Millis(250), pause * 3 / 2);
  }
  tried.explain(priests_.size(), seconds_text(deadline_after), out);
  return out;
}

}  // namespace parliament
