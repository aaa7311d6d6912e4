// What the integration tests of a whole parliament share: clients under load that record
// what they were told passed, the ledger checked against it, the membership the priests
// agree on, and the god's printed JSON. Header-only; each test file is its own executable
// part, so everything here is inline.
#pragma once

#include "tests/common/harness.hpp"

namespace harness {


struct Acked {
  uint64_t client, request;
  std::string text;
};

using Row = std::vector<std::string>;  // decree_no, ballot, kind, client, request, decree

// The rows of a ledger.csv, checked: its header, rows numbered 1, 2, 3... with nothing torn
// or corrupt, every client's decree at most once, every membership row a readable
// membership, and every decree of `acked` at the number its client was told.
inline std::vector<Row> checked_ledger(const std::string& text, const std::map<uint64_t, Acked>& acked) {
  std::vector<std::string> header;
  size_t hlen = parse_header(text, header);
  REQUIRE(hlen > 0);
  REQUIRE(header == std::vector<std::string>{"decree_no", "ballot", "kind", "client", "request", "decree", "crc32"});
  auto parsed = parse_records(std::string_view(text).substr(hlen), 6);
  REQUIRE(parsed.torn.empty());
  REQUIRE(parsed.corrupt.empty());
  std::set<std::pair<uint64_t, uint64_t>> placed;
  for (size_t i = 0; i < parsed.records.size(); ++i) {
    const auto& r = parsed.records[i];
    REQUIRE(r[0] == std::to_string(i + 1));
    if (r[2] == "olive-day") continue;
    if (r[2] == "membership") {
      CHECK(r[3].empty());
      CHECK(r[4].empty());
      auto m = parse_membership_decree(r[5], i + 1);
      INFO("membership row " << i + 1 << ": " << r[5]);
      CHECK(m.ok());
      continue;
    }
    REQUIRE(r[2] == "decree");
    auto key = std::pair{std::stoull(r[3]), std::stoull(r[4])};
    INFO("decree " << i + 1 << " from client " << r[3] << " request " << r[4]);
    REQUIRE(placed.insert(key).second);  // exactly once
  }
  for (auto& [n, a] : acked) {
    INFO("acknowledged at " << n << " to client " << a.client << ": " << a.text);
    REQUIRE(n <= parsed.records.size());
    const auto& r = parsed.records[n - 1];
    CHECK(r[2] == "decree");
    // Over TLS the ledger keys a request by the client's certificate too (tls::ledger_client);
    // the tests' own clients hold the god's (Parliament's use_tls).
    CHECK((r[3] == std::to_string(a.client) ||
           r[3] == std::to_string(tls::ledger_client(tls::Identity{tls::Role::God}, a.client))));
    CHECK(r[4] == std::to_string(a.request));
    CHECK(r[5] == a.text);
  }
  return parsed.records;
}

// The membership rows of a ledger: decree number -> the membership decree's JSON.
inline std::map<uint64_t, nlohmann::json> membership_rows(const std::vector<Row>& rows) {
  std::map<uint64_t, nlohmann::json> out;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i][2] == "membership") out[i + 1] = nlohmann::json::parse(rows[i][5]);
  return out;
}

// Waits until the ledger.csv files of `ids` are byte for byte the same (and not empty);
// the common text, or nullopt (after naming each file's size) if they never were.
inline std::optional<std::string> same_ledgers(const Parliament& parl, const std::vector<PriestId>& ids,
                                        std::chrono::milliseconds within = 20s) {
  std::string reference;
  bool same = eventually(
      [&] {
        reference = parl.ledger(ids.front());
        for (PriestId id : ids)
          if (parl.ledger(id) != reference) return false;
        return !reference.empty();
      },
      within);
  if (same) return reference;
  for (PriestId id : ids)
    UNSCOPED_INFO("priest " << id << " ledger bytes " << parl.ledger(id).size());
  return std::nullopt;
}

