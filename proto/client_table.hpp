// ClientTable: exactly once. For each client, the last of its requests that passed and the
// decree number it passed at, rebuilt from the ledger at start (Restored::clients) and kept
// as decrees pass (Priest::apply_passed). A request at or below a client's last passed one
// never passes again: a retry of the last is answered with its first number, an older one is
// superseded, and a repeat that reached the ledger anyway (two presidents each proposed it)
// is recorded as olive-day.
//
// Owned by the Priest; pure. The same at every priest, since it follows the ledger.
#pragma once

#include <cstdint>
#include <unordered_map>

namespace parliament {

struct ClientRecord {
  uint64_t request = 0;
  uint64_t decree_no = 0;
};

class ClientTable {
 public:
  explicit ClientTable(std::unordered_map<uint64_t, ClientRecord> records = {})
      : records_(std::move(records)) {}

  enum class Seen {
    New,         // above the client's last passed request
    Passed,      // its last passed request, at decree_no
    Superseded,  // below it: the client has moved on
  };
  struct Lookup {
    Seen seen = Seen::New;
    uint64_t decree_no = 0;     // Passed: where it passed
    uint64_t last_request = 0;  // the client's last passed request
  };

  // What request `request` of `client` is, before it is queued.
  Lookup lookup(uint64_t client, uint64_t request) const;
  // Request `request` of `client` passed at decree n: recorded if New; otherwise a repeat
  // (the ledger keeps the first, this one becomes olive-day).
  Lookup passed(uint64_t client, uint64_t request, uint64_t n);

  const std::unordered_map<uint64_t, ClientRecord>& records() const { return records_; }

 private:
  std::unordered_map<uint64_t, ClientRecord> records_;
};

}  // namespace parliament
