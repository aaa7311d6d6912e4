// Framing: every frame on the wire is a 4-byte big-endian length, then that many bytes of
// one JSON object. The length is checked against the limit before anything is allocated.
//
// FrameDecoder is fed whatever bytes arrived (one at a time is fine) and yields whole
// frames. Once it reports an error the connection is to be closed; the decoder stays failed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace parliament {

inline constexpr size_t kDefaultMaxFrameBytes = 4 * 1024 * 1024;

// Appends the frame for `payload` to `out`.
void append_frame(std::string& out, std::string_view payload);
std::string frame(const nlohmann::json& j);

class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame_bytes = kDefaultMaxFrameBytes) : max_(max_frame_bytes) {}

  // Takes bytes from the wire. Returns false (and sets error()) if the stream is bad.
  bool feed(std::string_view bytes);
  // The next complete payload, if any.
  std::optional<std::string> next();
  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }
  // Bytes of a frame begun but not complete (a half-written frame).
  size_t pending_bytes() const { return buf_.size() - pos_; }

 private:
  size_t max_;
  std::string buf_;
  size_t pos_ = 0;
  std::string error_;
};

// Parses a payload without exceptions; nullopt if it is not a JSON object, or if it nests
// arrays and objects deeper than kMaxNesting (no frame of ours nests more than a few levels;
// four MiB of "[" would cost hundreds of MiB as a parsed tree).
constexpr size_t kMaxNesting = 32;
std::optional<nlohmann::json> parse_object(std::string_view payload);

}  // namespace parliament
