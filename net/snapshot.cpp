// The snapshot file (see snapshot.hpp).
#include "net/snapshot.hpp"

#include <unordered_map>

#include "net/tls.hpp"

namespace parliament {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "parliament-snapshot";
constexpr int kVersion = 1;

// The object without its sha256, dumped compactly: what the checksum covers.
std::string covered(json j) {
  j.erase("sha256");
  return j.dump();
}

// A non-negative integer, however nlohmann holds it (parsed: unsigned; built from an int:
// signed).
std::optional<uint64_t> natural(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() >= 0)
    return static_cast<uint64_t>(it->get<int64_t>());
  return std::nullopt;
}

}  // namespace

json entry_to_json(const Entry& e) {
  json d{{"decree_no", e.decree_no},
         {"ballot", to_string(e.ballot)},
         {"kind", e.decree.olive_day    ? "olive-day"
                  : e.decree.membership ? "membership"
                                        : "decree"}};
  if (e.decree.from_client()) {
    d["client"] = e.decree.client;
    d["request"] = e.decree.request;
  }
  if (!e.decree.olive_day) d["decree"] = e.decree.text;
  return d;
}

Result<Entry> entry_from_json(const json& j) {
  using R = Result<Entry>;
  if (!j.is_object()) return R::failure("a decree that is not a JSON object");
  auto no = natural(j, "decree_no");
  if (!no || *no == 0) return R::failure("a decree without a decree_no");
  Entry e;
  e.decree_no = *no;
  const std::string at = "decree " + std::to_string(e.decree_no) + ": ";
  auto ballot = j.find("ballot");
  auto b = ballot != j.end() && ballot->is_string() ? parse_ballot(ballot->get<std::string>())
                                                    : std::nullopt;
  if (!b) return R::failure(at + "no ballot");
  e.ballot = *b;
  e.decree.origin = *b;
  auto kind = j.find("kind");
  std::string k = kind != j.end() && kind->is_string() ? kind->get<std::string>() : "";
  if (k == "olive-day") {
    e.decree.olive_day = true;
    return e;
  }
  auto text = j.find("decree");
  if ((k != "decree" && k != "membership") || text == j.end() || !text->is_string())
    return R::failure(at + "kind must be decree, membership or olive-day, with its text");
  e.decree.text = text->get<std::string>();
  e.decree.membership = k == "membership";
  if (k == "decree") {
    auto client = natural(j, "client"), request = natural(j, "request");
    if (!client || !request) return R::failure(at + "a client decree needs its client and request");
    e.decree.client = *client;
    e.decree.request = *request;
  }
  return e;
}

std::string snapshot_text(const Snapshot& s, std::string* sha256) {
  json decrees = json::array();
  for (const auto& e : s.decrees) decrees.push_back(entry_to_json(e));
  json j{{"format", kFormat},           {"version", kVersion},
         {"upto", s.upto},              {"parliament", s.parliament},
         {"taken_at", s.taken_at},      {"membership", s.membership},
         {"decrees", std::move(decrees)}};
  j["sha256"] = tls::sha256_hex(covered(j));
  if (sha256) *sha256 = j["sha256"];
  return j.dump() + "\n";
}

namespace {
Result<Snapshot> parse_snapshot_json(std::string_view text, const std::string& file);
}  // namespace

Result<Snapshot> parse_snapshot(std::string_view text, const std::string& file) {
  try {
    return parse_snapshot_json(text, file);
  } catch (const json::exception& e) {  // a field of the wrong type
    return Result<Snapshot>::failure(file + ": not a well-formed snapshot: " + e.what());
  }
}

namespace {

Result<Snapshot> parse_snapshot_json(std::string_view text, const std::string& file) {
  using R = Result<Snapshot>;
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("format", "") != kFormat)
    return R::failure(file + ": not a snapshot of the parliament (no \"format\": \"" +
                      kFormat + "\")");
  if (j.value("version", 0) != kVersion)
    return R::failure(file + ": snapshot version " + j.value("version", json(0)).dump() +
                      "; this program reads version " + std::to_string(kVersion));
  auto sha = j.find("sha256");
  if (sha == j.end() || !sha->is_string() || *sha != tls::sha256_hex(covered(j)))
    return R::failure(file + ": checksum mismatch: the file was changed or damaged after it "
                             "was written");
  Snapshot s;
  s.upto = j.value("upto", uint64_t(0));
  s.parliament = j.value("parliament", "");
  s.taken_at = j.value("taken_at", "");
  s.membership = j.value("membership", json::object());
  auto decrees = j.find("decrees");
  if (decrees == j.end() || !decrees->is_array() || decrees->size() != s.upto)
    return R::failure(file + ": it should hold decrees 1 to " + std::to_string(s.upto));
  for (const auto& d : *decrees) {
    auto e = entry_from_json(d);
    if (!e) return R::failure(file + ": " + e.error());
    if (e->decree_no != s.decrees.size() + 1)
      return R::failure(file + ": decree " + std::to_string(e->decree_no) + " where decree " +
                        std::to_string(s.decrees.size() + 1) + " should be");
    s.decrees.push_back(std::move(*e));
  }
  return s;
}

}  // namespace

Status follows_exactly_once(const Snapshot& s, size_t max_decree_bytes) {
  std::unordered_map<uint64_t, uint64_t> last;  // client -> its last request so far
  for (const auto& e : s.decrees) {
    if (!e.decree.from_client()) continue;
    const std::string at = "decree " + std::to_string(e.decree_no) + ": ";
    if (e.decree.text.size() > max_decree_bytes)
      return Status::failure(at + "it is longer than max_decree_bytes (" +
                             std::to_string(max_decree_bytes) + "): no priest would pass it");
    uint64_t& seen = last[e.decree.client];
    if (e.decree.request <= seen)
      return Status::failure(at + "client " + std::to_string(e.decree.client) + "'s request " +
                             std::to_string(e.decree.request) + " after its request " +
                             std::to_string(seen) +
                             ": a ledger never holds it (exactly once), so priests learning it "
                             "would write an olive-day decree there instead");
    seen = e.decree.request;
  }
  return ok_status();
}

Result<std::optional<Membership>> last_membership_decree(const Snapshot& s) {
  using R = Result<std::optional<Membership>>;
  for (auto it = s.decrees.rbegin(); it != s.decrees.rend(); ++it) {
    if (!it->decree.membership) continue;
    auto m = parse_membership_decree(it->decree.text, it->decree_no);
    if (!m) return R::failure("decree " + std::to_string(it->decree_no) + ": " + m.error());
    return std::optional<Membership>(std::move(*m));
  }
  return std::optional<Membership>();
}

}  // namespace parliament
