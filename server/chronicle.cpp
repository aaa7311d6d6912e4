#include "server/chronicle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace parliament {

namespace {
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Chronicle::Chronicle(std::string dir, PriestId id) : dir_(std::move(dir)), id_(id) {
  char run[17];
  std::snprintf(
      run, sizeof run, "%016llx",
      static_cast<unsigned long long>(std::random_device{}()) << 32 | std::random_device{}());
  run_ = run;
  std::string path = dir_ + "/events.jsonl";
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct stat st {};
  if (fd_ < 0)
    spdlog::warn("cannot open {}: {}; the ballot events are kept in memory only", path,
                 std::strerror(errno));
  else if (::fstat(fd_, &st) == 0) file_bytes_ = static_cast<size_t>(st.st_size);
}

Chronicle::~Chronicle() {
  write_out();
  if (fd_ >= 0) ::close(fd_);
}

void Chronicle::add(const Event& e) { added_.push_back(Stamped{e, "", now_ms()}); }

void Chronicle::add(std::string_view kind, const std::string& why) {
  Event e{};
  e.why = why;
  added_.push_back(Stamped{std::move(e), std::string(kind), now_ms()});
}

// One event as a JSON object. Written by hand (numbers, names of kinds and ballots, which
// need no escaping), with only the reason through the JSON library: this runs for every
// event of a busy priest.
void Chronicle::format() {
  using K = Event::Kind;
  for (auto& s : added_) {
    const Event& e = s.event;
    size_t start = pending_.size();
    fmt::format_to(
        std::back_inserter(pending_), "{{\"seq\":{},\"t\":{},\"priest\":{},\"kind\":\"{}\"",
        next_seq_++, s.t_ms, id_,
        s.host_kind.empty() ? std::string_view(name_of(e.kind)) : std::string_view(s.host_kind));
    if (s.host_kind.empty()) {
      if (!e.ballot.is_zero())
        fmt::format_to(std::back_inserter(pending_), ",\"ballot\":\"{}.{}\"", e.ballot.round,
                       e.ballot.priest);
      if (e.kind == K::Begin || e.kind == K::VoteYes || e.kind == K::Passed)
        fmt::format_to(std::back_inserter(pending_), ",\"from\":{},\"to\":{}", e.from_no,
                       e.upto_no);
      if (e.peer) fmt::format_to(std::back_inserter(pending_), ",\"peer\":{}", e.peer);
    }
    if (!e.why.empty())
      pending_ += ",\"why\":" + nlohmann::json(e.why).dump(
                                    -1, ' ', false, nlohmann::json::error_handler_t::replace);
    pending_ += '}';
    ring_.emplace_back(pending_, start, std::string::npos);
    pending_ += '\n';
    if (ring_.size() > kRingEvents) ring_.pop_front();
  }
  added_.clear();
}

void Chronicle::write_out() {
  format();
  if (pending_.empty()) return;
  std::string out = std::move(pending_);
  pending_.clear();
  if (fd_ < 0) return;
  if (file_bytes_ + out.size() > kFileBytes && file_bytes_ > 0) {
    std::string path = dir_ + "/events.jsonl";
    ::close(fd_);
    fd_ = -1;
    if (::rename(path.c_str(), (path + ".1").c_str()) == 0)
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    file_bytes_ = 0;
    if (fd_ < 0) {
      spdlog::warn("cannot rotate {}: {}; the ballot events are kept in memory only", path,
                   std::strerror(errno));
      return;
    }
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      spdlog::warn("cannot write {}/events.jsonl: {}; the ballot events are kept in memory only",
                   dir_, std::strerror(errno));
      ::close(fd_);
      fd_ = -1;
      return;
    }
    done += static_cast<size_t>(n);
  }
  file_bytes_ += out.size();
}

std::string Chronicle::since(uint64_t since, size_t max) {
  format();
  uint64_t first = next_seq_ - ring_.size();
  uint64_t from = std::min(std::max(since, first), next_seq_);
  if (next_seq_ - from > max) from = next_seq_ - max;  // the newest `max`
  std::string out = "{\"priest\":" + std::to_string(id_) + ",\"run\":\"" + run_ +
                    "\",\"next\":" + std::to_string(next_seq_) + ",\"events\":[";
  for (uint64_t s = from; s < next_seq_; ++s) {
    if (s != from) out += ',';
    out += ring_[s - first];
  }
  out += "]}";
  return out;
}

}  // namespace parliament
