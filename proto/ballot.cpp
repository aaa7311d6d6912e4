#include "proto/ballot.hpp"

#include <charconv>

namespace parliament {

std::string to_string(const Ballot& b) {
  return std::to_string(b.round) + "." + std::to_string(b.priest);
}

std::optional<Ballot> parse_ballot(std::string_view text) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  Ballot b;
  auto r = std::from_chars(text.data(), text.data() + dot, b.round);
  if (r.ec != std::errc() || r.ptr != text.data() + dot || dot == 0) return std::nullopt;
  auto p = std::from_chars(text.data() + dot + 1, text.data() + text.size(), b.priest);
  if (p.ec != std::errc() || p.ptr != text.data() + text.size() || dot + 1 == text.size())
    return std::nullopt;
  return b;
}

}  // namespace parliament
