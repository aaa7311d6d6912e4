#include "proto/config.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace parliament {

using nlohmann::json;

const PriestAddress* Config::find(PriestId id) const {
  for (const auto& p : priests)
    if (p.id == id) return &p;
  return nullptr;
}

std::vector<PriestId> Config::ids() const {
  std::vector<PriestId> out;
  for (const auto& p : priests) out.push_back(p.id);
  return out;
}

Result<std::vector<PriestAddress>> parse_priests(const json& arr, const std::string& where) {
  using R = Result<std::vector<PriestAddress>>;
  if (!arr.is_array() || arr.empty())
    return R::failure(where + ": must be a non-empty array of {id, host, port}");
  std::vector<PriestAddress> out;
  std::set<PriestId> seen;
  for (size_t i = 0; i < arr.size(); ++i) {
    const auto& p = arr[i];
    std::string at = where + "[" + std::to_string(i) + "]";
    if (!p.is_object()) return R::failure(at + ": must be an object {id, host, port}");
    PriestAddress a;
    auto id = p.find("id");
    if (id == p.end() || !id->is_number_unsigned() || id->get<uint64_t>() == 0 ||
        id->get<uint64_t>() > 1000000)
      return R::failure(at + ".id: must be an integer from 1 to 1000000");
    a.id = id->get<PriestId>();
    if (!seen.insert(a.id).second)
      return R::failure(at + ".id: priest " + std::to_string(a.id) + " appears twice");
    auto host = p.find("host");
    if (host == p.end() || !host->is_string() || host->get<std::string>().empty())
      return R::failure(at + ".host: must be a non-empty string");
    a.host = host->get<std::string>();
    auto port = p.find("port");
    if (port == p.end() || !port->is_number_unsigned() || port->get<uint64_t>() == 0 ||
        port->get<uint64_t>() > 65535)
      return R::failure(at + ".port: must be an integer from 1 to 65535");
    a.port = port->get<uint16_t>();
    a.listen = a.host;
    if (auto l = p.find("listen"); l != p.end()) {
      if (!l->is_string() || l->get<std::string>().empty())
        return R::failure(at + ".listen: must be a non-empty string");
      a.listen = l->get<std::string>();
    }
    if (auto inc = p.find("incarnation"); inc != p.end()) {
      auto v = inc->is_string() ? parse_incarnation(inc->get<std::string>()) : std::nullopt;
      if (!v) return R::failure(at + ".incarnation: must be 16 hex digits, not all zero");
      a.incarnation = *v;
    }
    if (auto key = p.find("key"); key != p.end()) {
      if (!key->is_string() || !valid_key_text(key->get_ref<const std::string&>()))
        return R::failure(at + ".key: must be 64 lower-case hex digits");
      a.key = key->get<std::string>();
    }
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.id < y.id; });
  return out;
}

json priests_to_json(const std::vector<PriestAddress>& priests) {
  json arr = json::array();
  for (const auto& p : priests) {
    json j = {{"id", p.id}, {"host", p.host}, {"port", p.port}, {"listen", p.listen}};
    if (p.incarnation) j["incarnation"] = incarnation_text(p.incarnation);
    if (!p.key.empty()) j["key"] = p.key;
    arr.push_back(std::move(j));
  }
  return arr;
}

Result<PriestAddress> parse_address(std::string_view text, PriestId id, const std::string& where) {
  using R = Result<PriestAddress>;
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return R::failure(where + ": expected host:port");
  std::string host(text.substr(0, colon)), port_text(text.substr(colon + 1));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);  // [::1]:7101
  unsigned long port = 0;
  size_t used = 0;
  try {
    port = std::stoul(port_text, &used);
  } catch (...) {
    used = 0;
  }
  if (port_text.empty() || used != port_text.size() || port == 0 || port > 65535)
    return R::failure(where + ": port must be an integer from 1 to 65535");
  return PriestAddress{id, host, static_cast<uint16_t>(port), host, 0};
}

bool valid_key_text(std::string_view text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string incarnation_text(uint64_t incarnation) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, incarnation >>= 4) s[i] = digits[incarnation & 15];
  return s;
}

std::optional<uint64_t> parse_incarnation(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  if (v == 0) return std::nullopt;
  return v;
}

