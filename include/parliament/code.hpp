// parliament::Code: why the parliament did not do what a client asked, as a code a program
// can act on. The priests send it on the wire by name (code_name: "no_president"), next to
// a sentence for people; the client library, paxos-client, paxos-bench and paxos-god decide
// by the code, never by the sentence (docs/PROTOCOL.md, "Errors").
//
// Part of the public client API (installed as <parliament/code.hpp>); the priests use it too.
// Header only, no dependencies; any thread may call these.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace parliament {

enum class Code : uint8_t {
  Ok = 0,
  // The parliament may do it if asked again (retryable: true).
  NoPresident,      // no president yet (an election is under way), or it was replaced
  NotPresident,     // the priest asked is no longer president
  NoQuorum,         // the president cannot reach a majority of the members
  Abandoned,        // the ballot was abandoned before the decree was begun: it did not pass
  OutcomeUnknown,   // it may have passed or may yet: retry the same request (exactly once)
  Overloaded,       // a queue is full (max_queued): retry later
  Busy,             // another membership change is under way: retry once it has passed
  NotMember,        // this priest is not a voting member: ask a member
  NotBootstrapped,  // this priest is in no parliament yet
  Halted,           // this priest stopped voting (its disk failed): ask another
  Unreachable,      // client side: no connection to the priest
  Timeout,          // client side: no answer before the deadline
  // Asking again will not help (retryable: false).
  Superseded,  // the client has sent a later request than this one
  Revoked,     // the client's certificate was revoked by a decree
  Forbidden,   // this certificate may not send this request
  Invalid,     // the request itself is wrong (too large, malformed, an impossible change)
  Malformed,   // client side: a reply that makes no sense
  Unknown,     // an error without a code (from a priest of an older version)
};

// The code's name on the wire and in --json output: "ok", "no_president", ...
constexpr std::string_view code_name(Code c) {
  switch (c) {
    case Code::Ok: return "ok";
    case Code::NoPresident: return "no_president";
    case Code::NotPresident: return "not_president";
    case Code::NoQuorum: return "no_quorum";
    case Code::Abandoned: return "abandoned";
    case Code::OutcomeUnknown: return "outcome_unknown";
    case Code::Overloaded: return "overloaded";
    case Code::Busy: return "busy";
    case Code::NotMember: return "not_member";
    case Code::NotBootstrapped: return "not_bootstrapped";
    case Code::Halted: return "halted";
    case Code::Unreachable: return "unreachable";
    case Code::Timeout: return "timeout";
    case Code::Superseded: return "superseded";
    case Code::Revoked: return "revoked";
    case Code::Forbidden: return "forbidden";
    case Code::Invalid: return "invalid";
    case Code::Malformed: return "malformed";
    case Code::Unknown: return "unknown";
  }
  return "unknown";
}

// The code named `name`; nullopt for a name this version does not know.
constexpr std::optional<Code> code_from_name(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Code::Unknown); ++i)
    if (code_name(static_cast<Code>(i)) == name) return static_cast<Code>(i);
  return std::nullopt;
}

// Whether asking again (the same request, perhaps of another priest, after a moment) may
// succeed. OutcomeUnknown is retryable only as the same request: a new one may pass twice.
constexpr bool retryable(Code c) {
  return c != Code::Ok && static_cast<int>(c) <= static_cast<int>(Code::Timeout);
}

}  // namespace parliament
