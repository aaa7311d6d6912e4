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
    case Kind::PreBallot: return 5;
    case Kind::LastVote: return 1;
    case Kind::Voted: return 2;
    case Kind::VoteNo: return 3;
    case Kind::PreVote: return 4;
    default: return 0;
  }
}

const char* name_of(Kind k) {
  switch (k) {
    case Kind::NextBallot: return "next ballot";
    case Kind::BeginBallot: return "begin ballot";
    case Kind::Success: return "successful ballot";
    case Kind::Failed: return "failed ballot";
    case Kind::PreBallot: return "pre-ballot";
    case Kind::LastVote: return "last vote";
    case Kind::Voted: return "vote yes";
    case Kind::VoteNo: return "vote no";
    case Kind::PreVote: return "pre-vote";
    case Kind::Forward: return "forward";
    case Kind::Answer: return "answer";
    case Kind::Read: return "read";
    case Kind::CatchUp: return "catch-up";
  }
  return "?";
}

json encode(const Message& m) { return json::parse(encode_text(m)); }

Result<Message> decode(const json& j) {
  if (!j.is_object()) return Result<Message>::failure("frame is not a JSON object");
  return decode_text(j.dump());
}

}  // namespace parliament
