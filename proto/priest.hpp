// Priest: one member of the parliament, as a pure, deterministic state machine.
//
// It plays every role of the paper: it votes (keeps its promise next_bal and its votes),
// it may stand for president (next ballot / last vote), and as president it passes many
// decrees at once with begin ballot alone (Multi-Paxos). It does no I/O. The host calls
// tick() every tick, step(msg) for every message from a priest (itself included) and
// propose(req) for every client proposal, then hands the priest to its Clerk
// (proto/clerk.hpp), which takes every Ready and carries it out in the one safe order:
// promise and votes durable before any message that asserts them, then the ledger, then
// clients and catch-up. paxos-priest, the simulator and the explorer all use that Clerk.
//
// How a priest comes to record a decree as passed (the only two ways), and why each is safe:
//   1. Its own vote, on the word of that vote's president (learn_commit). A begin or
//      successful ballot of ballot b, believed only from b's priest (B1), says commit_no:
//      every decree up to it passed. The president of b says so only of numbers where its
//      own tally in b reached a majority (B2), of numbers below first_open_ that it never
//      began in b, and of numbers it learned by catch-up whose decree is the one it began
//      there in b (same origin ballot: the same proposal). So at a number where this priest
//      voted in ballot b, the decree of that vote is the one that passed. A president that
//      learns by catch-up that a number it holds open passed with another decree steps down
//      before it sends anything more (on_catch_up): it can no longer say commit_no there.
//   2. A ledger (on_catch_up): a ledger holds only decrees recorded by way 1 or 2, so only
//      chosen ones; catch-up is its own message and never a commit.
// Safety of the votes themselves: B1 (unique ballots, promise durable before next ballot),
// B2 (majorities), B3 (become_president re-proposes, at each open number, the decree of the
// highest-ballot vote its quorum reports; a last vote reports only votes cast, each in its
// own ballot). The argument in full: docs/SAFETY.md.
//
// Membership (proto/membership.hpp; docs/SAFETY.md, "Who may speak"): a priest hears only
// the voters (id and incarnation) of the membership in force above its ledger and itself;
// besides them the priest it teaches for a change (its answers only). Nobody else, catch-up
// included: not another life of a member id either. As president it begins the numbers of one
// membership only: it begins a membership decree alone, nothing above it until it passed, and then
// stands again for the new membership (or hands over, if removed).
//
// Its state is held in parts that own their fields and rules, each tested on its own:
// Election (timer, lease, highest round, pre-ballot), ReadIndex (linearizable reads),
// Proposals (the president's queue and waiting clients), Tallies (the decrees in flight and
// B2's count), ClientTable (exactly once) and Peers (reachability, ledger lengths, paced
// catch-up), ChangeUnderWay (a membership change being carried out). What is left here is the
// paper's ballot state (promise, votes, ledger, role and ballot, the president's numbering)
// and the membership in force, which every handler reads together.
//
// Single-threaded: call from one thread only. Randomness comes from the seed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "proto/ballot.hpp"
#include "proto/change_under_way.hpp"
#include "proto/client_table.hpp"
#include "proto/election.hpp"
#include "proto/held_decrees.hpp"
#include "proto/membership.hpp"
#include "proto/message.hpp"
#include "proto/peers.hpp"
#include "proto/proposals.hpp"
#include "proto/read_index.hpp"
#include "proto/tallies.hpp"

