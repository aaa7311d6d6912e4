// The parliament's client library: pass decrees, read the ledger, follow it and ask the
// priests how they stand, without speaking the wire protocol (docs/CLIENT.md).
//
//   parliament::client::Options options;
//   options.config_file = "/etc/parliament/parliament.json";   // or options.addresses
//   std::unique_ptr<parliament::client::Parliament> p;
//   if (auto s = parliament::client::Parliament::open(options, &p); !s.ok()) ...
//   uint64_t n = 0;
//   auto s = p->propose("a decree", &n);   // s.ok(): passed as decree n
//
// Every call blocks until it is done or Options::timeout has passed, retrying where the
// parliament says a retry may help (Status::retryable). A proposal is retried as the same
// request, so it passes at most once however many priests hear it.
//
// Installed with the package: find_package(parliament-client) and the target
// parliament::client, or pkg-config parliament-client. C++17 or later.
//
// Threads: one Parliament may be used by one thread at a time; use one per thread. open()
// sets this process's TLS credentials: open every Parliament before any thread uses one,
// and all with the same certificate.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parliament/code.hpp"

namespace parliament::client {

// What a call did: ok, or a code (parliament/code.hpp) and a sentence for people.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  bool ok() const { return code_ == Code::Ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Whether the same call may succeed later (parliament::retryable).
  bool retryable() const { return parliament::retryable(code_); }
  // "ok", or "no_quorum: no quorum: reached 2 of 5 priests ..."
  std::string to_string() const;

 private:
  Code code_ = Code::Ok;
  std::string message_;
};

// Where the parliament is and who this program is to it.
struct Options {
  // The parliament's configuration file (as paxos-priest reads it); or else
  std::string config_file;
  // the priests' addresses, "host:port" (any priest of the parliament may answer at each).
  std::vector<std::string> addresses;
  // The TLS files' directory. Default: the configuration's "certs"; with addresses,
  // data/certs.
  std::string certs_dir;
  // Speak as the named client (client-NAME.crt and .key); empty: the shared client.crt.
  std::string client_name;
  // Speak with priest N's certificate instead (status only: a priest's own container).
  uint32_t priest_certificate = 0;
  // No TLS: only for a parliament whose configuration says "tls": false.
  bool plaintext = false;
  // How long each call keeps trying.
  std::chrono::milliseconds timeout{5000};
};

// A decree as a ledger holds it: passed at `number`.
struct Decree {
  enum class Kind { Client, OliveDay, Membership };
  uint64_t number = 0;
  std::string ballot;  // the ballot it passed in, "round.priest"
  Kind kind = Kind::Client;
  std::string text;  // a client's text; a membership decree's membership (JSON); olive-day: ""
  uint64_t client = 0, request = 0;  // Kind::Client: who proposed it, as the ledger keys it
};

// One priest's ledger as that priest holds it (not a linearizable read).
struct Ledger {
  uint64_t priest = 0;
  std::string address;  // "host:port"
  uint64_t length = 0;  // decrees 1..length passed, as this priest knows
  std::vector<Decree> decrees;
};

// A linearizable read: every decree from the first asked up to `upto`, a number a majority
// confirmed after the read began, so it holds every decree acknowledged before then.
struct Reading {
  uint64_t upto = 0;
  uint64_t answered_by = 0;  // the priest that fixed `upto`
  std::vector<Decree> decrees;
};

// The membership in force, as the priests' ledgers have it.
struct Members {
  uint64_t decree_no = 0;  // the decree that set it (0: the bootstrap)
  size_t quorum = 0;
  struct Priest {
    uint64_t id = 0;
    std::string address;      // "host:port" as this program reaches it
    std::string incarnation;  // the life the membership names
  };
  std::vector<Priest> priests;
};

// How one priest stands, as it said (or why it did not say).
struct PriestState {
  uint64_t id = 0;
  std::string address;
  std::optional<bool> member;  // in the membership in force (nullopt: none was found)
  Status error;                // not ok: it did not answer (Unreachable, Timeout, ...)
  std::string role;            // "president", "candidate", "follower"
  std::optional<uint64_t> president;
  std::string ballot, next_bal, incarnation;
  uint64_t ledger_length = 0;
  std::vector<uint64_t> reachable;  // the priests it hears from
  bool bootstrapped = false, voter = false;
  std::string halted;       // why it stopped voting ("" if it did not)
  std::string status_json;  // its whole answer (docs/PROTOCOL.md, "status"), for tools
};

struct Report {
  std::optional<Members> membership;
  std::vector<PriestState> priests;  // the members, then the configuration's others
};

// Whether the parliament is healthy, as etcdctl's endpoint health: every member answers, none
// halted, all follow one president, and that president hears a majority of the members.
struct Health {
  bool healthy = false;
  std::optional<uint64_t> president;
  std::vector<uint64_t> members;
  std::vector<std::string> problems;  // one sentence each; empty when healthy
};

class Parliament {
 public:
  // Reads the configuration (or addresses) and the certificates, and finds the membership
  // in force. Invalid: the options, configuration or certificates are wrong (the message
  // names the file and field).
  static Status open(const Options& options, std::unique_ptr<Parliament>* out);
  ~Parliament();

  // Passes `text` as a decree and sets *decree_no to its number. Not ok: it did not pass by
  // the deadline; OutcomeUnknown: it may still pass (calling again proposes a new decree).
  Status propose(std::string_view text, uint64_t* decree_no);
  // A linearizable read of the ledger from decree `from` (1: all of it).
  Status read(uint64_t from, Reading* out);
  // Calls on_decree for every decree from `from` on (0: the next one to pass), in order,
  // each once, across president changes and restarts, until on_decree returns false. It
  // waits for decrees as long as it takes: Options::timeout does not apply. One priest at a
  // time pushes the decrees as they pass (the watch frame, docs/PROTOCOL.md); a refusal that
  // asking again cannot mend (a revoked client: Code::Revoked) ends it and is returned.
  Status watch(uint64_t from, const std::function<bool(const Decree&)>& on_decree);
  // Priest `priest`'s own ledger from `from` (1: all of it).
  Status ledger(uint64_t priest, uint64_t from, Ledger* out);
  // The membership in force.
  Status members(Members* out);
  // Every member's state (asked all at once), and the configuration's other priests'.
  Status status(Report* out);
  // The parliament's health, from status (the call fails only if it cannot ask at all).
  Status health(Health* out);
  // One priest's health: it answers, is a bootstrapped voter, and follows a president that
  // answers and hears a majority (a container's healthcheck; etcdctl's endpoint health).
  Status health_of(uint64_t priest, Health* out);

  // This program's client id: one per Parliament, random.
  uint64_t client_id() const;

  struct Impl;

 private:
  explicit Parliament(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parliament::client
