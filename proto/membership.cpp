#include "proto/membership.hpp"

#include <algorithm>

namespace parliament {

using nlohmann::json;

const PriestAddress* Membership::find(PriestId id) const {
  for (const auto& p : priests)
    if (p.id == id) return &p;
  return nullptr;
}

bool Membership::voter(PriestId id, uint64_t incarnation) const {
  const PriestAddress* p = find(id);
  return p && p->incarnation == incarnation;
}

bool Membership::is_revoked(const std::string& client) const {
  return std::binary_search(revoked.begin(), revoked.end(), client);
}

bool valid_client_name(std::string_view name) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  };
  return !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-' &&
         std::all_of(name.begin(), name.end(), ok);
}

std::string client_name_error(std::string_view name) {
  return valid_client_name(name) ? ""
                                 : "a client name is 1 to 64 of a-z 0-9 . _ - (not first . or -)";
}

bool Membership::retired_life(PriestId id, uint64_t incarnation) const {
  for (const auto& r : retired)
    if (r.id == id && r.incarnation == incarnation) return true;
  return false;
}

const PriestAddress* Membership::retired_key(const std::string& key) const {
  if (key.empty()) return nullptr;
  for (const auto& r : retired)
    if (r.key == key) return &r;
  return nullptr;
}

std::string Membership::key_refusal(PriestId id, uint64_t incarnation,
                                    const std::string& key) const {
  if (key.empty()) return "";
  if (const PriestAddress* r = retired_key(key))
    return "its certificate's key was retired with priest " + std::to_string(r->id) +
           "'s incarnation " + incarnation_text(r->incarnation) + " (membership of decree " +
           std::to_string(decree_no) + ")";
  const PriestAddress* p = find(id);
  if (p && p->incarnation == incarnation && !p->key.empty() && p->key != key)
    return "the membership in force (decree " + std::to_string(decree_no) +
           ") records another key for priest " + std::to_string(id) + "'s incarnation " +
           incarnation_text(incarnation);
  return "";
}

std::vector<PriestId> Membership::ids() const {
  std::vector<PriestId> out;
  for (const auto& p : priests) out.push_back(p.id);
  return out;
}

namespace {

// "revoked" and "retired", where not empty, into `j`.
void put_cut_off(json& j, const Membership& m) {
  if (!m.revoked.empty()) j["revoked"] = m.revoked;
  if (m.retired.empty()) return;
  json& r = j["retired"] = json::array();
  for (const auto& p : m.retired) {
    json one{{"id", p.id}, {"incarnation", incarnation_text(p.incarnation)}};
    if (!p.key.empty()) one["key"] = p.key;
    r.push_back(std::move(one));
  }
}

// "retired": [{id, incarnation, key?}, ...] (absent: none).
Status parse_retired(const json& j, const std::string& where, std::vector<PriestAddress>& out) {
  auto r = j.find("retired");
  if (r == j.end()) return ok_status();
  if (!r->is_array() || r->size() > 100000)
    return Status::failure(where + ".retired: must be a list of lives");
  for (const auto& one : *r) {
    if (!one.is_object())
      return Status::failure(where + ".retired: must be a list of {id, incarnation, key}");
    PriestAddress p;
    auto id = one.find("id");
    auto inc = one.find("incarnation");
    auto key = one.find("key");
    auto incarnation = inc != one.end() && inc->is_string()
                           ? parse_incarnation(inc->get<std::string>())
                           : std::nullopt;
    if (id == one.end() || !id->is_number_unsigned() || id->get<uint64_t>() == 0 ||
        id->get<uint64_t>() > 1000000 || !incarnation ||
        (key != one.end() && (!key->is_string() || !valid_key_text(key->get<std::string>()))))
      return Status::failure(where +
                             ".retired: each must be {id (1..1000000), incarnation (16 hex "
                             "digits), key (64 hex digits, optional)}");
    p.id = id->get<PriestId>();
    p.incarnation = *incarnation;
    if (key != one.end()) p.key = key->get<std::string>();
    out.push_back(std::move(p));
  }
  return ok_status();
}

}  // namespace

json membership_to_json(const Membership& m) {
  json j{{"decree_no", m.decree_no}, {"priests", priests_to_json(m.priests)}};
  put_cut_off(j, m);
  return j;
}

namespace {

// "revoked": a sorted list of distinct client names (absent: none).
Status parse_revoked(const json& j, const std::string& where, std::vector<std::string>& out) {
  auto r = j.find("revoked");
  if (r == j.end()) return ok_status();
  if (!r->is_array() || r->size() > 100000)
    return Status::failure(where + ".revoked: must be a list of client names");
  for (const auto& n : *r) {
    if (!n.is_string() || !valid_client_name(n.get_ref<const std::string&>()))
      return Status::failure(where + ".revoked: must be a list of client names");
    out.push_back(n.get<std::string>());
  }
  if (!std::is_sorted(out.begin(), out.end()) ||
      std::adjacent_find(out.begin(), out.end()) != out.end())
    return Status::failure(where + ".revoked: must be sorted, each name once");
  return ok_status();
}

}  // namespace

