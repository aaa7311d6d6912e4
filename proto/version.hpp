// The versions a priest speaks and writes, which say which programs may mix (docs/OPERATIONS.md
// "Upgrades"):
//   - the wire version, carried in every hello between priests: a priest links only with
//     priests whose wire version it accepts (kOldestWireVersion..kWireVersion); a hello without
//     one is from a priest older than the field, which speaks wire version 1;
//   - the data format, in each data directory's file "format": a priest opens only a
//     directory whose format it reads (kOldestDataFormat..kDataFormat); a directory without
//     the file was written before it, in format 1.
// Pure: the numbers and the sentences that refuse.
#pragma once

#include <cstdint>
#include <string>

namespace parliament {

inline constexpr uint64_t kWireVersion = 1;
inline constexpr uint64_t kOldestWireVersion = 1;
inline constexpr uint64_t kDataFormat = 1;
inline constexpr uint64_t kOldestDataFormat = 1;

// "" if a peer speaking wire version `v` may link with this priest, else the one sentence that
// refuses it.
inline std::string wire_version_refusal(uint64_t v) {
  if (v >= kOldestWireVersion && v <= kWireVersion) return "";
  return "it speaks wire version " + std::to_string(v) + ", and this priest speaks versions " +
         std::to_string(kOldestWireVersion) + " to " + std::to_string(kWireVersion) +
         ": run programs whose wire versions overlap (upgrade one priest at a time)";
}

}  // namespace parliament
