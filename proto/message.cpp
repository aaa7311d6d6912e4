#include "proto/message.hpp"

namespace parliament {

using nlohmann::json;

bool from_president(Kind k) {
  return k == Kind::NextBallot || k == Kind::BeginBallot || k == Kind::Success ||
         k == Kind::Failed;
}

int code_of(Kind k) {
  switch (k) {
    case Kind::NextBallot: return 1;
    case Kind::BeginBallot: return 2;
    case Kind::Success: return 3;
    case Kind::Failed: return 4;
    case Kind::LastVote: return 1;
    case Kind::Voted: return 2;
    case Kind::VoteNo: return 3;
    default: return 0;
  }
}

const char* name_of(Kind k) {
  switch (k) {
    case Kind::NextBallot: return "next ballot";
    case Kind::BeginBallot: return "begin ballot";
    case Kind::Success: return "successful ballot";
    case Kind::Failed: return "failed ballot";
    case Kind::LastVote: return "last vote";
    case Kind::Voted: return "vote yes";
    case Kind::VoteNo: return "vote no";
    case Kind::Forward: return "forward";
    case Kind::Answer: return "answer";
  }
  return "?";
}

json decree_to_json(const Decree& d) {
  if (d.olive_day) return json{{"olive_day", true}, {"origin", to_string(d.origin)}};
  return json{{"text", d.text},
              {"client", d.client},
              {"request", d.request},
              {"origin", to_string(d.origin)}};
}

namespace {

// Field readers that never throw: a wrong type is an error naming the field.
bool get_u64(const json& j, const char* field, uint64_t& out, bool required = true) {
  auto it = j.find(field);
  if (it == j.end()) return !required;
  if (!it->is_number_unsigned()) return false;
  out = it->get<uint64_t>();
  return true;
}

bool get_ballot(const json& j, const char* field, Ballot& out, bool required = true) {
  auto it = j.find(field);
  if (it == j.end()) return !required;
  if (!it->is_string()) return false;
  auto b = parse_ballot(it->get_ref<const std::string&>());
  if (!b) return false;
  out = *b;
  return true;
}

Result<Kind> kind_of(const std::string& dir, uint64_t code) {
  if (dir == "to_priest") {
    switch (code) {
      case 1: return Kind::NextBallot;
      case 2: return Kind::BeginBallot;
      case 3: return Kind::Success;
      case 4: return Kind::Failed;
    }
  } else if (dir == "to_president") {
    switch (code) {
      case 1: return Kind::LastVote;
      case 2: return Kind::Voted;
      case 3: return Kind::VoteNo;
    }
  } else {
    return Result<Kind>::failure("unknown dir \"" + dir + "\"");
  }
  return Result<Kind>::failure("unknown code " + std::to_string(code) + " for " + dir);
}

}  // namespace

Result<Decree> decree_from_json(const json& j) {
  using R = Result<Decree>;
  if (!j.is_object()) return R::failure("decree is not an object");
  Decree d;
  if (auto it = j.find("olive_day"); it != j.end()) {
    if (!it->is_boolean()) return R::failure("decree.olive_day is not a boolean");
    d.olive_day = it->get<bool>();
  }
  if (!get_ballot(j, "origin", d.origin)) return R::failure("decree.origin missing or malformed");
  if (d.olive_day) return d;
  auto t = j.find("text");
  if (t == j.end() || !t->is_string()) return R::failure("decree.text is missing or not a string");
  d.text = t->get<std::string>();
  if (!get_u64(j, "client", d.client) || !get_u64(j, "request", d.request))
    return R::failure("decree.client/request missing or not unsigned integers");
  return d;
}

json encode(const Message& m) {
  json j;
  if (m.kind == Kind::Forward || m.kind == Kind::Answer) {
    j = {{"type", m.kind == Kind::Forward ? "forward" : "answer"},
         {"from", m.from},
         {"to", m.to},
         {"token", m.token}};
    if (m.kind == Kind::Forward) {
      j["decree"] = m.entries.empty() ? json() : decree_to_json(m.entries.front().decree);
    } else {
      j["decree_no"] = m.decree_no;
      if (!m.error.empty()) {
        j["error"] = m.error;
        j["outcome_unknown"] = m.outcome_unknown;
      }
    }
    return j;
  }
  j = {{"type", "paxos"},
       {"dir", from_president(m.kind) ? "to_priest" : "to_president"},
       {"code", static_cast<uint64_t>(code_of(m.kind))},
       {"from", m.from},
       {"to", m.to},
       {"ballot", to_string(m.ballot)},
       {"decree_no", m.decree_no},
       {"passed_len", m.passed_len}};
  if (m.kind == Kind::Voted) j["last_no"] = m.last_no;
  if (m.kind == Kind::BeginBallot || m.kind == Kind::Success) j["commit_no"] = m.commit_no;
  if (m.kind == Kind::VoteNo) j["promised"] = to_string(m.promised);
  if (!m.entries.empty()) {
    json arr = json::array();
    for (const auto& e : m.entries)
      arr.push_back({{"decree_no", e.decree_no},
                     {"ballot", to_string(e.ballot)},
                     {"decree", decree_to_json(e.decree)}});
    j["decrees"] = std::move(arr);
  }
  return j;
}

Result<Message> decode(const json& j) {
  using R = Result<Message>;
  if (!j.is_object()) return R::failure("frame is not a JSON object");
  auto type_it = j.find("type");
  if (type_it == j.end() || !type_it->is_string()) return R::failure("frame has no type");
  const auto& type = type_it->get_ref<const std::string&>();
  Message m;
  uint64_t from = 0, to = 0;
  if (!get_u64(j, "from", from) || !get_u64(j, "to", to) || from > UINT32_MAX || to > UINT32_MAX)
    return R::failure("from/to missing or not priest ids");
  m.from = static_cast<PriestId>(from);
  m.to = static_cast<PriestId>(to);

  if (type == "forward" || type == "answer") {
    if (!get_u64(j, "token", m.token)) return R::failure("token missing");
    if (type == "forward") {
      m.kind = Kind::Forward;
      auto it = j.find("decree");
      if (it == j.end()) return R::failure("forward has no decree");
      auto d = decree_from_json(*it);
      if (!d) return R::failure(d.error());
      m.entries.push_back(Entry{0, {}, std::move(*d)});
    } else {
      m.kind = Kind::Answer;
      if (!get_u64(j, "decree_no", m.decree_no)) return R::failure("answer has no decree_no");
      if (auto it = j.find("error"); it != j.end()) {
        if (!it->is_string()) return R::failure("answer.error is not a string");
        m.error = it->get<std::string>();
        auto u = j.find("outcome_unknown");
        m.outcome_unknown = u != j.end() && u->is_boolean() && u->get<bool>();
      }
    }
    return m;
  }
  if (type != "paxos") return R::failure("unknown frame type \"" + type + "\"");

  auto dir = j.find("dir");
  uint64_t code = 0;
  if (dir == j.end() || !dir->is_string() || !get_u64(j, "code", code))
    return R::failure("paxos frame without dir/code");
  auto kind = kind_of(dir->get<std::string>(), code);
  if (!kind) return R::failure(kind.error());
  m.kind = *kind;
  if (!get_ballot(j, "ballot", m.ballot)) return R::failure("ballot missing or malformed");
  if (!get_u64(j, "decree_no", m.decree_no) || !get_u64(j, "passed_len", m.passed_len))
    return R::failure("decree_no/passed_len missing");
  if (!get_u64(j, "last_no", m.last_no, m.kind == Kind::Voted))
    return R::failure("vote yes without last_no");
  if (!get_u64(j, "commit_no", m.commit_no, false)) return R::failure("commit_no malformed");
  if (!get_ballot(j, "promised", m.promised, m.kind == Kind::VoteNo))
    return R::failure("vote no without promised ballot");
  if (auto it = j.find("decrees"); it != j.end()) {
    if (!it->is_array()) return R::failure("decrees is not an array");
    m.entries.reserve(it->size());
    for (const auto& e : *it) {
      if (!e.is_object()) return R::failure("decrees[] element is not an object");
      Entry entry;
      if (!get_u64(e, "decree_no", entry.decree_no) || !get_ballot(e, "ballot", entry.ballot))
        return R::failure("decrees[] element without decree_no/ballot");
      auto d = e.find("decree");
      if (d == e.end()) return R::failure("decrees[] element without decree");
      auto decree = decree_from_json(*d);
      if (!decree) return R::failure(decree.error());
      entry.decree = std::move(*decree);
      m.entries.push_back(std::move(entry));
    }
  }
  return m;
}

}  // namespace parliament
