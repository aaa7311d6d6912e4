// Chronicle: a priest's ballot events (proto/priest.hpp, Event) stamped with the time, for
// people: the newest kRingEvents in memory (served at /events, server/http.hpp), and every
// one appended to events.jsonl in the data directory, one JSON object per line, which
// `paxos-client timeline` draws after the run. At kFileBytes the file is renamed to
// events.jsonl.1 (replacing the one before), so the two take at most 2 x kFileBytes.
//
// Nothing relies on the chronicle: the file is written without fsync, once per tick, and a
// write that fails is logged once and ends the file's part (the ring goes on). The ledger and
// votes never wait for it. add() only stamps and keeps the event; it becomes JSON in
// write_out() (each tick, after the priest's messages are out) or when since() is asked, so
// the priest's path from a message in to its answer out pays no formatting. I/O thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "proto/priest.hpp"

namespace parliament {

class Chronicle {
 public:
  static constexpr size_t kRingEvents = 4096;
  static constexpr size_t kFileBytes = 8 << 20;

  Chronicle(std::string dir, PriestId id);
  ~Chronicle();
  Chronicle(const Chronicle&) = delete;
  Chronicle& operator=(const Chronicle&) = delete;

  void add(const Event& e);
  // The host's own events: "started", "halted" (with why).
  void add(std::string_view kind, const std::string& why = "");
  // Appends to events.jsonl what was added since the last call.
  void write_out();
  // {"priest", "run", "next", "events": [...]}: the events numbered `since` and above that the
  // ring still holds, at most `max` (the oldest of them first). "run" is drawn at start: a
  // reader that sees it change starts again from 0.
  std::string since(uint64_t since, size_t max);

 private:
  struct Stamped {
    Event event;
    std::string host_kind;  // a host event ("started", "halted"): its kind, `event.why` its reason
    int64_t t_ms;
  };
  void format();  // the events added since, as JSON lines: into the ring and pending_
  std::vector<Stamped> added_;
  std::string dir_;
  PriestId id_;
  std::string run_;
  uint64_t next_seq_ = 1;
  std::deque<std::string> ring_;  // JSON objects, numbered next_seq_ - size() ..
  std::string pending_;           // lines not yet written to the file
  int fd_ = -1;
  size_t file_bytes_ = 0;
};

}  // namespace parliament