Result<Membership> parse_membership(const json& j, const std::string& where) {
  using R = Result<Membership>;
  if (!j.is_object()) return R::failure(where + ": must be an object {decree_no, priests}");
  Membership m;
  auto n = j.find("decree_no");
  if (n == j.end() || !n->is_number_unsigned())
    return R::failure(where + ".decree_no: must be a non-negative integer");
  m.decree_no = n->get<uint64_t>();
  auto p = j.find("priests");
  if (p == j.end()) return R::failure(where + ".priests: missing");
  auto priests = parse_priests(*p, where + ".priests");
  if (!priests) return R::failure(priests.error());
  m.priests = std::move(*priests);
  if (auto s = parse_revoked(j, where, m.revoked); !s) return R::failure(s.error());
  if (auto s = parse_retired(j, where, m.retired); !s) return R::failure(s.error());
  return m;
}

const char* name_of(Change::Op op) {
  switch (op) {
    case Change::Op::Add: return "add";
    case Change::Op::Remove: return "remove";
    case Change::Op::Replace: return "replace";
    case Change::Op::Revoke: return "revoke";
  }
  return "?";
}

json change_to_json(const Change& c) {
  if (c.op == Change::Op::Revoke) return json{{"op", "revoke"}, {"client", c.client}};
  json j = {{"op", name_of(c.op)}, {"id", c.priest.id}};
  if (c.op != Change::Op::Remove) {
    j["priest"] = priests_to_json({c.priest})[0];
  } else if (c.force) {
    j["force"] = true;
  }
  return j;
}

Result<Change> parse_change(const json& j) {
  using R = Result<Change>;
  if (!j.is_object()) return R::failure("change: must be an object {op, id, ...}");
  Change c;
  auto o = j.find("op");
  std::string op = o != j.end() && o->is_string() ? o->get<std::string>() : "";
  if (op == "add") c.op = Change::Op::Add;
  else if (op == "remove") c.op = Change::Op::Remove;
  else if (op == "replace") c.op = Change::Op::Replace;
  else if (op == "revoke") c.op = Change::Op::Revoke;
  else return R::failure("change.op: must be add, remove, replace or revoke");
  if (c.op == Change::Op::Revoke) {
    auto n = j.find("client");
    if (n == j.end() || !n->is_string() || !valid_client_name(n->get_ref<const std::string&>()))
      return R::failure("change.client: " + client_name_error(n != j.end() && n->is_string()
                                                                  ? n->get<std::string>()
                                                                  : ""));
    c.client = n->get<std::string>();
    return c;
  }
  auto id = j.find("id");
  if (id == j.end() || !id->is_number_unsigned() || id->get<uint64_t>() == 0 ||
      id->get<uint64_t>() > 1000000)
    return R::failure("change.id: must be an integer from 1 to 1000000");
  c.priest.id = id->get<PriestId>();
  if (c.op == Change::Op::Remove) {
    auto f = j.find("force");
    if (f != j.end() && !f->is_boolean()) return R::failure("change.force: must be a boolean");
    c.force = f != j.end() && f->get<bool>();
    return c;
  }
  auto p = j.find("priest");
  if (p == j.end()) return R::failure("change.priest: missing");
  auto list = parse_priests(json::array({*p}), "change.priest");
  if (!list) return R::failure(list.error());
  c.priest = (*list)[0];
  if (c.priest.id != id->get<uint64_t>())
    return R::failure("change.priest.id: differs from change.id");
  if (c.priest.incarnation == 0) return R::failure("change.priest.incarnation: missing");
  return c;
}

std::string describe(const Change& c) {
  if (c.op == Change::Op::Revoke) return "revoke client " + c.client;
  std::string s = std::string(name_of(c.op)) + " priest " + std::to_string(c.priest.id);
  if (c.op != Change::Op::Remove)
    s += " (incarnation " + incarnation_text(c.priest.incarnation) + ") at " + c.priest.host +
         ":" + std::to_string(c.priest.port);
  return s;
}

