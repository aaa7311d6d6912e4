// The binary form of the three messages every decree costs (begin ballot, vote yes, successful
// ballot; proto/message.hpp). Layout, all integers unsigned LEB128 varints except `to`:
//
//   0x00 | 0x01 (this layout) | kind: 0x02 begin ballot, 0x03 successful ballot, 0x82 vote yes
//   | to: 4 bytes, little-endian (at kBinaryToOffset, so that one encoding serves every
//   recipient) | from | ballot.round | ballot.priest | decree_no | passed_len | commit_no |
//   last_no | token | entry count | entries
//
// an entry: decree_no | ballot.round | ballot.priest | flags (1 olive-day, 2 membership) |
// client | request | origin.round | origin.priest | text length | text bytes.
//
// A JSON frame begins with '{', a binary one with 0x00. Decoding checks every length against
// what is left, every priest id against 32 bits, every text for well-formed UTF-8 (as the
// JSON form's parser does), and gives the Message that the JSON form of the same message
// gives (fields the kind does not carry are zero).
#include <cstring>

#include "proto/message.hpp"
#include "proto/quick_json.hpp"  // valid_utf8

namespace parliament {

namespace {

constexpr uint8_t kLayout = 1;
constexpr uint8_t kPresidentBit = 0x80;  // set: to the president

void put_varint(std::string& o, uint64_t v) {
  while (v >= 0x80) {
    o += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  o += static_cast<char>(v);
}

void put_ballot(std::string& o, const Ballot& b) {
  put_varint(o, b.round);
  put_varint(o, b.priest);
}

class In {
 public:
  explicit In(std::string_view s) : s_(s) {}
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= s_.size()) return false;
      uint8_t b = static_cast<uint8_t>(s_[at_++]);
      if (shift == 63 && b > 1) return false;  // more than 64 bits
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool id(PriestId& p) {
    uint64_t v;
    if (!varint(v) || v > UINT32_MAX) return false;
    p = static_cast<PriestId>(v);
    return true;
  }
  bool ballot(Ballot& b) { return varint(b.round) && id(b.priest); }
  bool bytes(std::string& out) {
    uint64_t n;
    if (!varint(n) || n > s_.size() - at_) return false;
    out.assign(s_.substr(at_, n));
    at_ += n;
    return true;
  }
  size_t left() const { return s_.size() - at_; }

 private:
  std::string_view s_;
  size_t at_ = 0;
};

Result<Entry> read_entry(In& in) {
  using R = Result<Entry>;
  Entry e;
  uint64_t flags;
  Decree& d = e.decree;
  if (!in.varint(e.decree_no) || !in.ballot(e.ballot) || !in.varint(flags) ||
      !in.varint(d.client) || !in.varint(d.request) || !in.ballot(d.origin) ||
      !in.bytes(d.text))
    return R::failure("binary frame: a decree is cut short or malformed");
  if (flags > 3) return R::failure("binary frame: unknown decree flags");
  if (!valid_utf8(d.text)) return R::failure("binary frame: a decree's text is not UTF-8");
  d.olive_day = flags & 1;
  d.membership = flags & 2;
  if (d.olive_day && d.membership)
    return R::failure("binary frame: a decree is both olive-day and membership");
  if (d.olive_day) {
    d.client = d.request = 0;
    d.text.clear();
  }
  return e;
}

}  // namespace

bool has_binary_form(Kind k) {
  return k == Kind::BeginBallot || k == Kind::Success || k == Kind::Voted;
}

std::string encode_binary(const Message& m) {
  std::string o;
  size_t text = 0;
  for (const auto& e : m.entries) text += e.decree.text.size() + 32;
  o.reserve(48 + text);
  o += '\0';
  o += static_cast<char>(kLayout);
  o += static_cast<char>(code_of(m.kind) | (from_president(m.kind) ? 0 : kPresidentBit));
  for (int i = 0; i < 4; ++i) o += static_cast<char>((m.to >> (8 * i)) & 0xFF);
  put_varint(o, m.from);
  put_ballot(o, m.ballot);
  put_varint(o, m.decree_no);
  put_varint(o, m.passed_len);
  put_varint(o, m.kind == Kind::Voted ? 0 : m.commit_no);
  put_varint(o, m.kind == Kind::Voted ? m.last_no : 0);
  // A begin ballot has no token: the slot says 1 when the receiver is not in the ballot's
  // quorum (a priest before the field reads 0 there, and so votes).
  put_varint(o, m.kind == Kind::BeginBallot ? (m.quorum ? 0 : 1) : m.token);
  put_varint(o, m.entries.size());
  for (const auto& e : m.entries) {
    const Decree& d = e.decree;
    put_varint(o, e.decree_no);
    put_ballot(o, e.ballot);
    put_varint(o, (d.olive_day ? 1 : 0) | (d.membership ? 2 : 0));
    put_varint(o, d.client);
    put_varint(o, d.request);
    put_ballot(o, d.origin);
    put_varint(o, d.text.size());
    o += d.text;
  }
  return o;
}

Result<Message> decode_binary(std::string_view p) {
  using R = Result<Message>;
  if (p.size() < kBinaryToOffset + 4 || p[0] != '\0')
    return R::failure("binary frame: too short to hold its header");
  if (static_cast<uint8_t>(p[1]) != kLayout)
    return R::failure("binary frame: unknown layout " + std::to_string(uint8_t(p[1])));
  Message m;
  switch (static_cast<uint8_t>(p[2])) {
    case 2: m.kind = Kind::BeginBallot; break;
    case 3: m.kind = Kind::Success; break;
    case 2 | kPresidentBit: m.kind = Kind::Voted; break;
    default: return R::failure("binary frame: unknown kind " + std::to_string(uint8_t(p[2])));
  }
  m.to = 0;
  for (int i = 0; i < 4; ++i) m.to |= PriestId(uint8_t(p[kBinaryToOffset + i])) << (8 * i);
  In in(p.substr(kBinaryToOffset + 4));
  uint64_t count = 0;
  if (!in.id(m.from) || !in.ballot(m.ballot) || !in.varint(m.decree_no) ||
      !in.varint(m.passed_len) || !in.varint(m.commit_no) || !in.varint(m.last_no) ||
      !in.varint(m.token) || !in.varint(count))
    return R::failure("binary frame: its header is cut short or malformed");
  // What the kind does not carry is zero, as its JSON form leaves it.
  if (m.kind != Kind::Voted) m.last_no = 0;
  if (m.kind == Kind::Voted) m.commit_no = 0;
  if (m.kind == Kind::BeginBallot) {
    if (m.token > 1) return R::failure("binary frame: a begin ballot's quorum is not 0 or 1");
    m.quorum = m.token == 0;
    m.token = 0;
  }
  if (count > in.left()) return R::failure("binary frame: more decrees than bytes");
  m.entries.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    auto e = read_entry(in);
    if (!e) return R::failure(e.error());
    m.entries.push_back(std::move(*e));
  }
  if (in.left() != 0) return R::failure("binary frame: bytes after its last decree");
  return m;
}

Result<Message> decode_frame(std::string_view payload) {
  if (!payload.empty() && payload[0] == '\0') return decode_binary(payload);
  return decode_text(payload);
}

}  // namespace parliament