namespace parliament {

// A priest votes on decree numbers at most this far above its own ledger (2^18); further
// ahead it learns the ledger first. Every priest of a parliament must use the same value: a
// last vote reporting a vote further above its sender's ledger is refused as a lie.
inline constexpr uint64_t kVoteWindow = uint64_t{1} << 18;

// A request forwarded to the president and not answered within this many election timeouts
// (3 s by default) is given up by the priest that forwarded it (a proposal answered
// outcome_unknown, a read no_president): an answer can be lost (a connection reset; a peer's
// full queue, whose frames the host drops).
inline constexpr uint64_t kForwardPatience = 10;

struct PriestOptions {
  PriestId id = 0;
  uint64_t incarnation = 0;  // this life of the priest (0 only where every priest's is 0)
  // The membership in force above membership.decree_no, as the host read it from
  // membership.json and the ledger's membership rows. Where it is empty, `members` lists the
  // ids, every incarnation 0 (tests).
  Membership membership;
  std::vector<PriestId> members;
  uint32_t heartbeat_ticks = 5;
  uint32_t election_timeout_ticks = 30;
  size_t max_batch_decrees = 4096;         // decrees in one begin ballot
  size_t max_batch_bytes = 1 << 20;        // decree text in one begin ballot
  size_t max_in_flight = 8192;             // decrees begun but not yet passed
  size_t max_in_flight_bytes = 2 << 20;    // their decree text (bounds a last vote's size)
  size_t max_open_ballots = 2;             // begin ballots not yet passed before the next waits
  size_t max_queued = 100000;              // client proposals waiting for a ballot (and reads)
  size_t max_queued_bytes = 8 << 20;       // their decree text (one decree may exceed it alone)
  size_t catch_up_chunk = 2048;            // decrees per catch-up message
  // Decree text a priest holds above its ledger (its votes and what it was told), beyond which
  // it holds no more until its ledger grows (Priest::may_hold). An honest ballot never comes
  // near it (a president has max_in_flight_bytes in flight, or one decree; priest_tuning
  // raises it to four of the longest decree); a priest with a gap in its ledger would
  // otherwise hold every vote above the gap until catch-up fills it.
  size_t max_held_bytes = 16 << 20;
  size_t max_decree_bytes = 64 * 1024;     // longest client decree text a peer may carry
  uint64_t seed = 1;
};

// The last request each client passed: a retry of it answers with its decree number, and
// never passes again. Rebuilt from the ledger at start.
// What the host read back from disk at start.
struct Restored {
  Ballot next_bal;                       // the promise
  std::map<uint64_t, Entry> votes;       // prev_vote per decree number above ledger_len
  uint64_t ledger_len = 0;               // decrees 1..ledger_len are in the ledger
  std::unordered_map<uint64_t, ClientRecord> clients;
  std::optional<Entry> last_membership;  // the ledger's last membership decree, if any
};

// A client's proposal as handed to the core by the host.
struct Proposal {
  uint64_t token = 0;  // the host's handle for the waiting client
  Decree decree;       // client, request and text set
  std::string owner{};  // the named client that sent it ("" = unnamed, or the god)
};

struct ClientReply {
  uint64_t token = 0;
  uint64_t decree_no = 0;  // > 0: the decree passed at this number
  Code code = Code::Ok;    // not Ok: it did not (yet) pass (OutcomeUnknown: it may still)
  std::string error;       // with a code: the same for people
};

// Ask the host to send `to` the passed decrees from_no..upto_no from its ledger, as a
// catch-up message (the Clerk does).
struct CatchUp {
  PriestId to = 0;
  uint64_t from_no = 0;
  uint64_t upto_no = 0;
};

// Something this priest did, for people: the ballot timeline (docs/OPERATIONS.md "Watching the
// parliament"). The host stamps each with the time, keeps the newest in a ring and appends
// them to events.jsonl (server/chronicle.hpp); the core never reads them back, and nothing
// depends on them being kept.
struct Event {
  enum class Kind {
    PreBallot,  // asked whether a majority would promise `ballot`
    Stood,      // stood for president with `ballot` (sent next ballot)
    Promised,   // promised `ballot` to its priest `peer`
    LastVote,   // sent its last vote in `ballot` to `peer`
    President,  // became president in `ballot`
    Begin,      // began decrees from_no..upto_no in `ballot`
    VoteYes,    // voted for decrees from_no..upto_no of `ballot`, president `peer`
    VoteNo,     // refused `ballot` of `peer` (`why`)
    Passed,     // learned decrees from_no..upto_no passed (its ledger holds them)
    StepDown,   // stopped being president or candidate (`why`)
    Heard,      // began hearing `peer` (within an election timeout)
    Lost,       // stopped hearing `peer` (the last kind: server/metrics.hpp counts by kind)
  };
  Kind kind;
  Ballot ballot;
  uint64_t from_no = 0, upto_no = 0;
  PriestId peer = 0;
  std::string why{};
};
const char* name_of(Event::Kind k);

struct Ready {
  std::optional<Ballot> promise;  // new next_bal: durable before messages
  std::vector<Entry> votes;       // new votes: durable before messages
  std::vector<Message> messages;
  std::vector<Entry> passed;      // append to the ledger, in order
  std::vector<ClientReply> replies;
  std::vector<CatchUp> catch_up;
  std::vector<std::string> notes;  // what happened, as sentences for the log
  std::vector<Event> events;       // what happened, for the ballot timeline
  // A membership decree among `passed` set this membership: the host records it
  // (membership.json) once the ledger holding that decree is durable.
  std::optional<Membership> membership;
  // The priests the host keeps links to changed: the membership in force, and a priest the
  // president is teaching the ledger before a change makes it a voter.
  std::optional<std::vector<PriestAddress>> peers;
  bool empty() const {
    return !promise && votes.empty() && messages.empty() && passed.empty() && replies.empty() &&
           catch_up.empty() && notes.empty() && events.empty() && !membership && !peers;
  }
};

enum class Role { Follower, Candidate, President };
const char* name_of(Role r);

struct PriestStatus {
  PriestId id = 0;
  Role role = Role::Follower;
  std::optional<PriestId> president;
  Ballot ballot;    // the ballot it is president/candidate in, else the one it follows
  Ballot next_bal;  // its promise
  uint64_t passed_len = 0;
  std::vector<PriestId> reachable;  // heard from within an election timeout (itself included)
  size_t in_flight = 0;
  size_t queued = 0;
  size_t waiting = 0;  // client requests awaiting an answer
  uint64_t passed_ahead = 0;  // decrees known passed beyond a gap
  Membership membership;      // the latest this priest knows (its ledger's)
  bool voter = false;         // this priest, with its incarnation, is in it
  std::string change;         // president: the membership change under way, if any
};

class Priest {
 public:
  Priest(PriestOptions options, Restored restored);

