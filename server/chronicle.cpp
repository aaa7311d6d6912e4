#include "server/chronicle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace parliament {

namespace {
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Chronicle::Chronicle(std::string dir, PriestId id) : dir_(std::move(dir)), id_(id) {
  char run[17];
  std::snprintf(run, sizeof run, "%016llx", static_cast<unsigned long long>(std::random_device{}()) << 32 |
                                                std::random_device{}());
  run_ = run;
  std::string path = dir_ + "/events.jsonl";
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct stat st {};
  if (fd_ < 0) spdlog::warn("cannot open {}: {}; the ballot events are kept in memory only", path, std::strerror(errno));
  else if (::fstat(fd_, &st) == 0) file_bytes_ = static_cast<size_t>(st.st_size);
}

Chronicle::~Chronicle() {
  write_out();
  if (fd_ >= 0) ::close(fd_);
}

void Chronicle::push(std::string line) {
  ring_.push_back(line);
  if (ring_.size() > kRingEvents) ring_.pop_front();
  pending_ += line;
  pending_ += '\n';
}

void Chronicle::add(const Event& e) {
  using K = Event::Kind;
  nlohmann::json j{{"seq", next_seq_++}, {"t", now_ms()}, {"priest", id_}, {"kind", name_of(e.kind)}};
  if (!e.ballot.is_zero()) j["ballot"] = to_string(e.ballot);
  if (e.kind == K::Begin || e.kind == K::VoteYes || e.kind == K::Passed) {
    j["from"] = e.from_no;
    j["to"] = e.upto_no;
  }
  if (e.peer) j["peer"] = e.peer;
  if (!e.why.empty()) j["why"] = e.why;
  push(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Chronicle::add(std::string_view kind, const std::string& why) {
  nlohmann::json j{{"seq", next_seq_++}, {"t", now_ms()}, {"priest", id_}, {"kind", kind}};
  if (!why.empty()) j["why"] = why;
  push(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Chronicle::write_out() {
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
      spdlog::warn("cannot rotate {}: {}; the ballot events are kept in memory only", path, std::strerror(errno));
      return;
    }
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      spdlog::warn("cannot write {}/events.jsonl: {}; the ballot events are kept in memory only", dir_,
                   std::strerror(errno));
      ::close(fd_);
      fd_ = -1;
      return;
    }
    done += static_cast<size_t>(n);
  }
  file_bytes_ += out.size();
}

std::string Chronicle::since(uint64_t since, size_t max) const {
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
