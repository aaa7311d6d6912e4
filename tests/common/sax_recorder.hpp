// A SAX handler for tests that writes every event nlohmann's parser (or quick_sax_parse,
// proto/quick_json.hpp) gives it down as text, and says stop at event number `stop_at`
// (0: never): two readings of one text can then be compared event by event.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace parliament::testing {

struct SaxRecorder : nlohmann::json_sax<nlohmann::json> {
  std::vector<std::string> events;
  size_t stop_at = 0;
  bool note(std::string e) {
    events.push_back(std::move(e));
    return events.size() != stop_at;
  }
  bool null() override { return note("null"); }
  bool boolean(bool v) override { return note(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return note("i" + std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return note("u" + std::to_string(v)); }
  bool number_float(number_float_t, const string_t& s) override { return note("f" + s); }
  bool string(string_t& v) override { return note("s:" + v); }
  bool binary(binary_t&) override { return note("binary"); }
  bool start_object(std::size_t n) override { return note("{" + std::to_string(n)); }
  bool end_object() override { return note("}"); }
  bool start_array(std::size_t n) override { return note("[" + std::to_string(n)); }
  bool end_array() override { return note("]"); }
  bool key(string_t& k) override { return note("k:" + k); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return note("error");
  }
};

}  // namespace parliament::testing
