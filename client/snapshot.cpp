// Snapshots and audits of the whole ledger (see snapshot.hpp).
#include "client/snapshot.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <thread>
#include <set>

#include <nlohmann/json.hpp>

#include "client/lib/open.hpp"
#include "net/rpc.hpp"
#include "net/snapshot.hpp"
#include "net/tls.hpp"
#include "proto/membership.hpp"

namespace parliament::client_cli {

using nlohmann::json;

namespace {

// A decree as the library gives it, as the core's Entry.
Result<Entry> entry_of(const client::Decree& d) {
  json j{{"decree_no", d.number}, {"ballot", d.ballot}};
  j["kind"] = d.kind == client::Decree::Kind::OliveDay     ? "olive-day"
              : d.kind == client::Decree::Kind::Membership ? "membership"
                                                           : "decree";
  if (d.kind != client::Decree::Kind::OliveDay) j["decree"] = d.text;
  if (d.kind == client::Decree::Kind::Client) {
    j["client"] = d.client;
    j["request"] = d.request;
  }
  return entry_from_json(j);
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// `text` into `file`, durably: FILE.tmp written and fdatasynced, renamed, directory fsynced.
Status write_durably(const std::string& file, const std::string& text) {
  const std::string tmp = file + ".tmp";
  auto fail = [&](const std::string& what) {
    return Status::failure(what + ": " + std::strerror(errno));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return fail("cannot create " + tmp);
  for (size_t at = 0; at < text.size();) {
    ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto s = fail("cannot write " + tmp);
      ::close(fd);
      return s;
    }
    at += static_cast<size_t>(n);
  }
  const bool synced = ::fdatasync(fd) == 0;
  if (::close(fd) != 0 || !synced) return fail("cannot sync " + tmp);
  if (::rename(tmp.c_str(), file.c_str()) != 0) return fail("cannot rename " + tmp);
  auto dir = std::filesystem::absolute(file).parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail("cannot open directory " + dir.string());
  const bool dir_synced = ::fsync(dfd) == 0;
  ::close(dfd);
  if (!dir_synced) return fail("cannot sync directory " + dir.string());
  return ok_status();
}

// The newest membership any priest's status holds, whole (priests with their keys, revoked
// clients, retired lives), as membership.json writes it; null if none answered with one.
json newest_membership(client::Parliament& p) {
  client::Report report;
  json best;
  if (!p.status(&report).ok()) return best;
  for (const auto& s : report.priests) {
    json st = json::parse(s.status_json, nullptr, false);
    if (!st.is_object() || !st.contains("membership") || !st["membership"].is_object()) continue;
    const json& m = st["membership"];
    if (best.is_null() || m.value("decree_no", uint64_t(0)) > best.value("decree_no", uint64_t(0)))
      best = m;
  }
  return best;
}

}  // namespace

int save_snapshot(client::Parliament& p, const client::Options& o, const std::string& file,
                  bool as_json) {
  client::Reading r;
  if (auto s = p.read(1, &r); !s.ok()) {
    std::cerr << "paxos-client: " << s.message() << "\n";
    return 1;
  }
  Snapshot snap;
  snap.upto = r.upto;
  snap.taken_at = utc_now();
  // Read after the read point: at least the membership in force there (a restore retires
  // every life it names, so a newer one only retires more).
  snap.membership = newest_membership(p);
  if (snap.membership.is_null()) {
    std::cerr << "paxos-client: no priest answered with the membership in force\n";
    return 1;
  }
  for (const auto& d : r.decrees) {
    auto e = entry_of(d);
    if (!e) {
      std::cerr << "paxos-client: the ledger read holds " << e.error() << "\n";
      return 1;
    }
    snap.decrees.push_back(std::move(*e));
  }
  if (auto config = client::parliament_config(o); config && config->tls)
    if (auto id = tls::parliament_id(client::certs_dir_of(o, *config) + "/ca.crt"))
      snap.parliament = *id;
  std::string sha;
  std::string text = snapshot_text(snap, &sha);
  if (auto s = write_durably(file, text); !s) {
    std::cerr << "paxos-client: " << s.error() << "\n";
    return 2;
  }
  if (as_json) {
    std::cout << json{{"file", file}, {"upto", snap.upto}, {"sha256", sha},
                      {"membership", snap.membership}}.dump() << "\n";
  } else {
    std::vector<PriestId> ids;
    for (const auto& m : snap.membership.value("priests", json::array()))
      ids.push_back(m.value("id", PriestId(0)));
    std::cout << "snapshot of decrees 1 to " << snap.upto << " (confirmed by a majority), "
              << "membership in force: priests " << id_list(ids) << ", written to " << file
              << " (sha256 " << sha << ")\n";
  }
  return 0;
}

namespace {

// One member as the audit reaches it.
struct Audited {
  PriestAddress at;
  uint64_t length = 0;  // its ledger's, as it last said
};

constexpr uint64_t kAuditPage = 1000;

// `type` ("ledger_hash" or "ledger") of decrees from `from` at priest `p`; an error names it.
// A priest busy building pages for others (overloaded) is asked again for up to 10 s.
Result<json> page_at(const Audited& p, const std::string& type, uint64_t from) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto ask = [&] {
    return call_priest(p.at, json{{"type", type}, {"from", from}, {"max", kAuditPage}},
                       Millis(10000));
  };
  auto r = ask();
  while (r && r->value("error_code", "") == code_name(Code::Overloaded) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    r = ask();
  }
  if (!r) return Result<json>::failure("priest " + std::to_string(p.at.id) + ": " + r.error());
  if (r->value("type", "") != type)
    return Result<json>::failure("priest " + std::to_string(p.at.id) + ": " +
                                 r->value("error", r->dump()));
  return r;
}

// The rows of one page from every member that holds decree `from`, compared decree by
// decree: the first number where two differ (with the sentence), or how far they were read.
struct RowVerdict {
  std::optional<std::string> difference;
  uint64_t next = 0;  // where to go on from
};
Result<RowVerdict> compare_rows(const std::vector<Audited*>& holders, uint64_t from) {
  std::vector<std::pair<uint64_t, json>> pages;
  for (auto* p : holders) {
    auto page = page_at(*p, "ledger", from);
    if (!page) return Result<RowVerdict>::failure(page.error());
    pages.push_back({p->at.id, (*page)["decrees"]});
  }
  size_t most = 0, least = SIZE_MAX;
  for (auto& [id, rows] : pages) {
    most = std::max(most, rows.size());
    if (!rows.empty()) least = std::min(least, rows.size());
  }
  for (size_t i = 0; i < most; ++i)
    for (size_t a = 0; a < pages.size(); ++a)
      for (size_t b = a + 1; b < pages.size(); ++b) {
        const json& x = pages[a].second;
        const json& y = pages[b].second;
        if (i < x.size() && i < y.size() && x[i] != y[i])
          return RowVerdict{"decree " + std::to_string(from + i) + " differs between priest " +
                                std::to_string(pages[a].first) + " and priest " +
                                std::to_string(pages[b].first),
                            0};
      }
  return RowVerdict{std::nullopt, from + (least == SIZE_MAX ? 1 : least)};
}

}  // namespace

int audit(client::Parliament& p, bool as_json) {
  client::Members members;
  if (auto s = p.members(&members); !s.ok()) {
    std::cerr << "paxos-client: " << s.message() << "\n";
    return 1;
  }
  std::vector<Audited> all;
  json problems = json::array(), lengths = json::object();
  for (const auto& m : members.priests) {
    auto at = parse_address(m.address, static_cast<PriestId>(m.id), "member");
    Audited a{at ? *at : PriestAddress{}, 0};
    auto first = at ? page_at(a, "ledger_hash", 1) : Result<json>::failure(at.error());
    if (!first) {
      problems.push_back(first.error());
      continue;
    }
    a.length = first->value("length", uint64_t(0));
    lengths[std::to_string(m.id)] = a.length;
    all.push_back(a);
  }
  uint64_t longest = 0;
  for (const auto& a : all) longest = std::max(longest, a.length);
  // Range by range: hashes first; the rows only where the hashes (or the ranges) differ.
  std::optional<uint64_t> first_difference;
  for (uint64_t from = 1; from <= longest && problems.empty();) {
    std::vector<Audited*> holders;
    std::set<std::pair<uint64_t, std::string>> answers;
    for (auto& a : all) {
      if (a.length < from) continue;
      auto h = page_at(a, "ledger_hash", from);
      if (!h) {
        problems.push_back(h.error());
        break;
      }
      holders.push_back(&a);
      answers.insert({h->value("upto", uint64_t(0)), h->value("sha256", "")});
    }
    if (!problems.empty() || holders.empty()) break;
    if (answers.size() == 1) {
      from = std::max(from, answers.begin()->first) + 1;
      continue;
    }
    auto rows = compare_rows(holders, from);
    if (!rows) {
      problems.push_back(rows.error());
      break;
    }
    if (rows->difference) {
      problems.push_back(*rows->difference);
      first_difference = std::stoull(rows->difference->substr(7));
      break;
    }
    from = rows->next;
  }
  const bool agree = problems.empty();
  if (as_json) {
    json j{{"agree", agree}, {"lengths", lengths}, {"problems", problems}};
    j["first_difference"] = first_difference ? json(*first_difference) : json(nullptr);
    std::cout << j.dump() << "\n";
  } else if (agree) {
    std::cout << "the ledgers agree: every decree each member holds is the same in every other "
                 "that holds it, up to decree " << longest << " (lengths " << lengths.dump()
              << ")\n";
  } else {
    std::cout << "the ledgers do not agree (lengths " << lengths.dump() << "):\n";
    for (const auto& x : problems) std::cout << "  " << x.get<std::string>() << "\n";
  }
  return agree ? 0 : 1;
}

}  // namespace parliament::client_cli
