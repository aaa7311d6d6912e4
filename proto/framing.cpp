#include "proto/framing.hpp"

namespace parliament {

void append_frame(std::string& out, std::string_view payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  char hdr[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                 static_cast<char>(n)};
  out.append(hdr, 4);
  out.append(payload);
}

std::string frame(const nlohmann::json& j) {
  std::string out;
  append_frame(out, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return out;
}

bool FrameDecoder::feed(std::string_view bytes) {
  if (failed()) return false;
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  buf_.append(bytes);
  // Check the length of the frame at the head as soon as its header is complete.
  if (buf_.size() - pos_ >= 4) {
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
    uint32_t n = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
    if (n == 0 || n > max_) {
      error_ = "frame of " + std::to_string(n) + " bytes (limit " + std::to_string(max_) + ")";
      return false;
    }
  }
  return true;
}

std::optional<std::string> FrameDecoder::next() {
  if (failed() || buf_.size() - pos_ < 4) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  uint32_t n = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
  if (n == 0 || n > max_) {
    error_ = "frame of " + std::to_string(n) + " bytes (limit " + std::to_string(max_) + ")";
    return std::nullopt;
  }
  if (buf_.size() - pos_ - 4 < n) return std::nullopt;
  std::string payload = buf_.substr(pos_ + 4, n);
  pos_ += 4 + n;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 20)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  // Validate the following header early too, so an absurd length fails before buffering.
  if (buf_.size() - pos_ >= 4) feed({});
  return payload;
}

namespace {

// Whether `text` opens arrays and objects (outside strings) more than `limit` deep.
bool nests_deeper(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace

std::optional<nlohmann::json> parse_object(std::string_view payload) {
  if (nests_deeper(payload, kMaxNesting)) return std::nullopt;
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace parliament
