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

// One priest's health, as etcdctl's endpoint health judges one endpoint: priest `id` is a
// member, answered, is bootstrapped, a voter, of the named incarnation and not halted; it
// follows a president; that president answered, says it is president, hears this priest and
// hears a quorum.
// `members` holds just `id`. (A container's healthcheck: it fails only for the priest that
// is cut off, not for every priest while one is down.)
Health judge_priest_health(const Report& report, uint64_t id);

}  // namespace parliament::client