// Clients passing decrees in threads until told to stop, each with its own Proposer: what
// each was told passed, and every failure.
struct Load {
  std::mutex mu;
  std::map<uint64_t, Acked> acked;  // decree number -> what its client was told passed there
  std::vector<std::string> failures;
  std::atomic<int> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;

  void start(int clients, const std::vector<PriestAddress>& priests, std::chrono::milliseconds deadline = 30s) {
    stop = false;
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([this, c, priests, deadline] {
        Proposer proposer(priests, random_client_id());
        for (int i = 0; !stop; ++i) {
          std::string text = "client " + std::to_string(c) + " decree " + std::to_string(i) +
                             (i % 5 == 0 ? ", with \"quotes\",\nand a newline" : "");
          auto out = proposer.propose(text, deadline);
          std::lock_guard lock(mu);
          if (!out.passed) {
            failures.push_back(text + ": " + out.error);
            continue;
          }
          if (!acked.emplace(out.decree_no, Acked{proposer.client_id(), uint64_t(i + 1), text}).second)
            failures.push_back("two decrees acknowledged at number " + std::to_string(out.decree_no));
          ++done;
        }
      });
  }
  // Waits until `more` decrees beyond those passed so far have passed.
  bool progress(int more, std::chrono::milliseconds within = 30s) {
    int target = done + more;
    return eventually([&] { return done >= target; }, within);
  }
  void finish() {
    stop = true;
    for (auto& t : threads) t.join();
    threads.clear();
  }
  ~Load() { finish(); }
};

inline std::vector<PriestId> ids_of(const nlohmann::json& membership) {
  std::vector<PriestId> ids;
  for (auto& p : membership["priests"]) ids.push_back(p["id"].get<PriestId>());
  return ids;
}

// Waits until every priest of `ids` names the same membership, set by decree `at_least` or
// later; that membership, or null.
inline nlohmann::json agreed_membership(const Parliament& parl, const std::vector<PriestId>& ids,
                                 uint64_t at_least, std::chrono::milliseconds within = 15s) {
  nlohmann::json agreed;
  bool ok = eventually(
      [&] {
        agreed = membership_of(parl, ids.front());
        if (agreed.is_null() || agreed.value("decree_no", uint64_t(0)) < at_least) return false;
        for (PriestId id : ids)
          if (membership_of(parl, id) != agreed) return false;
        return true;
      },
      within);
  if (!ok) {
    for (PriestId id : ids) UNSCOPED_INFO("priest " << id << " names membership " << membership_of(parl, id).dump());
    return nullptr;
  }
  return agreed;
}

// The JSON line paxos-god --json printed (its log lines are on the same output).
inline nlohmann::json printed_json(const std::string& out) {
  std::istringstream in(out);
  nlohmann::json j;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') j = nlohmann::json::parse(line, nullptr, false);
  return j;
}

// Starts the five configured priests, bootstraps them, waits for a president, and starts
// `clients` clients over every priest (the spares' addresses included) until `decrees`
// passed.
inline void sit_under_load(Parliament& parl, Load& load, int clients, int decrees) {
  for (PriestId id = 1; id <= 5; ++id) parl.start(id);
  parl.bootstrap();
  REQUIRE(eventually([&] { return parl.president().has_value(); }, 10s));
  std::vector<PriestAddress> everyone;
  for (auto& [id, a] : parl.addr) everyone.push_back(a);
  load.start(clients, everyone);
  REQUIRE(load.progress(decrees));
}

// At the end of a membership test: `members` agree on a membership of exactly themselves,
// their ledgers are identical and hold every acknowledged decree once, at its number; the
// membership they agree on, and the ledger's membership rows.
inline std::pair<nlohmann::json, std::map<uint64_t, nlohmann::json>> final_membership(
    Parliament& parl, const std::vector<PriestId>& members, Load& load) {
  auto agreed = agreed_membership(parl, members, 1);
  REQUIRE(!agreed.is_null());
  CHECK(ids_of(agreed) == members);
  auto ledger = same_ledgers(parl, members);
  REQUIRE(ledger);
  return {agreed, membership_rows(checked_ledger(*ledger, load.acked))};
}

}  // namespace harness
