// The parliament's health judged from a status report (Parliament::health): pure, so the
// unit tests reach every rule. Internal to the client library.
#pragma once

#include "parliament/client.hpp"

namespace parliament::client {

// Healthy: a membership in force was found; every member answered, is bootstrapped, a voter,
// of the incarnation the membership names and not halted; every member follows one
// president; and that president hears a quorum of the members. Otherwise each fault is one
// sentence in `problems`.
Health judge_health(const Report& report);

}  // namespace parliament::client
