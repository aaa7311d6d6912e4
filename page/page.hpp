// The live page (page/www/parliament.html, built into the programs): served at / by every
// priest's HTTP port (server/http.hpp) and by `paxos-client console`, and written with a past
// run's events by `paxos-client timeline`.
#pragma once

#include <string>
#include <string_view>

namespace parliament {

std::string_view parliament_page();

// The page with `events_json` (a JSON array of events, as /events and events.jsonl hold them)
// built in: it then draws that recorded run instead of polling.
std::string recorded_page(const std::string& events_json);

}  // namespace parliament
