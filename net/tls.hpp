// tls: mutual-TLS credentials of the parliament (who a connection's other end is).
//
// Every party holds a key and a certificate signed by the parliament's own CA (ca.crt),
// made by `paxos-god --config FILE certs --out DIR` (server/certs.hpp). A certificate says
// whose it is in its subjectAltName, as exactly one URI:
//   urn:parliament:priest:3    priest 3 (ids 1..1000000)
//   urn:parliament:god         the god (paxos-god)
//   urn:parliament:client      the shared client (paxos-client, paxos-bench, tests)
//   urn:parliament:client:NAME a named client (paxos-god certs --client NAME)
// Its CN says the same for people ("parliament priest 3"); only the URI counts.
//
// Used by the priest's transport (listener and peer links), the god, the client library
// and the tests: each builds one context with make_context() at start-up, and after every
// handshake asks peer_identity() who the other end is (a peer's identity
// comes from its certificate, never from the id it writes in `hello`).
//
// Choices: TLS 1.3 only; both sides present and verify a certificate; SSL_MODE_RELEASE_BUFFERS
// (an idle connection keeps no read/write buffers, so many idle links stay cheap); no session
// tickets (links are long-lived and never resumed, so the server sends none).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/ssl/context.hpp>

#include "net/openssl.hpp"
#include "proto/ballot.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"
#include "proto/result.hpp"

namespace parliament::tls {

// Who a party of the parliament is.
enum class Role { Priest, God, Client };

// A party: its role; for a priest its id (0 for the god and clients); for a client its name
// ("" for the shared client of `paxos-god certs`, whose URI names none).
struct Identity {
  Role role;
  PriestId id = 0;
  std::string name{};
  bool operator==(const Identity&) const = default;
};

inline constexpr PriestId kMaxPriestId = 1000000;
inline constexpr size_t kMaxClientName = 64;

using parliament::valid_client_name;  // (proto/membership.hpp)

// Every client is someone: the client id a decree carries in the ledger (and by which
// exactly-once is kept) for the client id `client` that party `who` wrote in its propose.
// Two parties never share one (short of a SHA-256 second preimage), so no client can
// claim, answer for or poison another's requests. The priest's client port applies it to
// every proposal over TLS; the reply names it ("ledger_client").
uint64_t ledger_client(const Identity& who, uint64_t client);

// For people and logs: "priest 3", "the god", "a client".
std::string describe(const Identity& who);

// The subjectAltName URI of `who`: "urn:parliament:priest:3", "urn:parliament:god",
// "urn:parliament:client". Used by the certificate maker (server/certs.cpp).
std::string identity_uri(const Identity& who);

// The inverse: exactly one of the three forms above (lower case, priest id 1..1000000 in
// decimal without leading zeros); nullopt for anything else.
std::optional<Identity> parse_identity_uri(std::string_view uri);

// The certificate's CN for people: "parliament priest 3", "parliament god",
// "parliament client".
std::string common_name(const Identity& who);

// The three PEM files a party loads: the parliament's CA certificate, its own certificate
// and its own private key.
struct Files {
  std::string ca, cert, key;
};

// Where `paxos-god certs --out DIR` puts them: DIR/ca.crt, and DIR/priest-3.crt +
// DIR/priest-3.key, DIR/god.crt + DIR/god.key, DIR/client.crt + DIR/client.key, or
// DIR/client-NAME.crt + DIR/client-NAME.key.
Files files_for(const std::string& dir, const Identity& who);

// A TLS 1.3-only context, for either end of a connection, that presents files.cert (with
// files.key) and requires and verifies a peer certificate signed by the CA in files.ca.
// Checked before it is built, each error naming the file: a file missing or unreadable; not a
// PEM certificate or key; the key not that of the certificate; the certificate not signed by
// the CA (another parliament's); expired or not yet valid (with the date); naming another
// party than `who` ("DIR/priest-3.crt names priest 4, not priest 3").
// Called once at start-up by each priest, the god and each client.
Result<std::shared_ptr<asio::ssl::context>> make_context(const Files& files, const Identity& who);

// Who the other end of a completed handshake on `ssl` is, from its verified certificate's
// URI. An error sentence if the handshake is not complete, the peer sent no certificate, it
// did not verify, or it holds not exactly one parliament URI. Called by whoever accepted or
// opened the connection, right after the handshake (native_handle() of an asio::ssl::stream).
Result<Identity> peer_identity(SSL* ssl);

// The public key of the verified peer certificate on `ssl` (after peer_identity said who it
// is): 64 hex digits of the SHA-256 of the key. The membership records a priest's by it
// (PriestAddress::key), so a certificate renewed with the same key stays that priest's and
// one with another key is another life. Empty if there is no peer certificate.
std::string peer_key(SSL* ssl);

// The public key of the (first) certificate in the PEM file at `path`, as peer_key gives it
// for a peer that holds that certificate; an error naming the file if it cannot be read.
Result<std::string> certificate_key(const std::string& path);

// The SHA-256 of `bytes` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view bytes);

// The certificate directory of a configuration: `override_dir` if not empty, else its
// "certs", which when relative is read from the configuration file's directory.
std::string certs_dir(const Config& config, const std::string& config_file,
                      const std::string& override_dir = "");

// The parliament's id, made with its CA: the first 8 bytes (16 hex digits) of the SHA-256 of
// the first CA certificate in `ca_file`, or, for a CA made by a rotation (`paxos-god certs
// --rotate-ca`), the id its subject carries (OU "parliament <id>"), so the id outlives the CA
// it was made with. Every CA in the file must name the same id. Every party of one
// parliament shares it and another parliament (another CA) never does. A priest writes it
// into its data directory at bootstrap or join and refuses to start on one that holds another.
Result<std::string> parliament_id(const std::string& ca_file);
// The id one CA certificate names, as above ("" if it cannot be computed).
std::string parliament_of(X509* ca);
// Every certificate in a PEM file, in order (ca.crt holds two while a CA is rotated); an
// error naming the file if it holds none.
Result<std::vector<openssl::X509Ptr>> load_certs(const std::string& path);

// The context `who` uses with this configuration (make_context on certs_dir's files), or
// nullptr when the configuration says "tls": false. Called once at start by every program.
Result<std::shared_ptr<asio::ssl::context>> load(const Config& config,
                                                 const std::string& config_file,
                                                 const Identity& who,
                                                 const std::string& override_dir = "");

}  // namespace parliament::tls
