// A client's two busiest requests, read straight from the frame's text without building a
// JSON tree (docs/PROTOCOL.md "propose", "read"):
//
//   {"type":"propose","client":C,"request":R,"decree":"..."}
//   {"type":"read","from":F,"max":M}          (from and max each optional)
//
// Who calls it: the host's client port, for each frame of an admitted client connection,
// before the general reading. It takes only a frame that is one flat object with exactly
// those keys, each once, of the types the request needs (client and request above zero);
// for anything else (another type, another key, a nested value, a key twice, a number that
// is negative or not whole, text that is not JSON) it returns nullopt, and the caller reads
// the frame the general way, which says what is wrong. So this path never decides anything
// the general one would decide otherwise; it only spares the tree's allocations on the path
// every decree takes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parliament {

struct ClientCall {
  enum class Type { Propose, Read } type = Type::Propose;
  uint64_t client = 0, request = 0;   // propose: both above zero
  std::string decree;                 // propose
  std::optional<uint64_t> from, max;  // read: as sent, if sent
};

std::optional<ClientCall> parse_client_call(std::string_view payload);

}  // namespace parliament
