// Parliament::Impl: what one open Parliament holds (include/parliament/client.hpp), shared by
// the files that implement its calls. Internal to the client library.
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/lib/proposer.hpp"
#include "parliament/client.hpp"
#include "proto/config.hpp"

namespace parliament::client {

struct Parliament::Impl {
  Options options;
  Config config;
  uint64_t client_id = 0;
  std::unique_ptr<Proposer> proposer;  // made at the first propose

  // The priests to talk to: the members in force if any priest says, else the configuration's.
  std::vector<PriestAddress> priests() const;
};

// A ledger entry as the priests send it (docs/PROTOCOL.md, "ledger"); nullopt if malformed.
std::optional<Decree> decree_of(const nlohmann::json& d);

// A sentence and code for a reply that is not what was asked for.
Status refusal_of(PriestId id, const nlohmann::json& reply);

}  // namespace parliament::client
