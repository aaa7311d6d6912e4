// LogLimit: at most one log line per key per interval, for the warnings a misbehaving or
// unready peer can trigger again and again (a blank priest is said hello to thousands of
// times a second). The line that is let through says how many were held back before it.
//
// Host-side only (it reads no clock itself: the caller passes steady_clock's now). At most
// max_keys keys are remembered; a new key beyond that forgets the one logged longest ago,
// so a flood of distinct addresses cannot grow it without bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace parliament {

class LogLimit {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogLimit(Clock::duration every = std::chrono::seconds(10), size_t max_keys = 1024)
      : every_(every), max_keys_(max_keys == 0 ? 1 : max_keys) {}

  // nullopt: a line with this key was logged less than `every` ago; hold this one back
  // (it is counted). Otherwise log it, followed by the returned suffix: "" or
  // " (37 more like this in the last 10 s)".
  std::optional<std::string> admit(std::string_view key, Clock::time_point now) {
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      Entry& e = it->second;
      if (now - e.last < every_) {
        ++e.held;
        return std::nullopt;
      }
      std::string suffix;
      if (e.held > 0) {
        auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - e.last).count();
        suffix = " (" + std::to_string(e.held) + " more like this in the last " +
                 std::to_string(secs) + " s)";
      }
      e = Entry{now, 0};
      return suffix;
    }
    if (entries_.size() >= max_keys_) {
      auto oldest = entries_.begin();
      for (auto i = entries_.begin(); i != entries_.end(); ++i)
        if (i->second.last < oldest->second.last) oldest = i;
      entries_.erase(oldest);
    }
    entries_.emplace(std::string(key), Entry{now, 0});
    return std::string();
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Clock::time_point last;  // when a line with this key was last logged
    uint64_t held = 0;       // lines held back since then
  };
  Clock::duration every_;
  size_t max_keys_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace parliament
