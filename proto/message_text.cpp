// The JSON text of a Message, written and read without building a JSON tree: on the hot path
// (a begin ballot of many decrees, received by every priest) the tree's allocations and its
// re-walk were most of a priest's CPU. The text is ordinary JSON; keys may come in any order.
#include <charconv>
#include <cstring>

#include "proto/message.hpp"
#include "proto/quick_json.hpp"

namespace parliament {

namespace {

// ------------------------------------------------------------------ writing

void put_string(std::string& o, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  o.push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    o.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        o += "\\u00";
        o.push_back(hex[c >> 4]);
        o.push_back(hex[c & 15]);
    }
  }
  o.append(s.data() + run, s.size() - run);
  o.push_back('"');
}

void put_u64(std::string& o, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  o.append(buf, r.ptr);
}

void put_ballot(std::string& o, const Ballot& b) {
  o.push_back('"');
  put_u64(o, b.round);
  o.push_back('.');
  put_u64(o, b.priest);
  o.push_back('"');
}

// ,"key":
void key(std::string& o, const char* k) {
  if (o.back() != '{') o.push_back(',');
  o.push_back('"');
  o += k;
  o += "\":";
}

void put_decree(std::string& o, const Decree& d) {
  o.push_back('{');
  if (d.olive_day) {
    key(o, "olive_day");
    o += "true";
  } else {
    if (d.membership) {
      key(o, "membership");
      o += "true";
    }
    key(o, "text");
    put_string(o, d.text);
    key(o, "client");
    put_u64(o, d.client);
    key(o, "request");
    put_u64(o, d.request);
  }
  key(o, "origin");
  put_ballot(o, d.origin);
  o.push_back('}');
}

void put_entries(std::string& o, const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  key(o, "decrees");
  o.push_back('[');
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) o.push_back(',');
    o.push_back('{');
    key(o, "decree_no");
    put_u64(o, entries[i].decree_no);
    key(o, "ballot");
    put_ballot(o, entries[i].ballot);
    key(o, "decree");
    put_decree(o, entries[i].decree);
    o.push_back('}');
  }
  o.push_back(']');
}

// Forward, answer and read: a client's request carried between priests, and its outcome.
void put_client_message(std::string& o, const Message& m) {
  key(o, "type");
  o += m.kind == Kind::Forward ? "\"forward\"" : m.kind == Kind::Read ? "\"read\"" : "\"answer\"";
  key(o, "from");
  put_u64(o, m.from);
  key(o, "to");
  put_u64(o, m.to);
  key(o, "token");
  put_u64(o, m.token);
  if (m.kind == Kind::Forward) {
    key(o, "decree");
    if (m.entries.empty()) o += "null";
    else put_decree(o, m.entries.front().decree);
    if (!m.owner.empty()) {
      key(o, "owner");
      put_string(o, m.owner);
    }
  } else if (m.kind == Kind::Answer) {
    key(o, "decree_no");
    put_u64(o, m.decree_no);
    if (m.code != Code::Ok) {
      key(o, "error_code");
      put_string(o, std::string(code_name(m.code)));
      key(o, "error");
      put_string(o, m.error);
      key(o, "outcome_unknown");  // what a priest before error codes reads
      o += m.code == Code::OutcomeUnknown ? "true" : "false";
    }
  }
}

