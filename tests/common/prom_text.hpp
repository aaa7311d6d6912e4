// A strict reader of Prometheus' text exposition format (version 0.0.4), for the tests: it
// checks what promtool's `check metrics` checks that matters here (every sample belongs to a
// family declared by one HELP and one TYPE line before it, names and labels well formed,
// values numbers, counters named ..._total, histogram buckets cumulative and ending in +Inf
// with _count equal to it) and returns the samples, keyed "name{labels}" as written.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "proto/result.hpp"

namespace prom {

struct Samples {
  std::map<std::string, double> values;   // "name{labels}" (or "name") -> value
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram, ...
  double at(const std::string& key) const {
    auto it = values.find(key);
    return it == values.end() ? std::nan("") : it->second;
  }
};

inline parliament::Result<Samples> parse(const std::string& text) {
  using R = parliament::Result<Samples>;
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (\S+))");
  Samples out;
  std::set<std::string> helped;
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  std::map<std::string, double> last_bucket;
  while (std::getline(in, line)) {
    ++n;
    std::string at = "line " + std::to_string(n) + " \"" + line + "\": ";
    std::smatch m;
    if (line.empty()) return R::failure(at + "empty line");
    if (line.rfind("# HELP", 0) == 0) {
      if (!std::regex_match(line, m, help)) return R::failure(at + "malformed HELP");
      if (!helped.insert(m[1]).second) return R::failure(at + "second HELP for the family");
      continue;
    }
    if (line.rfind("# TYPE", 0) == 0) {
      if (!std::regex_match(line, m, type)) return R::failure(at + "malformed TYPE");
      if (out.types.count(m[1])) return R::failure(at + "second TYPE for the family");
      if (!helped.count(m[1])) return R::failure(at + "TYPE before HELP");
      std::string family = m[1];
      if (m[2] == "counter" && (family.size() < 6 || family.substr(family.size() - 6) != "_total"))
        return R::failure(at + "a counter's name must end in _total");
      out.types[m[1]] = m[2];
      continue;
    }
    if (line[0] == '#') continue;
    if (!std::regex_match(line, m, sample)) return R::failure(at + "malformed sample");
    std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s = suffix;
      if (name.size() > s.size() && name.substr(name.size() - s.size()) == s &&
          out.types.count(name.substr(0, name.size() - s.size())) &&
          out.types[name.substr(0, name.size() - s.size())] == "histogram")
        family = name.substr(0, name.size() - s.size());
    }
    if (!out.types.count(family)) return R::failure(at + "sample of a family with no TYPE before it");
    std::string v = m[5];
    char* end = nullptr;
    double value = v == "+Inf" ? INFINITY : v == "-Inf" ? -INFINITY : std::strtod(v.c_str(), &end);
    if (v != "+Inf" && v != "-Inf" && v != "NaN" && (!end || *end)) return R::failure(at + "value is not a number");
    std::string key = name + std::string(m[2]);
    if (out.values.count(key)) return R::failure(at + "the same sample twice");
    out.values[key] = value;
    if (family != name && name.substr(family.size()) == "_bucket") {
      if (last_bucket.count(family) && value < last_bucket[family])
        return R::failure(at + "histogram buckets must be cumulative");
      last_bucket[family] = value;
    }
  }
  for (auto& [family, kind] : out.types) {
    if (kind != "histogram") continue;
    double inf = out.at(family + "_bucket{le=\"+Inf\"}");
    if (std::isnan(inf)) return parliament::Result<Samples>::failure(family + ": no +Inf bucket");
    if (out.at(family + "_count") != inf) return parliament::Result<Samples>::failure(family + ": _count differs from the +Inf bucket");
  }
  return out;
}

}  // namespace prom