namespace {

Status read_knob(const json& j, const std::string& file, const char* field, uint32_t lo,
                 uint32_t hi, uint32_t& out) {
  auto it = j.find(field);
  if (it == j.end()) return ok_status();
  if (!it->is_number_unsigned() || it->get<uint64_t>() < lo || it->get<uint64_t>() > hi)
    return Status::failure(file + ": " + field + ": must be an integer from " +
                           std::to_string(lo) + " to " + std::to_string(hi));
  out = it->get<uint32_t>();
  return ok_status();
}

// No two priests, and no priest's HTTP port, at one host:port: the second would never bind.
Status check_ports_apart(const Config& c, const std::string& file) {
  std::map<std::pair<std::string, uint16_t>, std::string> taken;
  auto take = [&](const std::string& host, uint16_t port, const std::string& what) {
    auto [it, fresh] = taken.emplace(std::pair{host, port}, what);
    if (fresh) return ok_status();
    return Status::failure(file + ": " + what + ": " + host + ":" + std::to_string(port) +
                           " is already " + it->second + "'s; each needs its own port");
  };
  for (size_t i = 0; i < c.priests.size(); ++i) {
    const auto& p = c.priests[i];
    if (auto s = take(p.host, p.port, "priests: priest " + std::to_string(p.id) + "'s port"); !s)
      return s;
  }
  for (size_t i = 0; i < c.priests.size(); ++i) {
    auto h = c.http.find(c.priests[i].id);
    if (h == c.http.end()) continue;
    if (auto s = take(h->second.host, h->second.port,
                      "priests: priest " + std::to_string(c.priests[i].id) + "'s http_port");
        !s)
      return s;
  }
  return ok_status();
}

// "line L, column C" of the byte at 1-based offset `byte` of `text`.
std::string line_and_column(std::string_view text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// nlohmann's message without its own prefix and position ("[json.exception.parse_error.101]
// parse error at line 3, column 5: syntax error while parsing object - ...").
std::string json_fault(const std::string& what) {
  auto colon = what.find(": ");
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& file) {
  using R = Result<Config>;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return R::failure(file + ": not valid JSON at " + line_and_column(text, e.byte) + ": " +
                      json_fault(e.what()));
  }
  if (!j.is_object()) return R::failure(file + ": must be a JSON object");
  static const std::set<std::string> known = {"priests",
                                              "tick_ms",
                                              "heartbeat_ticks",
                                              "election_timeout_ticks",
                                              "max_decree_bytes",
                                              "max_frame_bytes",
                                              "tls",
                                              "certs",
                                              "client_idle_timeout_ms",
                                              "max_queued_bytes"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) return R::failure(file + ": " + it.key() + ": unknown field");
  auto priests = j.find("priests");
  if (priests == j.end()) return R::failure(file + ": priests: missing");
  auto list = parse_priests(*priests, file + ": priests");
  if (!list) return R::failure(list.error());
  Config c;
  c.priests = std::move(*list);
  for (size_t i = 0; i < priests->size(); ++i) {
    const json& p = (*priests)[i];
    std::string at = file + ": priests[" + std::to_string(i) + "]";
    auto port = p.find("http_port"), listen = p.find("http_listen");
    if (port == p.end()) {
      if (listen != p.end()) return R::failure(at + ".http_listen: needs http_port");
      continue;
    }
    if (!port->is_number_unsigned() || port->get<uint64_t>() == 0 || port->get<uint64_t>() > 65535)
      return R::failure(at + ".http_port: must be an integer from 1 to 65535");
    HttpAddress h{p["host"].get<std::string>(), port->get<uint16_t>()};
    if (listen != p.end()) {
      if (!listen->is_string() || listen->get<std::string>().empty())
        return R::failure(at + ".http_listen: must be a non-empty string");
      h.listen = listen->get<std::string>();
    }
    c.http[p["id"].get<PriestId>()] = std::move(h);
  }
  if (auto s = check_ports_apart(c, file); !s) return R::failure(s.error());
  for (auto s :
       {read_knob(j, file, "tick_ms", 1, 10000, c.tick_ms),
        read_knob(j, file, "heartbeat_ticks", 1, 100000, c.heartbeat_ticks),
        read_knob(j, file, "election_timeout_ticks", 2, 100000, c.election_timeout_ticks),
        read_knob(j, file, "max_decree_bytes", 1, 16 * 1024 * 1024, c.max_decree_bytes),
        read_knob(j, file, "max_frame_bytes", 1024, 64 * 1024 * 1024, c.max_frame_bytes),
        read_knob(j, file, "client_idle_timeout_ms", 100, 86400000, c.client_idle_timeout_ms),
        read_knob(j, file, "max_queued_bytes", 1024, 1024 * 1024 * 1024, c.max_queued_bytes)})
    if (!s) return R::failure(s.error());
  if (auto t = j.find("tls"); t != j.end()) {
    if (!t->is_boolean()) return R::failure(file + ": tls: must be true or false");
    c.tls = t->get<bool>();
  }
  if (auto d = j.find("certs"); d != j.end()) {
    if (!d->is_string() || d->get<std::string>().empty())
      return R::failure(file + ": certs: must be a directory name");
    c.certs = d->get<std::string>();
  }
  if (c.heartbeat_ticks * 2 > c.election_timeout_ticks)
    return R::failure(file + ": election_timeout_ticks: must be at least twice heartbeat_ticks");
  if (c.max_decree_bytes + 1024 > c.max_frame_bytes)
    return R::failure(file + ": max_decree_bytes: must be at least 1 KiB below max_frame_bytes");
  return c;
}

std::string http_url(const Config& config, PriestId id) {
  auto it = config.http.find(id);
  if (it == config.http.end()) return "";
  const std::string& h = it->second.host;
  std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;  // IPv6
  return std::string(config.tls ? "https://" : "http://") + host + ":" +
         std::to_string(it->second.port);
}

}  // namespace parliament