// The paper's messages (and the pre-ballot's), with the fields each kind carries.
void put_paxos_message(std::string& o, const Message& m) {
  key(o, "type");
  o += "\"paxos\"";
  key(o, "dir");
  o += from_president(m.kind) || m.kind == Kind::PreBallot ? "\"to_priest\"" : "\"to_president\"";
  key(o, "code");
  put_u64(o, static_cast<uint64_t>(code_of(m.kind)));
  key(o, "from");
  put_u64(o, m.from);
  key(o, "to");
  put_u64(o, m.to);
  key(o, "ballot");
  put_ballot(o, m.ballot);
  key(o, "decree_no");
  put_u64(o, m.decree_no);
  key(o, "passed_len");
  put_u64(o, m.passed_len);
  if (m.kind == Kind::Voted) {
    key(o, "last_no");
    put_u64(o, m.last_no);
  }
  if (m.kind == Kind::BeginBallot || m.kind == Kind::Success) {
    key(o, "commit_no");
    put_u64(o, m.commit_no);
  }
  if (m.kind == Kind::BeginBallot && !m.quorum) {
    key(o, "quorum");  // omitted when true: what a priest before the field reads
    o += "false";
  }
  if (m.kind == Kind::VoteNo || m.kind == Kind::PreVote) {
    key(o, "promised");
    put_ballot(o, m.promised);
  }
  if ((m.kind == Kind::Success || m.kind == Kind::Voted) && m.token) {
    key(o, "read");  // a read confirmation round, asked and acknowledged
    put_u64(o, m.token);
  }
  put_entries(o, m.entries);
}

}  // namespace

std::string encode_text(const Message& m) {
  std::string o;
  o.reserve(128 +
            m.entries.size() * (96 + (m.entries.empty() ? 0 : m.entries[0].decree.text.size())));
  o.push_back('{');
  if (m.kind == Kind::Forward || m.kind == Kind::Answer || m.kind == Kind::Read) {
    put_client_message(o, m);
  } else if (m.kind == Kind::CatchUp) {
    key(o, "type");
    o += "\"catch_up\"";
    key(o, "from");
    put_u64(o, m.from);
    key(o, "to");
    put_u64(o, m.to);
    key(o, "passed_len");
    put_u64(o, m.passed_len);
    put_entries(o, m.entries);
  } else {
    put_paxos_message(o, m);
  }
  o.push_back('}');
  return o;
}

// ------------------------------------------------------------------ reading

namespace {

// Fills a Message from SAX events. Where it is: the frame (depth 1), an element of
// "decrees" (depth 2 inside the array), a decree object (the forward's, or an element's).
// Values under unknown keys are skipped whole.
class Reader : public nlohmann::json_sax<nlohmann::json> {
 public:
  Message m;
  std::string error;
  // what the frame said
  std::string type, dir;
  uint64_t code = 0;
  bool has_code = false, has_from = false, has_to = false, has_ballot = false,
       has_decree_no = false, has_passed_len = false, has_last_no = false, has_promised = false,
       has_token = false, has_decree = false, has_decrees = false;
  uint64_t read_round = 0;  // "read" of a successful ballot or vote yes
  bool quorum = true;       // "quorum" of a begin ballot (true in every other frame)
  std::optional<Code> error_code;  // an answer's (a name this version does not know: Unknown)
  bool outcome_unknown = false;    // an answer's, from a priest before error codes

  bool null() override { return scalar(Value{Value::Null}); }
  bool boolean(bool v) override { return scalar(Value{Value::Bool, v}); }
  bool number_integer(number_integer_t v) override {
    if (v < 0) return fail("a negative number where none is allowed");
    return scalar(Value{Value::Unsigned, false, static_cast<uint64_t>(v)});
  }
  bool number_unsigned(number_unsigned_t v) override {
    return scalar(Value{Value::Unsigned, false, v});
  }
  bool number_float(number_float_t, const string_t&) override {
    return scalar(Value{Value::Other});
  }
  bool string(string_t& v) override { return scalar(Value{Value::String, false, 0, &v}); }
  bool binary(binary_t&) override { return scalar(Value{Value::Other}); }

