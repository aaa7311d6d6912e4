// The parliament's configuration file (JSON), parsed without touching the disk: the caller
// reads the file and passes its text and name, so every error can name the file and field.
//
// {
//   "priests": [ {"id": 1, "host": "127.0.0.1", "port": 7101, "listen": "127.0.0.1",
//                 "http_port": 8101, "http_listen": "127.0.0.1"}, ... ],
//   "tick_ms": 10,                 // one logical tick of every priest's clock
//   "heartbeat_ticks": 5,          // president's successful-ballot heartbeat period
//   "election_timeout_ticks": 30,  // silence from the president before a priest stands
//   "max_decree_bytes": 65536,     // longest decree text a client may propose
//   "max_frame_bytes": 4194304,    // longest frame accepted on any connection
//   "max_queued_bytes": 8388608,   // decree text waiting at the president for a ballot
//   "tls": true,                   // mutual TLS on every connection; false: plaintext (warned)
//   "certs": "certs",              // paxos-god certs's directory (relative: to this file's)
//   "client_idle_timeout_ms": 300000  // a client connection silent this long is closed
// }
// Only "priests" is required; "listen" (the address to bind) defaults to "host". A priest
// with "http_port" serves metrics, status, events and the live page there (server/http.hpp),
// bound to "http_listen" (default 127.0.0.1: this machine only), over the same mutual TLS.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/ballot.hpp"
#include "proto/result.hpp"

#include <nlohmann/json.hpp>

namespace parliament {

struct PriestAddress {
  PriestId id = 0;
  std::string host;
  uint16_t port = 0;
  std::string listen;
  // Which life of priest `id` this is: drawn when its data directory is first initialised
  // (server/storage.hpp). 0 = not known (a configuration file names addresses only).
  uint64_t incarnation = 0;
  // The public key of its certificate, as the god saw it: the SHA-256 of the key, 64 hex
  // digits (tls::peer_key). Empty = not recorded (plaintext, or a configuration file).
  std::string key{};
  bool operator==(const PriestAddress&) const = default;
};

// Where a priest serves HTTP (not part of the membership: only the configuration says it).
struct HttpAddress {
  std::string host;  // the priest's "host": where others reach the port
  uint16_t port = 0;
  std::string listen = "127.0.0.1";
};

struct Config {
  std::vector<PriestAddress> priests;  // sorted by id
  std::map<PriestId, HttpAddress> http;  // the priests with an "http_port"
  uint32_t tick_ms = 10;
  uint32_t heartbeat_ticks = 5;
  uint32_t election_timeout_ticks = 30;
  uint32_t max_decree_bytes = 64 * 1024;
  uint32_t max_frame_bytes = 4 * 1024 * 1024;
  bool tls = true;
  std::string certs = "certs";  // as written; resolve with certs_dir() (net/tls.hpp)
  uint32_t client_idle_timeout_ms = 300000;
  uint32_t max_queued_bytes = 8 * 1024 * 1024;

  const PriestAddress* find(PriestId id) const;
  std::vector<PriestId> ids() const;
};

// Errors read "FILE: FIELD: what is wrong".
Result<Config> parse_config(std::string_view text, const std::string& file_name);

// The membership part alone (what the god sends and each priest persists). Each entry may
// carry "incarnation" as 16 hex digits (proto/membership.hpp).
Result<std::vector<PriestAddress>> parse_priests(const nlohmann::json& j,
                                                 const std::string& where);
nlohmann::json priests_to_json(const std::vector<PriestAddress>& priests);

}  // namespace parliament

namespace parliament {
// "HOST:PORT" (or "[V6]:PORT") as the address of priest `id`, listening on HOST; errors
// begin with `where`.
Result<PriestAddress> parse_address(std::string_view text, PriestId id, const std::string& where);

// The URL of priest `id`'s HTTP port, as the page and people reach it ("https://HOST:PORT");
// "" if the configuration gives it none.
std::string http_url(const Config& config, PriestId id);

// An incarnation as text: 16 lower-case hex digits; parse accepts exactly that, non-zero.
std::string incarnation_text(uint64_t incarnation);
std::optional<uint64_t> parse_incarnation(std::string_view text);
// A recorded key (PriestAddress::key): 64 lower-case hex digits.
bool valid_key_text(std::string_view text);
}  // namespace parliament
