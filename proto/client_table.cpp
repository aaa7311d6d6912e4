// ClientTable: exactly once (proto/client_table.hpp).
#include "proto/client_table.hpp"

namespace parliament {

ClientTable::Lookup ClientTable::lookup(uint64_t client, uint64_t request) const {
  auto it = records_.find(client);
  if (it == records_.end() || request > it->second.request) return {};
  const ClientRecord& r = it->second;
  if (request == r.request) return {Seen::Passed, r.decree_no, r.request};
  return {Seen::Superseded, 0, r.request};
}

ClientTable::Lookup ClientTable::passed(uint64_t client, uint64_t request, uint64_t n) {
  Lookup seen = lookup(client, request);
  if (seen.seen == Seen::New) records_[client] = ClientRecord{request, n};
  return seen;
}

}  // namespace parliament