  bool start_object(std::size_t) override {
    if (skip_) return ++skip_, true;
    if (where_ == At::Nowhere) return where_ = At::Frame, true;
    if (where_ == At::Frame && key_ == "decree") {
      has_decree = true;
      decree_ = &forward_decree_;
      *decree_ = Decree{};
      decree_seen_ = 0;
      return where_ = At::FrameDecree, true;
    }
    if (where_ == At::Decrees) {
      m.entries.emplace_back();
      entry_seen_ = 0;
      return where_ = At::Entry, true;
    }
    if (where_ == At::Entry && key_ == "decree") {
      decree_ = &m.entries.back().decree;
      decree_seen_ = 0;
      entry_seen_ |= 4;
      return where_ = At::EntryDecree, true;
    }
    return unexpected("an object");
  }
  bool end_object() override {
    if (skip_) return --skip_, true;
    switch (where_) {
      case At::Frame: where_ = At::Done; return true;
      case At::FrameDecree:
        if (!finish_decree("decree")) return false;
        where_ = At::Frame;
        return true;
      case At::EntryDecree:
        if (!finish_decree("decrees[].decree")) return false;
        where_ = At::Entry;
        return true;
      case At::Entry:
        if ((entry_seen_ & 3) != 3) return fail("decrees[] element without decree_no/ballot");
        if (!(entry_seen_ & 4)) return fail("decrees[] element without decree");
        where_ = At::Decrees;
        return true;
      default: return fail("unbalanced object");
    }
  }
  bool start_array(std::size_t) override {
    if (skip_) return ++skip_, true;
    if (where_ == At::Frame && key_ == "decrees") {
      has_decrees = true;
      return where_ = At::Decrees, true;
    }
    if (where_ == At::Nowhere) return fail("frame is not a JSON object");
    return unexpected("an array");
  }
  bool end_array() override {
    if (skip_) return --skip_, true;
    if (where_ == At::Decrees) return where_ = At::Frame, true;
    return fail("unbalanced array");
  }
  bool key(string_t& k) override {
    if (!skip_) key_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return fail("frame is not valid JSON");
  }

 private:
  enum class At { Nowhere, Frame, FrameDecree, Decrees, Entry, EntryDecree, Done };
  struct Value {
    enum Kind { Null, Bool, Unsigned, String, Other } kind;
    bool b = false;
    uint64_t u = 0;
    std::string* s = nullptr;
  };

  bool fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }
  // An object or array: skipped whole under a key we do not know, an error under one we do.
  bool unexpected(const char* what) {
    static const char* frame_keys[] = {
        "type",      "dir",      "code",      "from",       "to",
        "ballot",    "promised", "decree_no", "passed_len", "last_no",
        "commit_no", "token",    "read",      "error",      "outcome_unknown",
        "decree",    "decrees",  "owner",     "error_code", "quorum"};
    static const char* entry_keys[] = {"decree_no", "ballot", "decree"};
    static const char* decree_keys[] = {"olive_day", "membership", "text", "client", "request",
                                        "origin"};
    auto known = [&](auto& keys) {
      for (const char* k : keys)
        if (key_ == k) return true;
      return false;
    };
    bool is_known =
        (where_ == At::Frame && known(frame_keys)) || (where_ == At::Entry && known(entry_keys)) ||
        ((where_ == At::FrameDecree || where_ == At::EntryDecree) && known(decree_keys));
    if (is_known || where_ == At::Decrees)
      return fail(key_ + " is " + what + ", which it may not be");
    skip_ = 1;
    return true;
  }
  bool u64(const Value& v, uint64_t& out, const char* name) {
    if (v.kind != Value::Unsigned) return fail(std::string(name) + " is not an unsigned integer");
    out = v.u;
    return true;
  }
  bool ballot(const Value& v, Ballot& out, const char* name) {
    if (v.kind != Value::String) return fail(std::string(name) + " is not a ballot string");
    auto b = parse_ballot(*v.s);
    if (!b) return fail(std::string(name) + " is malformed");
    out = *b;
    return true;
  }

  bool scalar(const Value& v) {
    if (skip_) return true;
    switch (where_) {
      case At::Frame: return frame_field(v);
      case At::Entry: return entry_field(v);
      case At::FrameDecree:
      case At::EntryDecree: return decree_field(v);
      case At::Nowhere: return fail("frame is not a JSON object");
      default: return fail("unexpected value");
    }
  }

