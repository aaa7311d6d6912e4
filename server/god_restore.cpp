// paxos-god restore and recover: a new parliament whose ledgers begin as a snapshot's, made
// offline in the priests' data directories (see god.hpp).
//
// Each priest of the configuration gets a blank data directory holding: its incarnation
// (drawn as a priest draws it), the snapshot's decrees as its ledger.csv (fdatasynced), an
// empty votes.csv, the parliament id, and last membership.json, which makes it a member
// from the start: the configuration's priests with those incarnations and their
// certificates' keys, in force from the snapshot's last decree, keeping the old parliament's
// revoked clients and retiring every life it named or retired. Everything that can be
// refused (the certificates, a retired key) is decided first (plan_parliament), before
// anything is written or moved (write_parliament). No ballot has been held in the new
// parliament, so no promise or vote is lost by beginning it this way; its first president
// passes decree upto+1.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>

#include "net/snapshot.hpp"
#include "net/tls.hpp"
#include "server/god.hpp"
#include "server/storage.hpp"

namespace parliament::god {

namespace fs = std::filesystem;

namespace {

std::string dir_of(const std::string& data_dir, PriestId id) {
  return (fs::path(data_dir) / ("priest-" + std::to_string(id))).string();
}

// Every data directory the new parliament will use must be absent or empty.
Status blank_dirs(const Config& config, const std::string& data_dir) {
  for (const auto& p : config.priests) {
    std::error_code ec;
    auto dir = dir_of(data_dir, p.id);
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
      return Status::failure(dir + " is not empty: a restore writes only blank data directories "
                                   "(move it away first)");
  }
  return ok_status();
}

// What a new parliament keeps of the old: the revoked clients, and as retired lives every
// life the old parliament retired or named (by id and incarnation, without its key, so that
// the same certificates may serve the new priests): no priest of the old parliament, still
// running or started again on its old directory, speaks in the new one.
Membership carried_over(const std::vector<Membership>& old) {
  Membership m;
  auto retire = [&](PriestAddress life) {
    auto same = [&](const PriestAddress& r) {
      return r.id == life.id && r.incarnation == life.incarnation && r.key == life.key;
    };
    if (std::none_of(m.retired.begin(), m.retired.end(), same)) m.retired.push_back(life);
  };
  for (const auto& o : old) {
    m.revoked.insert(m.revoked.end(), o.revoked.begin(), o.revoked.end());
    for (const auto& r : o.retired) retire(r);
    for (const auto& p : o.priests) retire(PriestAddress{p.id, "", 0, "", p.incarnation});
  }
  std::sort(m.revoked.begin(), m.revoked.end());
  m.revoked.erase(std::unique(m.revoked.begin(), m.revoked.end()), m.revoked.end());
  return m;
}

// The new membership without its incarnations yet: `config`'s priests with their
// certificates' keys, in force from decree `upto`, carrying `kept` over; refused if a key is
// one the old parliament retired.
Result<Membership> new_membership(const Config& config, const std::string& certs,
                                  const std::string& config_file, uint64_t upto,
                                  Membership kept) {
  using R = Result<Membership>;
  kept.decree_no = upto;
  for (PriestAddress p : config.priests) {
    if (config.tls) {
      const std::string crt = certs + "/priest-" + std::to_string(p.id) + ".crt";
      auto key = tls::certificate_key(crt);
      if (!key) return R::failure(key.error());
      if (const PriestAddress* r = kept.retired_key(*key))
        return R::failure(crt + " has the key the old parliament retired with priest " +
                          std::to_string(r->id) + "'s incarnation " +
                          incarnation_text(r->incarnation) + ": make it a new key (paxos-god "
                          "--config " + config_file + " certs --priest " +
                          std::to_string(p.id) + " --new-key) and run this again");
      p.key = *key;
    }
    kept.priests.push_back(p);
  }
  return kept;
}

// One priest's directory up to its membership: incarnation, ledger, votes.
Result<uint64_t> write_records(const std::string& dir, const Snapshot& s) {
  using R = Result<uint64_t>;
  if (auto e = ensure_dir(dir); !e) return R::failure(e.error());
  auto incarnation = load_or_create_incarnation(dir);
  if (!incarnation) return incarnation;
  VoteLog::Loaded loaded;
  auto votes = VoteLog::open(dir + "/votes.csv", loaded);
  if (!votes) return R::failure(votes.error());
  auto ledger = LedgerFile::open(dir + "/ledger.csv", 0, [](const Entry&) {});
  if (!ledger) return R::failure(ledger.error());
  constexpr size_t kBatch = 1000;
  for (size_t at = 0; at < s.decrees.size(); at += kBatch) {
    std::vector<Entry> batch(s.decrees.begin() + at,
                             s.decrees.begin() + std::min(s.decrees.size(), at + kBatch));
    if (auto e = (*ledger)->append(batch); !e) return R::failure(e.error());
  }
  if (auto e = (*ledger)->sync(); !e) return R::failure(e.error());
  return incarnation;
}

// What a new parliament will be, decided before anything is written: its membership (without
// its incarnations yet) and the parliament id its directories record ("" without TLS).
struct Plan {
  Membership membership;
  std::string parliament;
};

Result<Plan> plan_parliament(const Config& config, const NewParliament& n, const Snapshot& s,
                             const std::vector<Membership>& old) {
  using R = Result<Plan>;
  Plan plan;
  if (auto rule = follows_exactly_once(s, config.max_decree_bytes); !rule)
    return R::failure(rule.error());
  if (config.tls) {
    auto id = tls::parliament_id(n.certs + "/ca.crt");
    if (!id) return R::failure(id.error());
    plan.parliament = *id;
    if (s.parliament == plan.parliament)
      spdlog::warn("god: these certificates are those of the parliament the ledger comes from "
                   "({}): its old lives are refused by the new one, but a priest of the old one "
                   "still running would take the new priests' messages. Stop every old priest "
                   "for good before starting these", plan.parliament);
  }
  auto last = last_membership_decree(s);
  if (!last) return R::failure("the ledger's " + last.error());
  std::vector<Membership> sources = old;
  if (*last) sources.push_back(**last);
  auto m = new_membership(config, n.certs, n.config_file, s.upto, carried_over(sources));
  if (!m) return R::failure(m.error());
  plan.membership = std::move(*m);
  return plan;
}

// The directories of `plan`, each of which must be absent or empty.
Status write_parliament(const Config& config, const NewParliament& n, const Snapshot& s,
                        Plan plan) {
  if (auto b = blank_dirs(config, n.data_dir); !b) return b;
  for (auto& p : plan.membership.priests) {
    const std::string dir = dir_of(n.data_dir, p.id);
    auto life = write_records(dir, s);
    if (!life) return Status::failure(dir + ": " + life.error());
    p.incarnation = *life;
  }
  for (const auto& p : config.priests) {
    const std::string dir = dir_of(n.data_dir, p.id);
    if (!plan.parliament.empty())
      if (auto e = save_parliament_id(dir, plan.parliament); !e) return e;
    if (auto e = save_membership(dir, plan.membership); !e) return e;
  }
  return ok_status();
}

}  // namespace

int restore(const Config& config, const NewParliament& n, const std::string& from) {
  std::ifstream in(from, std::ios::binary);
  if (!in) {
    spdlog::error("god: cannot read {}: {}", from, std::strerror(errno));
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto s = parse_snapshot(text.str(), from);
  if (!s) {
    spdlog::error("god: {}", s.error());
    return 2;
  }
  std::vector<Membership> old;
  if (!s->membership.is_null()) {
    auto m = parse_membership(s->membership, from + ": membership");
    if (!m) {
      spdlog::error("god: {}", m.error());
      return 2;
    }
    old.push_back(*m);
  }
  auto plan = plan_parliament(config, n, *s, old);
  auto written = plan ? write_parliament(config, n, *s, std::move(*plan))
                      : Status::failure(plan.error());
  if (!written) {
    spdlog::error("god: restore: {}", written.error());
    return 2;
  }
  std::printf("restored: priests %s each begin with decrees 1 to %llu of %s (taken %s) in %s; "
              "start them (paxos-god up, or each paxos-priest): no bootstrap is needed\n",
              id_list(config.ids()).c_str(), static_cast<unsigned long long>(s->upto),
              from.c_str(), s->taken_at.c_str(), n.data_dir.c_str());
  return 0;
}

namespace {

// The decrees of `dir`'s ledger.csv, read from a copy in a directory of its own (a torn tail
// is cut from the copy, not from the priest's own file); an error if absent or corrupt.
Result<std::vector<Entry>> surviving_ledger(const std::string& dir) {
  using R = Result<std::vector<Entry>>;
  std::error_code ec;
  if (!fs::exists(dir + "/ledger.csv", ec)) return R::failure("no ledger.csv");
  std::string where = (fs::temp_directory_path() / "paxos-god-recover-XXXXXX").string();
  if (!::mkdtemp(where.data())) return R::failure("cannot make a temporary directory");
  fs::copy_file(dir + "/ledger.csv", fs::path(where) / "ledger.csv", ec);
  std::vector<Entry> entries;
  std::string error;
  if (ec)
    error = "cannot copy ledger.csv: " + ec.message();
  else if (auto l = LedgerFile::open(where + "/ledger.csv", 0,
                                     [&](const Entry& e) { entries.push_back(e); });
           !l)
    error = l.error();
  fs::remove_all(where, ec);
  if (!error.empty()) return R::failure(error);
  return entries;
}

// The locks of every data directory of `config` that has one, held until destroyed: no
// priest starts on them meanwhile, and one running refuses the recovery.
struct HeldLocks {
  std::vector<int> fds;
  ~HeldLocks() {
    for (int fd : fds) ::close(fd);
  }
};

// A priest of `config` that answers: recovery is for a stopped parliament only.
std::optional<PriestId> one_running(const Config& config) {
  for (const auto& p : config.priests)
    if (call_priest(p, nlohmann::json{{"type", "status"}}, Millis(500))) return p.id;
  return std::nullopt;
}

// Every existing data directory of `config` renamed to DIR.before-recover-STAMP (kept).
Status move_aside(const Config& config, const std::string& data_dir, const std::string& stamp) {
  for (const auto& p : config.priests) {
    std::error_code ec;
    const std::string dir = dir_of(data_dir, p.id);
    if (!fs::exists(dir, ec)) continue;
    fs::rename(dir, dir + ".before-recover-" + stamp, ec);
    if (ec) return Status::failure("cannot move " + dir + " aside: " + ec.message());
  }
  return ok_status();
}

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

int recover(const Config& config, const NewParliament& n, PriestId from, bool force) {
  HeldLocks locks;
  for (const auto& p : config.priests) {
    auto fd = try_lock_data_dir(dir_of(n.data_dir, p.id));
    if (!fd) {
      spdlog::error("god: recover: {}: stop every priest first", fd.error());
      return 2;
    }
    if (*fd) locks.fds.push_back(**fd);
  }
  if (auto running = one_running(config)) {
    spdlog::error("god: recover: priest {} answers at its address: stop every priest first",
                  *running);
    return 2;
  }
  const std::string& data_dir = n.data_dir;
  std::map<PriestId, uint64_t> lengths;  // of every ledger found
  std::vector<Entry> survivor;           // priest `from`'s decrees
  for (const auto& p : config.priests) {
    auto l = surviving_ledger(dir_of(data_dir, p.id));
    std::printf("priest %u: %s\n", p.id,
                l ? ("ledger of " + std::to_string(l->size()) + " decrees").c_str()
                  : l.error().c_str());
    if (!l) continue;
    lengths[p.id] = l->size();
    if (p.id == from) survivor = std::move(*l);
  }
  if (!lengths.count(from)) {
    spdlog::error("god: recover: priest {}'s ledger cannot be read from {}", from,
                  dir_of(data_dir, from));
    return 2;
  }
  const uint64_t upto = lengths[from];
  for (const auto& [id, length] : lengths)
    if (length > upto) {
      spdlog::error("god: recover: priest {}'s ledger ({} decrees) is longer than priest {}'s: "
                    "recover --from-priest {}", id, length, from, id);
      return 2;
    }
  const std::string loss =
      "any decree acknowledged after decree " + std::to_string(upto) + " (priest " +
      std::to_string(from) + "'s last) is lost, unless a ledger not found here holds it";
  if (!force) {
    spdlog::error("god: recover would begin a new parliament of priests {} from priest {}'s "
                  "ledger of {} decrees: {}. Run again with --force to do it",
                  id_list(config.ids()), from, upto, loss);
    return 2;
  }
  Snapshot s;
  s.upto = upto;
  s.decrees = std::move(survivor);
  std::vector<Membership> old;  // the survivor's membership: its lives are retired
  auto held = load_membership(dir_of(data_dir, from));
  if (held && *held) old.push_back(**held);
  // Decided before any directory is moved: a refusal leaves everything as it was.
  auto plan = plan_parliament(config, n, s, old);
  if (!plan) {
    spdlog::error("god: recover: {}", plan.error());
    return 2;
  }
  const std::string stamp = utc_stamp();
  if (auto moved = move_aside(config, data_dir, stamp); !moved) {
    spdlog::error("god: recover: {}", moved.error());
    return 2;
  }
  if (auto b = write_parliament(config, n, s, std::move(*plan)); !b) {
    spdlog::error("god: recover: {}", b.error());
    return 2;
  }
  std::printf("recovered: priests %s begin with priest %u's ledger of %llu decrees; %s. The "
              "old directories are kept as %s/priest-N.before-recover-%s. Start the priests "
              "(no bootstrap is needed)\n",
              id_list(config.ids()).c_str(), from, static_cast<unsigned long long>(upto),
              loss.c_str(), data_dir.c_str(), stamp.c_str());
  return 0;
}

}  // namespace parliament::god