  void tick();
  // Hears one message from a peer (or itself). Returns "" when the message was heard (or
  // ignored as stale), else why it was refused: it says what no priest of this parliament
  // would say (a round or decree number far beyond anything known, numbers that could wrap,
  // an oversized decree, catch-up beyond the sender's own ledger). A refused message changes
  // nothing; the host drops the connection it came on and logs the reason once.
  std::string step(const Message& m);
  void propose(Proposal p);
  // The god's request to change the membership (one at a time). Answered like a proposal:
  // a ClientReply for `token` with the number of the membership decree once it passed.
  void propose_change(uint64_t token, const Change& c);
  // The god's join, again, for a priest still learning the ledger (not a voter of its
  // membership): the newer membership `m` in force. A learner hears only voters of the
  // membership it holds (admits), so one joined before a change that replaced every priest
  // able to teach it would otherwise never learn. Ignored unless this priest is no voter and
  // `m` is newer than its own. Nothing else changes: it still votes nowhere.
  void rejoin(const Membership& m);
  // A linearizable read (ReadIndex). Answered with a ClientReply for `token`: decree_no = n
  // and no error once this priest's ledger holds decrees 1..n and n covers every decree that
  // passed before the read arrived anywhere; or an error (retry, perhaps elsewhere). The
  // president takes n = what it knows passed (at least everything its election re-proposed)
  // and confirms it still holds its ballot by a successful ballot that a majority
  // acknowledges after the read arrived; a follower asks its president for n, then waits
  // until its own ledger reaches n. Nothing is written.
  void read(uint64_t token);
  // Whether a client's next request (a proposal of up to max_decree_bytes, or a read) would
  // find room in what this priest holds for clients: the president's queue (max_queued,
  // max_queued_bytes), a follower's requests waiting on its president (max_queued). While it
  // is false the host reads nothing more from clients, so that a flood waits in their sockets
  // (TCP pushes back) rather than being read only to be refused as overloaded.
  bool room_for_client() const;
  Ready take_ready();

  PriestStatus status() const;
  // Whether this priest takes a link from priest `from` speaking as `incarnation`: itself, a
  // voter (id and incarnation) of the membership in force, or (president) the priest it is
  // teaching for a change; not another life of a member id. The host
  // asks at the peer's hello and again when the membership changes; anyone else is told
  // not_member and closed, and step() drops anything from them.
  bool admits(PriestId from, uint64_t incarnation) const;
  // Everything that decides what this priest does next, as text: times as ages relative
  // to now (clamped where the priest stops telling them apart), so that two states that
  // behave alike print alike. For the explorer's state hashing (tests/sim/explore.cpp).
  std::string fingerprint() const;
  // This priest's votes above its ledger (what a compacted votes file must keep).
  std::vector<Entry> votes() const;
  PriestId id() const { return opt_.id; }
  uint64_t incarnation() const { return opt_.incarnation; }
  uint64_t passed_len() const { return passed_len_; }
  const Ballot& next_bal() const { return next_bal_; }
  Role role() const { return role_; }
  const Membership& membership() const { return latest(); }