  bool frame_field(const Value& v) {
    const std::string& k = key_;
    if (k == "type") {
      if (v.kind != Value::String) return fail("type is not a string");
      type = *v.s;
    } else if (k == "dir") {
      if (v.kind != Value::String) return fail("dir is not a string");
      dir = *v.s;
    } else if (k == "code") {
      has_code = v.kind == Value::Unsigned;
      if (!has_code) return fail("code is not an unsigned integer");
      code = v.u;
    } else if (k == "from" || k == "to") {
      uint64_t id;
      if (!u64(v, id, "from/to") || id > UINT32_MAX)
        return fail("from/to missing or not priest ids");
      (k == "from" ? m.from : m.to) = static_cast<PriestId>(id);
      (k == "from" ? has_from : has_to) = true;
    } else if (k == "ballot") {
      has_ballot = ballot(v, m.ballot, "ballot");
      return has_ballot;
    } else if (k == "promised") {
      has_promised = ballot(v, m.promised, "promised");
      return has_promised;
    } else if (k == "decree_no") {
      has_decree_no = u64(v, m.decree_no, "decree_no");
      return has_decree_no;
    } else if (k == "passed_len") {
      has_passed_len = u64(v, m.passed_len, "passed_len");
      return has_passed_len;
    } else if (k == "last_no") {
      has_last_no = u64(v, m.last_no, "last_no");
      return has_last_no;
    } else if (k == "commit_no") {
      return u64(v, m.commit_no, "commit_no");
    } else if (k == "token") {
      has_token = u64(v, m.token, "token");
      return has_token;
    } else if (k == "read") {
      return u64(v, read_round, "read");
    } else if (k == "error") {
      if (v.kind != Value::String) return fail("error is not a string");
      m.error = *v.s;
    } else if (k == "owner") {
      if (v.kind != Value::String) return fail("owner is not a string");
      m.owner = *v.s;
    } else if (k == "outcome_unknown") {
      outcome_unknown = v.kind == Value::Bool && v.b;
    } else if (k == "quorum") {
      if (v.kind != Value::Bool) return fail("quorum is not a boolean");
      quorum = v.b;
    } else if (k == "error_code") {
      if (v.kind != Value::String) return fail("error_code is not a string");
      error_code = code_from_name(*v.s).value_or(Code::Unknown);
    } else if (k == "decree") {
      if (v.kind != Value::Null) return fail("decree is not an object");
    } else if (k == "decrees") {
      return fail("decrees is not an array");
    }
    return true;
  }

  bool entry_field(const Value& v) {
    auto& e = m.entries.back();
    if (key_ == "decree_no") {
      if (!u64(v, e.decree_no, "decrees[].decree_no")) return false;
      entry_seen_ |= 1;
    } else if (key_ == "ballot") {
      if (!ballot(v, e.ballot, "decrees[].ballot")) return false;
      entry_seen_ |= 2;
    } else if (key_ == "decree") {
      return fail("decrees[].decree is not an object");
    }
    return true;
  }

  bool decree_field(const Value& v) {
    Decree& d = *decree_;
    if (key_ == "olive_day") {
      if (v.kind != Value::Bool) return fail("decree.olive_day is not a boolean");
      d.olive_day = v.b;
    } else if (key_ == "membership") {
      if (v.kind != Value::Bool) return fail("decree.membership is not a boolean");
      d.membership = v.b;
    } else if (key_ == "text") {
      if (v.kind != Value::String) return fail("decree.text is missing or not a string");
      d.text = *v.s;
      decree_seen_ |= 1;
    } else if (key_ == "client") {
      if (!u64(v, d.client, "decree.client")) return false;
      decree_seen_ |= 2;
    } else if (key_ == "request") {
      if (!u64(v, d.request, "decree.request")) return false;
      decree_seen_ |= 4;
    } else if (key_ == "origin") {
      if (!ballot(v, d.origin, "decree.origin")) return false;
      decree_seen_ |= 8;
    }
    return true;
  }

  bool finish_decree(const char* name) {
    Decree& d = *decree_;
    if (!(decree_seen_ & 8)) return fail(std::string(name) + ".origin missing or malformed");
    if (d.olive_day && d.membership)
      return fail(std::string(name) + " is both olive-day and membership");
    if (d.olive_day) {
      d.client = d.request = 0;
      d.text.clear();
      return true;
    }
    if (!(decree_seen_ & 1)) return fail(std::string(name) + ".text is missing or not a string");
    if ((decree_seen_ & 6) != 6)
      return fail(std::string(name) + ".client/request missing or not unsigned integers");
    return true;
  }

