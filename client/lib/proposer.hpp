// Proposer: passes decrees as one client, retrying each as the same request. The engine
// under parliament::client::Parliament::propose (include/parliament/client.hpp); the tests
// drive it directly with lists of priests. One Proposer per thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "net/rpc.hpp"

namespace parliament {

struct ProposeOutcome {
  bool passed = false;
  uint64_t decree_no = 0;
  Code code = Code::Ok;  // when !passed: why (OutcomeUnknown: it may still pass)
  std::string error;     // when !passed: "no quorum: ..." or "outcome unknown after 5 s: ..."
};

// Proposes decrees as one client: its own random client id, request numbers 1, 2, ...
// Tries the priests in turn, keeps one connection open to the one that answered, and
// retries the same request (same id and number) until it passes, a priest refuses it for
// good (a code that is not retryable: revoked, invalid, superseded), or the deadline.
class Proposer {
 public:
  Proposer(std::vector<PriestAddress> priests, uint64_t client_id);
  ~Proposer();
  ProposeOutcome propose(const std::string& text, Millis deadline);
  uint64_t client_id() const { return client_id_; }

 private:
  std::vector<PriestAddress> priests_;
  uint64_t client_id_;
  uint64_t next_request_ = 1;
  size_t current_ = 0;
  std::unique_ptr<Connection> conn_;
};

}  // namespace parliament
