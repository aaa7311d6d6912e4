// The parliament's messages: what priests say to each other, and their JSON form.
//
// Codes are the paper's, fixed on the wire (see docs/PROTOCOL.md):
//   president -> priest: 1 NextBallot, 2 BeginBallot, 3 Success, 4 Failed
//   priest -> president: 1 LastVote,   2 Voted (yes), 3 VoteNo
// A president forwards nothing; a priest that is not president forwards a client's
// proposal to the president (Forward) and gets the outcome back (Answer). Any priest whose
// ledger holds more than a peer's sends it the difference (CatchUp): decrees read from a
// ledger, which says nothing about any ballot and is never read as a commit.
//
// Pure: encode/decode between Message and its JSON and binary forms; anyone may call them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parliament/code.hpp"
#include "proto/ballot.hpp"
#include "proto/result.hpp"

namespace parliament {

// A decree: a client's text, tagged with the client and its request number so that a retry
// never passes twice; or the olive-day decree (a no-op a new president uses to fill a gap);
// or a membership decree (client 0; text: the membership it sets, proto/membership.hpp).
// In a Forward, a membership "decree" carries the god's change request (change_to_json) for
// the president to turn into the decree.
struct Decree {
  bool olive_day = false;
  uint64_t client = 0;   // 0 = no client (olive-day)
  uint64_t request = 0;  // the client's request number, from 1, one outstanding at a time
  std::string text;
  // The ballot of the president that first proposed this decree at its number. It is part
  // of the value agreed on, so every ledger records the same ballot for a decree even when
  // a later president re-proposes it (B3) in a higher ballot.
  Ballot origin;
  bool membership = false;

  static Decree olive(const Ballot& b) { return Decree{true, 0, 0, {}, b}; }
  bool from_client() const { return !olive_day && !membership; }
  bool operator==(const Decree&) const = default;
};

// A decree at a decree number, with the ballot it was voted (or passed) in.
struct Entry {
  uint64_t decree_no = 0;
  Ballot ballot;
  Decree decree;
  bool operator==(const Entry&) const = default;
};

enum class Kind : uint8_t {
  // from the president
  NextBallot,   // code 1: ballot, decree_no = first open decree number the president asks about
  BeginBallot,  // code 2: ballot, entries (consecutive numbers), commit_no, quorum
  Success,      // code 3: commit_no: every number up to it passed (see Priest::learn_commit)
  Failed,       // code 4: the president abandons ballot
  // from a priest that would stand (not in the paper: nothing is promised or persisted)
  PreBallot,    // code 5: ballot = the ballot it would stand with; "would you promise it?"
  // to the president
  LastVote,     // code 1: ballot promised, entries = this priest's votes at open numbers
  Voted,        // code 2: ballot, voted yes at decree_no..last_no (empty range = ack only)
  VoteNo,       // code 3: ballot refused, promised = the higher ballot this priest promised
  PreVote,      // code 4: "yes, I would" to a pre-ballot; promised = this priest's promise
  // between priests, for clients
  Forward,      // a client's proposal (entries[0].decree) carried to the president; token
  Answer,       // the president's answer for token: decree_no, or error
  Read,         // a client's linearizable read carried to the president; token (answer: how far)
  // between any two priests
  CatchUp,      // entries: passed decrees from the sender's ledger; none: "I now hold passed_len"
};

bool from_president(Kind k);
int code_of(Kind k);
const char* name_of(Kind k);

struct Message {
  Kind kind = Kind::Success;
  PriestId from = 0;
  PriestId to = 0;
  Ballot ballot;
  uint64_t decree_no = 0;
  uint64_t last_no = 0;
  uint64_t commit_no = 0;
  uint64_t passed_len = 0;  // sender's count of decrees it knows passed, 1..passed_len
  Ballot promised;
  std::vector<Entry> entries;
  uint64_t token = 0;
  Code code = Code::Ok;  // Answer: why it did not pass (OutcomeUnknown: it may still pass)
  std::string error;     // Answer: the same for people
  // Forward: the named client whose proposal it carries ("" = unnamed, or the god's), so
  // that the president refuses a client revoked by a decree the forwarding priest has not
  // learned yet.
  std::string owner;
  // BeginBallot: the receiver is in the ballot's quorum, the priests the president asks to
  // vote. False: it is told the decrees only, to record them when a successful ballot of
  // this ballot says they passed; it neither votes nor writes them to its disk.
  bool quorum = true;
  // Not on the wire: the incarnation of the sender, as the host knows it from the connection
  // it arrived on (its hello); set by the sending Priest for its own messages.
  uint64_t incarnation = 0;
  // Not on the wire: the receiver can do without it (a begin ballot sent again, a catch-up):
  // a host may drop it rather than queue it behind what the receiver has not yet read, which
  // it would often repeat. Set by the sending Priest or Clerk.
  bool spare = false;
};

// The JSON text of a frame's payload, written and read without a JSON tree (the hot path).
std::string encode_text(const Message& m);
// Validates types and codes; does not know the membership (the host checks `from`).
Result<Message> decode_text(std::string_view text);

// The binary form (proto/message_binary.cpp) of the messages every decree costs: begin
// ballot, vote yes and successful ballot. A priest sends it to peers whose hello said they
// read it (wire version 2 and later), JSON otherwise and for every other kind.
constexpr size_t kBinaryToOffset = 3;  // `to`: 4 bytes, little-endian, from here
bool has_binary_form(Kind k);
std::string encode_binary(const Message& m);  // only for kinds that have_binary_form
Result<Message> decode_binary(std::string_view payload);
// A frame's payload in either form, by its first byte (0: binary; JSON begins with '{').
Result<Message> decode_frame(std::string_view payload);

// The same through nlohmann::json values (tests, tools).
nlohmann::json encode(const Message& m);
Result<Message> decode(const nlohmann::json& j);

}  // namespace parliament