 private:
  struct LastVoteReport {
    uint64_t passed_len;
    std::vector<Entry> votes;
  };
  using RequestKey = Proposals::Key;  // (client, request)

  std::string refusal(const Message& m) const;

  // elections
  void pre_ballot();
  // The president's lease: true while this priest should promise `from` nothing (it heard
  // its president within the election timeout, or it is a president hearing a majority).
  bool lease_held(PriestId from) const;
  // True while it should say nothing to `from`'s pre-ballot: the president's lease, or a
  // candidate's (it promised another candidate's ballot, or stood, within the timeout).
  // A candidate's lease stops no next ballot: rival candidates settle by ballot number.
  bool pre_ballot_refused(PriestId from) const;
  void stand_for_president();
  void fingerprint_reads(std::string& o) const;
  void fingerprint_president(std::string& o) const;
  void fingerprint_peers(std::string& o) const;
  void become_president();
  std::map<uint64_t, Entry> chosen_above(const std::vector<const LastVoteReport*>& quorum,
                                         uint64_t max_len) const;
  uint64_t end_era(uint64_t max_len, uint64_t last, const std::map<uint64_t, Entry>& chosen);
  void take_office(uint64_t max_len, uint64_t last);
  void begin_in_batches(std::vector<Entry> entries);
  void step_down(const std::string& why, bool outcome_unknown);
  void follow(const Ballot& b);
  // The president this priest follows, and its ballot: a forward sent under another
  // president or an earlier ballot of the same one is answered (see the .cpp).
  void set_president(std::optional<PriestId> p, const Ballot& b = {});
  void restand(const std::string& why);
  void reset_election_timer();
  bool promise(const Ballot& b);  // raises next_bal; false if b < next_bal

  // handlers
  void on_pre_ballot(const Message& m);
  void on_read(const Message& m);
  void begin_read(Waiter w);
  void send_read_round();  // at the end of a turn: the round the turn's reads wait for
  std::string forwarding_full() const;  // why a follower takes no more requests to forward, or ""
  void confirm_reads();  // answers the reads a majority confirmed whose decrees the ledger holds
  void fail_reads(const std::string& why);
  void answer_read_waits();  // follower: the reads whose n its ledger now holds
  void on_pre_vote(const Message& m);
  void on_next_ballot(const Message& m);
  void on_last_vote(const Message& m);
  void on_begin_ballot(const Message& m);
  void on_success(const Message& m);
  void on_failed(const Message& m);
  void on_voted(const Message& m);
  void on_vote_no(const Message& m);
  void on_forward(const Message& m);
  void on_answer(const Message& m);
  void on_catch_up(const Message& m);

  // membership
  const Membership& latest() const { return membership_; }
  bool voter() const { return latest().voter(opt_.id, opt_.incarnation); }
  void stranger(const Message& m);
  void handle_change(const Waiter& w, const Change& c);
  // Answers the change's waiters: passed at decree_no (code Ok), or not (OutcomeUnknown once
  // its decree was begun).
  void end_change(uint64_t decree_no, Code code = Code::Ok, const std::string& error = {});
  bool begin_change();
  void tell_peers();
  void era_changed();
  std::string revoked_text(
      const std::string& client) const;      // why a revoked client's proposal is refused
  void fail_queued(const std::string& why);  // answers every queued proposal "not passed"

  // president
  void enqueue(Decree d, Waiter w);
  void begin_ballots();
  void begin(std::vector<Entry> entries);
  void heartbeat();
  // Sends begin ballots again to the priests that have not voted for decrees begun `stale`
  // ticks ago or more, asking them to vote (with `unasked_only`: only decrees not yet asked of
  // every priest, and so only where the ballot's quorum did not answer in time).
  void resend_unvoted(uint64_t stale, bool unasked_only);
  void check_quorum();
  void check_gap();

