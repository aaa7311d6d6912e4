// Node: a priest, its clerk and the host's rules about its records (see node.hpp).
#include "proto/node.hpp"

#include <algorithm>

#include "proto/config.hpp"

namespace parliament {

void Recovery::passed(const Entry& e) {
  if (e.decree.from_client())
    r_.clients[e.decree.client] = ClientRecord{e.decree.request, e.decree_no};
  if (e.decree.membership) r_.last_membership = e;
  r_.ledger_len = e.decree_no;
}

Restored Recovery::done() {
  for (auto& v : votes_)
    if (v.decree_no > r_.ledger_len) r_.votes[v.decree_no] = v;
  votes_.clear();
  return std::move(r_);
}

PriestOptions priest_tuning(uint32_t heartbeat_ticks, uint32_t election_timeout_ticks,
                            size_t max_decree_bytes, size_t max_frame_bytes) {
  PriestOptions o;
  o.heartbeat_ticks = heartbeat_ticks;
  o.election_timeout_ticks = election_timeout_ticks;
  o.max_decree_bytes = max_decree_bytes;
  o.max_batch_bytes = std::min<size_t>(o.max_batch_bytes, max_frame_bytes / 4);
  o.max_in_flight_bytes = std::min<size_t>(o.max_in_flight_bytes, max_frame_bytes / 2);
  o.max_held_bytes = std::max<size_t>(o.max_held_bytes, 4 * max_decree_bytes);
  return o;
}

Node::Node(PriestId id, uint64_t incarnation, PriestOptions tuning, Disk& disk, Records& records,
           NodeHost& host)
    : id_(id), incarnation_(incarnation), tuning_(std::move(tuning)), disk_(disk),
      records_(records), host_(host) {}

Node::Node(const Node& other, Disk& disk, Records& records, NodeHost& host)
    : id_(other.id_), incarnation_(other.incarnation_), tuning_(other.tuning_), disk_(disk),
      records_(records), host_(host), restored_(other.restored_), recorded_(other.recorded_),
      priest_(other.priest_) {
  if (other.clerk_)
    clerk_.emplace(*other.clerk_, *priest_, disk_, static_cast<Messenger&>(*this),
                   [this](const std::string& why) { host_.halt(why); });
}

// The sentence a retirement gives, if membership `m` no longer names this life while the
// one recorded did.
std::string Node::retired_by(const Membership& m) const {
  if (!voter() || m.voter(id_, incarnation_)) return "";
  return "its ledger holds membership decree " + std::to_string(m.decree_no) +
         ", which does not name incarnation " + incarnation_text(incarnation_) + " of priest " +
         std::to_string(id_);
}

Status Node::restore(Restored restored, std::optional<Membership> recorded) {
  restored_ = std::move(restored);
  recorded_ = std::move(recorded);
  std::string retire;
  // The ledger is the authority: its last membership decree, where membership.json has not
  // caught up with it (a crash between the two).
  const auto& last = restored_.last_membership;
  if (recorded_ && last && last->decree_no > recorded_->decree_no) {
    auto m = parse_membership_decree(last->decree.text, last->decree_no);
    if (!m)
      return Status::failure("ledger.csv: decree " + std::to_string(last->decree_no) + ": " +
                             m.error());
    retire = retired_by(*m);
    recorded_ = *m;
    if (auto s = records_.save_membership(*m, false); !s) return s;
  }
  // (A priest joined to learn the ledger holds the membership of a decree it has not
  // learned yet; it is not a voter of it.)
  if (voter() && recorded_->decree_no > restored_.ledger_len)
    return Status::failure(
        "membership.json was set by decree " + std::to_string(recorded_->decree_no) +
        ", but ledger.csv holds only " + std::to_string(restored_.ledger_len) +
        " decrees: the ledger lost decrees it had made durable; restore the data directory, or "
        "replace this priest (paxos-god replace " + std::to_string(id_) + ")");
  if (!retire.empty()) host_.retire(retire);
  return ok_status();
}

void Node::begin() {
  if (!recorded_ || priest_) return;
  PriestOptions o = tuning_;
  o.id = id_;
  o.incarnation = incarnation_;
  o.membership = *recorded_;
  priest_.emplace(o, std::move(restored_));
  restored_ = {};
  clerk_.emplace(*priest_, disk_, static_cast<Messenger&>(*this),
                 [this](const std::string& why) { host_.halt(why); });
  flush();  // the priest's first Ready names its peers
}

bool Node::begun() const {
  if (priest_) return priest_->passed_len() > 0 || !priest_->next_bal().is_zero();
  return restored_.ledger_len > 0 || !restored_.next_bal.is_zero();
}

Status Node::record_first(const Membership& m) {
  if (auto s = records_.save_membership(m, true); !s) return s;
  recorded_ = m;
  begin();
  return ok_status();
}

// This priest must be named with its own incarnation: a blank data directory is a new
// incarnation, which the others would never count; it is replaced by decree instead.
Result<bool> Node::bootstrap(const Membership& m) {
  const PriestAddress* mine = m.find(id_);
  if (!mine)
    return Result<bool>::failure("the membership sent does not include priest " +
                                 std::to_string(id_));
  if (mine->incarnation != incarnation_)
    return Result<bool>::failure(
        "this is incarnation " + incarnation_text(incarnation_) + " of priest " +
        std::to_string(id_) +
        " (its data directory was initialised anew), but the membership names incarnation " +
        incarnation_text(mine->incarnation) +
        ": a priest that forgot its promises and votes is replaced by decree: "
        "paxos-god --config FILE replace " +
        std::to_string(id_));
  if (recorded_) {
    if (recorded_->priests == m.priests && recorded_->decree_no == 0) return true;
    return Result<bool>::failure(
        "priest " + std::to_string(id_) + " is already in a parliament, membership " +
        membership_to_json(*recorded_).dump() +
        "; membership changes pass by decree (paxos-god add, remove, replace)");
  }
  if (begun())
    return Result<bool>::failure("priest " + std::to_string(id_) +
                                 " has begun (a promise or a ledger) without a membership");
  if (auto s = record_first(m); !s) return Result<bool>::failure(s.error());
  return false;
}

// It votes nowhere until a membership decree names it with its incarnation.
Result<bool> Node::join(const Membership& m) {
  if (recorded_) {
    if (voter() || recorded_->decree_no >= m.decree_no) return true;
    // Still learning, and given a newer membership: the priests able to teach it may have
    // changed since its first join (Priest::rejoin).
    if (!priest_)
      return Result<bool>::failure("priest " + std::to_string(id_) +
                                   " is not running its parliament yet");
    // A membership that already names this life (its change passed before the join came)
    // is learned for now, not recorded: membership.json names a membership this life votes
    // in only once its own ledger holds the decree that set it, or a crash before then
    // would read as a ledger that lost decrees (restore() refuses to start). The priest
    // hands it back for recording when its ledger reaches that decree (apply_passed).
    if (!m.voter(id_, incarnation_)) {
      if (auto s = records_.save_membership(m, false); !s) return Result<bool>::failure(s.error());
      recorded_ = m;
    }
    priest_->rejoin(m);
    return false;
  }
  if (begun())
    return Result<bool>::failure("priest " + std::to_string(id_) +
                                 " is not blank: it holds a promise or decrees");
  if (auto s = record_first(m); !s) return Result<bool>::failure(s.error());
  return false;
}

void Node::flush() {
  if (clerk_) clerk_->flush();
}

// membership.json follows the ledger: written once the ledger holding the decree that set
// the membership is durable, so that it never names a membership the ledger lost.
void Node::membership(const Membership& m) {
  if (auto s = records_.sync_ledger(); !s) return host_.halt(s.error());
  if (auto s = records_.save_membership(m, false); !s) return host_.halt(s.error());
  std::string retire = retired_by(m);
  recorded_ = m;
  host_.membership(m);
  if (!retire.empty()) host_.retire(retire);
}

}  // namespace parliament
