// Waiter: who waits for the answer to a request a priest holds: a client of this priest
// (origin = this priest) or of the priest that forwarded the request, under that priest's
// token. The Priest and its parts (ReadIndex, Proposals, ChangeUnderWay) keep them; pure.
#pragma once

#include <cstdint>

#include "proto/ballot.hpp"

namespace parliament {

struct Waiter {
  PriestId origin;
  uint64_t token;
};

}  // namespace parliament