  // everyone
  void learn_commit(const Message& m);  // a begin or successful ballot's commit_no
  void apply_passed();
  void answer(const Waiter& w, uint64_t decree_no, Code code = Code::Ok, std::string error = {});
  void maybe_catch_up(PriestId peer);
  void send(Message m);
  void send_all(const Message& m);  // every priest, this one included
  void send_others(const Message& m);
  void note(std::string s) { ready_.notes.push_back(std::move(s)); }
  void event(Event::Kind k, Ballot b = {}, uint64_t from = 0, uint64_t upto = 0, PriestId peer = 0,
             std::string why = {}) {
    ready_.events.push_back(Event{k, b, from, upto, peer, std::move(why)});
  }
  void vote_no(const Message& m);  // refuses m's ballot: this priest promised a higher one
  void hear_begin_ballot(const Message& m);  // a begin ballot that did not ask it to vote
  void remind_members();  // a non-voter hearing no president: "my ledger holds passed_len"
  void note_hearing();  // Heard / Lost events for the priests whose reachability changed
  Message make(Kind k, PriestId to) const;
  std::string quorum_report() const;
  std::vector<PriestId> reachable() const;
  bool reaches(PriestId p) const;  // p is itself, or was heard within an election timeout
  bool may_hold(const HeldDecrees& in, const Entry& e) const;
  void forget_told_unless(const Ballot& b);

  PriestOptions opt_;
  std::mt19937_64 rng_;
  uint64_t now_ = 0;

  // durable state (mirrors what the host made durable)
  Ballot next_bal_;
  HeldDecrees votes_;  // decree numbers above passed_len_
  uint64_t passed_len_ = 0;
  ClientTable clients_;  // exactly once: each client's last passed request

  // learned but not yet contiguous
  std::map<uint64_t, Entry> passed_ahead_;
  // Decrees of begin ballots that did not ask this priest to vote (it was not in the ballot's
  // quorum): above passed_len_, all of one ballot, recorded once its president says they
  // passed (learn_commit). Never on disk, never reported as votes.
  HeldDecrees heard_;

  // the membership in force above the ledger: set by its last membership decree (or the
  // host's, from membership.json)
  Membership membership_;
  std::set<std::pair<PriestId, uint64_t>> strangers_noted_;

  // role
  Role role_ = Role::Follower;
  Ballot ballot_;  // candidate/president: my ballot
  std::optional<PriestId> president_;
  Ballot following_;  // follower: the president's ballot it last followed
  struct Forward {
    PriestId president = 0;  // the president it was forwarded to
    Ballot ballot;           // in the ballot this priest followed then
    size_t bytes = 0;        // a proposal's decree text
    uint64_t since = 0;      // the tick it was forwarded
  };
  std::map<uint64_t, Forward> forwarded_;  // by token
  size_t forwarded_bytes_ = 0;             // the decree text of those
  void forget_forward(std::map<uint64_t, Forward>::iterator it);
  // Tells the forward's client it may never be answered (why: what the president did), and
  // forgets it.
  void give_up_forward(std::map<uint64_t, Forward>::iterator it, const std::string& why);
  void expire_forwards();  // those (and reads waiting for n) older than kForwardPatience timeouts
  ReadIndex reads_;  // linearizable reads, at the president and at a follower
  uint64_t settled_no_ = 0;                  // the last number its election re-proposed
  Election election_;  // its election timer, lease, highest round seen and pre-ballot
  uint64_t grew_tick_ = 0;  // when passed_len_ last grew
  // For events only (not state: nothing the priest decides depends on them).
  uint64_t told_len_ = 0;  // the ledger length the last Passed event reported
  std::vector<PriestId> told_hearing_;  // the reachable priests the last Heard/Lost events left

  // candidate
  std::map<PriestId, LastVoteReport> last_votes_;
  uint64_t awaiting_len_ = 0;  // its quorum holds a longer ledger: stand again once it has it

  // president
  uint64_t next_no_ = 1;
  uint64_t first_open_ = 1;  // numbers from here on were open when it became president
  uint64_t era_end_ = 0;     // > 0: a membership decree is below it; begin nothing from here
  std::optional<ChangeUnderWay> change_;  // the membership change it carries out
  uint64_t became_president_tick_ = 0;
  uint64_t last_heartbeat_tick_ = 0;
  Tallies tallies_;  // the decrees in flight in its ballot and their yes votes (B2)
  uint64_t commit_sent_ = 0;  // the highest commit_no sent to the priests
  uint64_t gap_len_ = 0;      // passed_len_ when decrees beyond a gap were last seen waiting
  uint64_t gap_since_ = 0;
  Proposals proposals_;  // queued for a ballot, waiting clients, begun requests

  Peers peers_;  // when each was heard, its ledger length, the catch-up sent it

  Ready ready_;
};

}  // namespace parliament
