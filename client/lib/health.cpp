// The parliament's health, judged from a status report (client/lib/health.hpp).
#include "client/lib/health.hpp"

#include <algorithm>
#include <set>

#include "proto/membership.hpp"

namespace parliament::client {

namespace {

std::string priest_text(uint64_t id) { return "priest " + std::to_string(id); }

std::string ids_text(const std::set<uint64_t>& ids) { return id_list({ids.begin(), ids.end()}); }

// A member's own faults: silent, halted, not a voter, another life.
void judge_member(const PriestState& s, const Members::Priest& m, std::vector<std::string>& out) {
  const std::string who = priest_text(s.id) + " (" + s.address + ")";
  if (!s.error.ok()) return out.push_back(who + " did not answer: " + s.error.message());
  if (!s.halted.empty()) return out.push_back(who + " has halted: " + s.halted);
  if (!s.bootstrapped) return out.push_back(who + " is not bootstrapped");
  if (!s.incarnation.empty() && s.incarnation != m.incarnation)
    return out.push_back(who + " answers as incarnation " + s.incarnation + ", not " +
                         m.incarnation + " as the membership says (data directory lost?)");
  if (!s.voter) out.push_back(who + " is a member but not a voter yet (still learning)");
}

// Whether `president` hears a quorum of `m`; if not, the sentence that says so.
void judge_hearing(const PriestState& president, const Members& m, std::vector<std::string>& out) {
  size_t heard = std::count_if(m.priests.begin(), m.priests.end(), [&](auto& p) {
    return p.id == president.id ||
           std::count(president.reachable.begin(), president.reachable.end(), p.id);
  });
  if (heard < m.quorum)
    out.push_back("president " + std::to_string(president.id) + " hears " +
                  std::to_string(heard) + " of " + std::to_string(m.priests.size()) +
                  " members (quorum " + std::to_string(m.quorum) + ")");
}

const PriestState* state_of(const Report& report, uint64_t id) {
  auto s = std::find_if(report.priests.begin(), report.priests.end(),
                        [&](auto& p) { return p.id == id; });
  return s == report.priests.end() ? nullptr : &*s;
}

}  // namespace

Health judge_priest_health(const Report& report, uint64_t id) {
  Health h;
  h.members = {id};
  if (!report.membership) {
    h.problems.push_back("no priest answered with the membership in force");
    return h;
  }
  const Members& m = *report.membership;
  auto member = std::find_if(m.priests.begin(), m.priests.end(),
                             [&](auto& p) { return p.id == id; });
  const PriestState* s = state_of(report, id);
  if (member == m.priests.end() || !s) {
    h.problems.push_back(priest_text(id) + " is not a member of the membership in force");
    return h;
  }
  judge_member(*s, *member, h.problems);
  if (!h.problems.empty()) return h;
  if (!s->president) {
    h.problems.push_back(priest_text(id) + " follows no president: an election is under way, or "
                                           "it cannot reach a majority");
    return h;
  }
  h.president = *s->president;
  const PriestState* p = state_of(report, *s->president);
  if (!p || !p->error.ok())
    h.problems.push_back("its president, " + priest_text(*s->president) + ", did not answer");
  else if (p->role != "president")
    h.problems.push_back(priest_text(*s->president) + ", which " + priest_text(id) +
                         " follows, does not say it is president");
  else if (p->id != id && std::count(p->reachable.begin(), p->reachable.end(), id) == 0)
    h.problems.push_back("president " + std::to_string(p->id) + " does not hear " +
                         priest_text(id) + " (what it sends is lost on the way?)");
  else
    judge_hearing(*p, m, h.problems);
  h.healthy = h.problems.empty();
  return h;
}

Health judge_health(const Report& report) {
  Health h;
  if (!report.membership) {
    h.problems.push_back("no priest answered with the membership in force");
    return h;
  }
  const Members& m = *report.membership;
  std::set<uint64_t> presidents, without;
  const PriestState* president = nullptr;
  for (const auto& member : m.priests) {
    h.members.push_back(member.id);
    auto s = std::find_if(report.priests.begin(), report.priests.end(),
                          [&](auto& p) { return p.id == member.id; });
    if (s == report.priests.end()) {
      h.problems.push_back(priest_text(member.id) + " was not asked");
      continue;
    }
    judge_member(*s, member, h.problems);
    if (!s->error.ok()) continue;
    if (s->president) presidents.insert(*s->president);
    else without.insert(s->id);
    if (s->role == "president") president = &*s;
  }
  if (!without.empty() && !presidents.empty())
    h.problems.push_back("no president at priests " + ids_text(without));
  if (presidents.size() > 1)
    h.problems.push_back("the members follow different presidents: " + ids_text(presidents));
  if (presidents.size() == 1) h.president = *presidents.begin();
  if (presidents.empty()) h.problems.push_back("no president: an election is under way, or no "
                                               "majority of the members can reach each other");
  if (president && h.president == president->id) {
    judge_hearing(*president, m, h.problems);
  } else if (h.president) {
    h.problems.push_back("the president the members name, priest " +
                         std::to_string(*h.president) + ", does not say it is president");
  }
  h.healthy = h.problems.empty();
  return h;
}

}  // namespace parliament::client
