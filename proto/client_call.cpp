// See client_call.hpp: propose and read frames from SAX events, or nullopt.
#include "proto/client_call.hpp"

#include "proto/quick_json.hpp"

namespace parliament {

namespace {

// Gives up (returns false, which ends the parse) at the first thing the fast path does not
// take; the caller then reads the frame the general way.
class CallReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  ClientCall call;
  std::string type;

  bool null() override { return false; }
  bool boolean(bool) override { return false; }
  bool number_integer(number_integer_t) override { return false; }  // (negative)
  bool number_float(number_float_t, const string_t&) override { return false; }
  bool binary(binary_t&) override { return false; }
  bool start_array(std::size_t) override { return false; }
  bool end_array() override { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
  bool start_object(std::size_t) override { return depth_++ == 0; }
  bool end_object() override { return --depth_ == 0; }
  bool key(string_t& k) override {
    key_ = k == "type"      ? kType
           : k == "client"  ? kClient
           : k == "request" ? kRequest
           : k == "decree"  ? kDecree
           : k == "from"    ? kFrom
           : k == "max"     ? kMax
                            : 0;
    if (!key_ || (seen_ & key_)) return false;  // unknown, or twice
    seen_ |= key_;
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    switch (key_) {
      case kClient: call.client = v; return true;
      case kRequest: call.request = v; return true;
      case kFrom: call.from = v; return true;
      case kMax: call.max = v; return true;
      default: return false;
    }
  }
  bool string(string_t& v) override {
    if (key_ == kType) return type = std::move(v), true;
    if (key_ == kDecree) return call.decree = std::move(v), true;
    return false;
  }

  // Whether what was seen is exactly one of the two requests.
  bool complete() {
    if (type == "propose" && seen_ == (kType | kClient | kRequest | kDecree))
      return call.type = ClientCall::Type::Propose, call.client > 0 && call.request > 0;
    if (type == "read" && (seen_ & ~(kFrom | kMax)) == kType)
      return call.type = ClientCall::Type::Read, true;
    return false;
  }

 private:
  static constexpr unsigned kType = 1, kClient = 2, kRequest = 4, kDecree = 8, kFrom = 16,
                            kMax = 32;
  int depth_ = 0;
  unsigned key_ = 0, seen_ = 0;
};

}  // namespace

std::optional<ClientCall> parse_client_call(std::string_view payload) {
  if (payload.empty() || payload.front() != '{') return std::nullopt;
  CallReader r;
  if (!sax_parse(payload, r) || !r.complete()) return std::nullopt;
  return std::move(r.call);
}

}  // namespace parliament
