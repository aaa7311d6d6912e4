// paxos-god's parts, one file each: bootstrap (god_bootstrap.cpp), membership changes and
// revocations by decree (god_change.cpp), `up`, the local parliament (god_up.cpp), and
// restore and recover, new parliaments from a snapshot or a surviving ledger
// (god_restore.cpp); the command line is god_main.cpp. Used by paxos-god only.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "net/rpc.hpp"
#include "proto/config.hpp"
#include "proto/membership.hpp"

namespace parliament::god {

using Clock = std::chrono::steady_clock;

// A short pause between knocks, never past the deadline.
void pause_before(Clock::time_point deadline);
// "1, 2, 3"

enum class Outcome { Done, Refused, TimedOut, Interrupted };

struct BootstrapHooks {
  std::function<bool()> interrupted = [] { return false; };       // stop asking
  std::function<bool(PriestId)> gone = [](PriestId) { return false; };  // its process died
};

// Sends the membership to every priest, all at once, until each has it. Bounded by
// `timeout`; a silent priest does not hold up the others.
Outcome bootstrap(const Config& config, const std::string& config_file, Millis timeout,
                  const BootstrapHooks& hooks = {});

// Where the god's files are, for the commands it prints and the keys it makes.
struct ChangeFiles {
  std::string config_file;
  std::string certs;  // the certificates' directory ("" for none)
};

// add / remove / replace / revoke by decree: exit 0 passed (or was in force already), 1 not
// done, 2 bad input. A priest to add without a certificate in `files.certs` gets one made
// (when the CA's key is there) or the command that makes it, and is not waited for.
int change_membership(const Config& config, Change c, const std::string& address,
                      bool as_json, Millis timeout, bool keep_key = false,
                      const ChangeFiles& files = {});

// Starts one paxos-priest per priest of the configuration, bootstraps them, and stays in the
// foreground until SIGINT/SIGTERM.
int up(const Config& config, const std::string& config_file, const std::string& data_dir,
       std::string priest_bin, Millis timeout, const std::string& certs_override);

// Where a new parliament's files go and come from (restore, recover).
struct NewParliament {
  std::string config_file;
  std::string certs;     // the certificates' directory: each priest's key goes in its membership
  std::string data_dir;  // priest N's directory is DATA_DIR/priest-N
};

// restore (god_restore.cpp): the data directories of a new parliament, one per priest of
// `config` (each absent or empty), whose ledgers begin as the snapshot in file `from`; the
// priests then start already members (no bootstrap), and every life of the old parliament
// is retired. Nothing is written if the snapshot or a certificate is refused. Exit 0 done,
// 2 not.
int restore(const Config& config, const NewParliament& n, const std::string& from);

// recover: when a majority of disks is lost, the same from the surviving ledger of priest
// `from` (refused while a priest holds its directory's lock or answers, if another ledger
// found is longer, and without `force`, saying what may be lost); every existing directory
// is first moved aside.
int recover(const Config& config, const NewParliament& n, PriestId from, bool force);

}  // namespace parliament::god