 public:
  Decree forward_decree_;

 private:
  At where_ = At::Nowhere;
  std::string key_;
  int skip_ = 0;
  Decree* decree_ = nullptr;
  int decree_seen_ = 0;
  int entry_seen_ = 0;
};

Result<Kind> kind_of(const std::string& dir, uint64_t code) {
  static const Kind to_priest[] = {Kind::NextBallot, Kind::BeginBallot, Kind::Success, Kind::Failed,
                                   Kind::PreBallot};
  static const Kind to_president[] = {Kind::LastVote, Kind::Voted, Kind::VoteNo, Kind::PreVote};
  if (dir == "to_priest") {
    if (code >= 1 && code <= 5) return to_priest[code - 1];
  } else if (dir == "to_president") {
    if (code >= 1 && code <= 4) return to_president[code - 1];
  } else {
    return Result<Kind>::failure("unknown dir \"" + dir + "\"");
  }
  return Result<Kind>::failure("unknown code " + std::to_string(code) + " for " + dir);
}

}  // namespace

Result<Message> decode_text(std::string_view text) {
  using R = Result<Message>;
  Reader r;
  bool ok = sax_parse(text, r);
  if (!ok || !r.error.empty())
    return R::failure(r.error.empty() ? "frame is not valid JSON" : r.error);
  Message& m = r.m;
  if (r.type.empty()) return R::failure("frame has no type");
  if (!r.has_from || !r.has_to) return R::failure("from/to missing or not priest ids");
  if (r.type == "forward" || r.type == "answer" || r.type == "read") {
    if (!r.has_token) return R::failure("token missing");
    m.entries.clear();
    if (r.type != "forward") m.owner.clear();
    if (r.type == "read") {
      m.kind = Kind::Read;
      m.decree_no = 0;
      m.error.clear();
    } else if (r.type == "forward") {
      m.kind = Kind::Forward;
      if (!r.has_decree) return R::failure("forward has no decree");
      m.entries.push_back(Entry{0, {}, std::move(r.forward_decree_)});
    } else {
      m.kind = Kind::Answer;
      if (!r.has_decree_no) return R::failure("answer has no decree_no");
      m.code = r.error_code ? *r.error_code
               : m.error.empty() ? Code::Ok
               : r.outcome_unknown ? Code::OutcomeUnknown
                                   : Code::Unknown;
      if (m.code == Code::Ok) m.error.clear();
    }
    return std::move(m);
  }
  if (r.type == "catch_up") {
    if (!r.has_passed_len) return R::failure("catch_up without passed_len");
    m.kind = Kind::CatchUp;
    m.owner.clear();
    m.ballot = m.promised = Ballot{};
    m.decree_no = m.last_no = m.commit_no = m.token = 0;
    m.error.clear();
    return std::move(m);
  }
  if (r.type != "paxos") return R::failure("unknown frame type \"" + r.type + "\"");
  if (r.dir.empty() || !r.has_code) return R::failure("paxos frame without dir/code");
  auto kind = kind_of(r.dir, r.code);
  if (!kind) return R::failure(kind.error());
  m.kind = *kind;
  if (!r.has_ballot) return R::failure("ballot missing or malformed");
  if (!r.has_decree_no || !r.has_passed_len) return R::failure("decree_no/passed_len missing");
  if (m.kind == Kind::Voted && !r.has_last_no) return R::failure("vote yes without last_no");
  if ((m.kind == Kind::VoteNo || m.kind == Kind::PreVote) && !r.has_promised)
    return R::failure(std::string(name_of(m.kind)) + " without promised ballot");
  m.token = m.kind == Kind::Success || m.kind == Kind::Voted ? r.read_round : 0;
  m.quorum = m.kind != Kind::BeginBallot || r.quorum;
  m.error.clear();
  m.owner.clear();
  return std::move(m);
}

}  // namespace parliament