namespace {

// Why a new life may not be the one a remove or replace retired, nor bring back a key they
// retired ("" if it may).
std::string retired_again(const Membership& current, const PriestAddress& p) {
  if (current.retired_life(p.id, p.incarnation))
    return "priest " + std::to_string(p.id) + "'s incarnation " + incarnation_text(p.incarnation) +
           " was retired: a retired life never votes again (give it a new data directory)";
  if (const PriestAddress* r = current.retired_key(p.key))
    return "that certificate's key was retired with priest " + std::to_string(r->id) +
           "'s incarnation " + incarnation_text(r->incarnation) +
           "; make the priest a new key (paxos-god certs --priest ID --new-key)";
  return "";
}

}  // namespace

Result<Membership> apply_change(const Membership& current, const Change& c) {
  using R = Result<Membership>;
  Membership next = current;
  const PriestAddress* have = current.find(c.priest.id);
  const std::string who = "priest " + std::to_string(c.priest.id);
  switch (c.op) {
    case Change::Op::Revoke:
      if (current.is_revoked(c.client))
        return R::failure("client " + c.client + " is revoked already");
      next.revoked.insert(std::upper_bound(next.revoked.begin(), next.revoked.end(), c.client),
                          c.client);
      break;
    case Change::Op::Add:
      if (have) return R::failure(who + " is already a member; to give it a new disk, replace it");
      if (auto why = retired_again(current, c.priest); !why.empty()) return R::failure(why);
      next.priests.push_back(c.priest);
      std::sort(next.priests.begin(), next.priests.end(),
                [](auto& x, auto& y) { return x.id < y.id; });
      break;
    case Change::Op::Remove:
      if (!have) return R::failure(who + " is not a member");
      if (current.priests.size() <= 1) return R::failure("cannot remove the last priest");
      if (current.priests.size() <= 3 && !c.force)
        return R::failure("removing " + who + " would leave " +
                          std::to_string(current.priests.size() - 1) +
                          " priests, which survive no failure of a majority; force it to do so");
      std::erase_if(next.priests, [&](auto& p) { return p.id == c.priest.id; });
      next.retired.push_back(PriestAddress{have->id, "", 0, "", have->incarnation, have->key});
      break;
    case Change::Op::Replace:
      if (!have) return R::failure(who + " is not a member; add it instead");
      if (have->incarnation == c.priest.incarnation)
        return R::failure(who + " already has incarnation " +
                          incarnation_text(c.priest.incarnation));
      if (auto why = retired_again(current, c.priest); !why.empty()) return R::failure(why);
      // A new life that kept the old key (the god's --keep-key) retires the incarnation only.
      next.retired.push_back(PriestAddress{have->id, "", 0, "", have->incarnation,
                                           have->key == c.priest.key ? "" : have->key});
      for (auto& p : next.priests)
        if (p.id == c.priest.id) p = c.priest;
      break;
  }
  // Every priest refuses a membership decree longer than this: one that could never pass
  // would stop every later change behind it.
  if (size_t n = membership_decree_text(next, c).size(); n > kMaxMembershipBytes)
    return R::failure("the membership decree would be " + std::to_string(n) +
                      " bytes, over the limit of " + std::to_string(kMaxMembershipBytes) +
                      " (too many priests, revoked clients or retired lives)");
  return next;
}

bool already_applied(const Membership& current, const Change& c) {
  if (c.op == Change::Op::Revoke) return current.is_revoked(c.client);
  const PriestAddress* have = current.find(c.priest.id);
  if (c.op == Change::Op::Remove) return !have;
  return have && have->incarnation == c.priest.incarnation;
}

std::string membership_decree_text(const Membership& next, const Change& c) {
  json j{{"change", describe(c)}, {"priests", priests_to_json(next.priests)}};
  put_cut_off(j, next);
  return j.dump();
}

Result<Membership> parse_membership_decree(const std::string& text, uint64_t decree_no) {
  using R = Result<Membership>;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return R::failure("membership decree: not a JSON object");
  auto p = j.find("priests");
  if (p == j.end()) return R::failure("membership decree: priests missing");
  auto priests = parse_priests(*p, "membership decree.priests");
  if (!priests) return R::failure(priests.error());
  if (priests->empty()) return R::failure("membership decree: no priests");
  Membership m{decree_no, std::move(*priests), {}};
  if (auto s = parse_revoked(j, "membership decree", m.revoked); !s) return R::failure(s.error());
  if (auto s = parse_retired(j, "membership decree", m.retired); !s) return R::failure(s.error());
  return m;
}

std::string id_list(const std::vector<PriestId>& ids) {
  std::string s;
  for (auto id : ids) s += (s.empty() ? "" : ", ") + std::to_string(id);
  return s;
}

std::string no_quorum_text(const std::vector<PriestId>& reached, size_t priests) {
  return "no quorum: reached " + std::to_string(reached.size()) + " of " + std::to_string(priests) +
         " priests" + (reached.empty() ? "" : " (" + id_list(reached) + ")") +
         "; is the network partitioned?";
}

}  // namespace parliament
