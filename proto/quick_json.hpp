// A quick reading of the JSON that frames usually hold, feeding the same SAX handler that
// nlohmann::json::sax_parse would, with the same events in the same order.
//
// nlohmann's lexer takes a string one byte at a time (about 120 MB/s here): a client's
// proposal of 16 KiB cost the president 140 µs of its I/O thread before anything else, and a
// flood of them held its heartbeats back long enough to lose an election. This reader finds
// a string's end with memchr and copies it whole; it takes only a common subset of JSON:
// objects, arrays, true, false, null, unsigned integers without fraction or exponent, and
// strings without control bytes or \u escapes, in well-formed UTF-8, nested at most 64 deep.
// At anything else it stops and says Unsure: the caller then parses the whole text again with
// nlohmann's parser and a fresh handler, which decides as it always did. So the reading of a
// text never depends on which of the two parsed it.
//
// Pure: anyone may call it.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace parliament {

enum class QuickJson {
  Done,     // the whole text was read; every handler call returned true
  Stopped,  // a handler call returned false (as nlohmann's parser would stop there too)
  Unsure,   // the text holds something outside the subset: parse it again with nlohmann's
};

QuickJson quick_sax_parse(std::string_view text, nlohmann::json_sax<nlohmann::json>& sax);

// Parses `text` into `handler` (quickly when it can, else with nlohmann's parser and a fresh
// Handler{}): what nlohmann::json::sax_parse(text, &handler) returns and leaves in it.
template <class Handler>
bool sax_parse(std::string_view text, Handler& handler) {
  switch (quick_sax_parse(text, handler)) {
    case QuickJson::Done: return true;
    case QuickJson::Stopped: return false;
    case QuickJson::Unsure: break;
  }
  handler = Handler{};
  return nlohmann::json::sax_parse(text.begin(), text.end(), &handler);
}

// Well-formed UTF-8 (Unicode's table 3-7: no overlong forms, no surrogates, nothing above
// U+10FFFF), as nlohmann's parser demands of every string.
bool valid_utf8(std::string_view s);

}  // namespace parliament
