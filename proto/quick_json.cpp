// See quick_json.hpp: the common subset of JSON read in one pass, or Unsure.
#include "proto/quick_json.hpp"

#include <cstring>
#include <limits>

namespace parliament {

namespace {

using Sax = nlohmann::json_sax<nlohmann::json>;
constexpr std::size_t kUnknownSize = std::numeric_limits<std::size_t>::max();  // as nlohmann's
constexpr int kMaxDepth = 64;

class Quick {
 public:
  Quick(std::string_view s, Sax& sax) : s_(s), sax_(sax) {}

  QuickJson parse() {
    for (;;) {
      Step r = value();
      if (r == Open) continue;  // the container's first value (after its first key) is next
      if (r == Ok) r = after_value();
      if (r == Ok) continue;  // a comma (and the next key): the next value
      return r == End ? QuickJson::Done : r == Stop ? QuickJson::Stopped : QuickJson::Unsure;
    }
  }

 private:
  // Ok: a value is complete (after_value: a comma was read). Open: a container was opened
  // and its first value is next. Stop: a handler said stop. Bail: outside the subset. End: the
  // text is over.
  enum Step { Ok, Open, Stop, Bail, End };

  void ws() {
    while (at_ < s_.size() &&
           (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\r' || s_[at_] == '\t'))
      ++at_;
  }
  bool eat(char c) {
    ws();
    if (at_ >= s_.size() || s_[at_] != c) return false;
    ++at_;
    return true;
  }

  // A value at at_ (after white space); an object or array is opened, with its first key.
  Step value() {
    ws();
    if (at_ >= s_.size()) return Bail;
    const char c = s_[at_];
    if (c == '{' || c == '[') return open(c == '{');
    if (c == '"') {
      if (!string()) return Bail;
      return sax_.string(text_) ? Ok : Stop;
    }
    if (c >= '0' && c <= '9') {
      uint64_t v;
      if (!number(v)) return Bail;
      return sax_.number_unsigned(v) ? Ok : Stop;
    }
    if (literal("true")) return sax_.boolean(true) ? Ok : Stop;
    if (literal("false")) return sax_.boolean(false) ? Ok : Stop;
    if (literal("null")) return sax_.null() ? Ok : Stop;
    return Bail;  // a negative number, or not JSON
  }

  Step open(bool object) {
    ++at_;
    if (depth_ == kMaxDepth) return Bail;
    if (!(object ? sax_.start_object(kUnknownSize) : sax_.start_array(kUnknownSize)))
      return Stop;
    object_[depth_++] = object;
    ws();
    if (at_ < s_.size() && s_[at_] == (object ? '}' : ']')) return close();
    if (!object) return Open;
    Step r = key();
    return r == Ok ? Open : r;
  }

  Step close() {
    ++at_;
    const bool object = object_[--depth_];
    return (object ? sax_.end_object() : sax_.end_array()) ? Ok : Stop;
  }

  // "key": (the value after it is the caller's next)
  Step key() {
    if (!eat('"')) return Bail;
    --at_;
    if (!string()) return Bail;
    if (!sax_.key(text_)) return Stop;
    return eat(':') ? Ok : Bail;
  }

  // After a value: a comma and the next (with its key, in an object), or the end of its
  // containers; End once the outermost value is over and nothing but white space follows.
  Step after_value() {
    for (;;) {
      ws();
      if (depth_ == 0) return at_ == s_.size() ? End : Bail;
      if (at_ >= s_.size()) return Bail;
      const bool object = object_[depth_ - 1];
      const char c = s_[at_];
      if (c == ',') {
        ++at_;
        return object ? key() : Ok;
      }
      if (c != (object ? '}' : ']')) return Bail;
      if (auto r = close(); r != Ok) return r;
    }
  }

  // A string at at_, without control bytes, in well-formed UTF-8, whose escapes (if any) are
  // the two-character ones (\" \\ \/ \b \f \n \r \t): into text_. Runs between escapes are
  // found with memchr and copied whole.
  // Linear in the string's length: the next quote is searched for again only once an escaped
  // quote has used up the one found (a string of escapes alone once cost its length squared).
  bool string() {
    std::size_t i = at_ + 1;
    unsigned char odd = 0, high = 0;  // a control byte; any byte above 0x7F
    text_.clear();
    const char* quote = nullptr;  // the next '"' at or after i, once found
    for (;;) {
      const char* begin = s_.data() + i;
      if (!quote || quote < begin)
        quote = static_cast<const char*>(std::memchr(begin, '"', s_.size() - i));
      if (!quote) return false;
      const auto* escape = static_cast<const char*>(std::memchr(begin, '\\', quote - begin));
      const char* end = escape ? escape : quote;
      for (const char* p = begin; p < end; ++p) {
        const auto b = static_cast<unsigned char>(*p);
        odd |= static_cast<unsigned char>(b < 0x20);
        high |= b;
      }
      text_.append(begin, end);
      i += static_cast<std::size_t>(end - begin) + 1;
      if (!escape) break;
      const char e = i < s_.size() ? s_[i] : 'u';
      const char* from = "\"\\/bfnrt";
      const char* to = "\"\\/\b\f\n\r\t";
      const char* k = std::strchr(from, e);
      if (e == 0 || !k) return false;  // \u, or not an escape
      text_ += to[k - from];
      ++i;
    }
    if (odd || ((high & 0x80) && !valid_utf8(text_))) return false;
    at_ = i;
    return true;
  }

  // Digits without a leading zero (but 0 itself), no fraction, no exponent, within 64 bits.
  bool number(uint64_t& v) {
    const std::size_t from = at_;
    v = 0;
    while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') {
      const uint64_t d = static_cast<uint64_t>(s_[at_] - '0');
      if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
      v = v * 10 + d;
      ++at_;
    }
    if (s_[from] == '0' && at_ - from > 1) return false;
    return at_ == s_.size() || (s_[at_] != '.' && s_[at_] != 'e' && s_[at_] != 'E');
  }

  bool literal(std::string_view word) {
    if (s_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  std::string_view s_;
  Sax& sax_;
  std::size_t at_ = 0;
  int depth_ = 0;
  bool object_[kMaxDepth] = {};  // of each open container: an object (else an array)
  std::string text_;             // the last string read
};

}  // namespace

QuickJson quick_sax_parse(std::string_view text, Sax& sax) { return Quick(text, sax).parse(); }

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  auto cont = [&](std::size_t at, uint8_t lo = 0x80, uint8_t hi = 0xBF) {
    return at < s.size() && uint8_t(s[at]) >= lo && uint8_t(s[at]) <= hi;
  };
  while (i < s.size()) {
    const uint8_t b = uint8_t(s[i]);
    if (b < 0x80) {
      ++i;
    } else if (b >= 0xC2 && b <= 0xDF && cont(i + 1)) {
      i += 2;
    } else if (b >= 0xE0 && b <= 0xEF &&
               cont(i + 1, b == 0xE0 ? 0xA0 : 0x80, b == 0xED ? 0x9F : 0xBF) && cont(i + 2)) {
      i += 3;
    } else if (b >= 0xF0 && b <= 0xF4 &&
               cont(i + 1, b == 0xF0 ? 0x90 : 0x80, b == 0xF4 ? 0x8F : 0xBF) && cont(i + 2) &&
               cont(i + 3)) {
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace parliament
