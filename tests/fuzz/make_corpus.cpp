// Writes the seed corpus of the fuzz targets from the encoders' real output:
//   build-fuzz/make_corpus tests/fuzz/corpus
// writes corpus/frames/ (fuzz_frames: one byte for the frame limit, the chunk sizes, then a
// stream of frames; see fuzz_frames.cpp) and corpus/priest/ (fuzz_priest: records of a
// control byte, a twist byte and a frame; see fuzz_priest.cpp), rewriting the files it
// wrote before and leaving any other file (inputs merged in from a run: scripts/fuzz.sh
// prints how). Every message
// kind is there (next ballot, begin ballot, success, failed, last vote, vote yes, vote no,
// catch-up, forward, answer), and hello and the client frames (propose, status, ledger,
// change, bootstrap, join). The priest seeds tell short stories that fit the state
// fuzz_priest starts from (ledger 1..3, a vote at 4 in ballot 5.2, promise 5.2), so that the
// fuzzer starts deep: following priest 2, electing priest 1 (its ballot is 6.1), passing
// decrees, a membership decree, a slow disk.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "proto/framing.hpp"
#include "proto/membership.hpp"
#include "proto/message.hpp"

using namespace parliament;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kIncarnation[] = {0, 0x1a1a1a1a1a1a1a1aull, 0x2b2b2b2b2b2b2b2bull,
                                     0x3c3c3c3c3c3c3c3cull, 0x4d4d4d4d4d4d4d4dull};

Decree client(uint64_t c, uint64_t r, std::string text, Ballot origin) {
  Decree d;
  d.client = c;
  d.request = r;
  d.text = std::move(text);
  d.origin = origin;
  return d;
}

Message msg(Kind k, PriestId from, PriestId to, Ballot b, uint64_t passed_len) {
  Message m;
  m.kind = k;
  m.from = from;
  m.to = to;
  m.ballot = b;
  m.passed_len = passed_len;
  return m;
}

Membership three() {
  Membership m;
  for (PriestId id = 1; id <= 3; ++id)
    m.priests.push_back(PriestAddress{id, "127.0.0.1", static_cast<uint16_t>(7100 + id), "127.0.0.1", kIncarnation[id]});
  return m;
}

Change add4() {
  Change c;
  c.op = Change::Op::Add;
  c.priest = PriestAddress{4, "127.0.0.1", 7104, "127.0.0.1", kIncarnation[4]};
  return c;
}

// The messages priest 1's peers say in the seeds.
struct Said {
  Ballot b52{5, 2}, b62{6, 2}, b61{6, 1};
  Decree wine = client(10, 1, "The wine is watered", {5, 2});
  Decree bread = client(11, 1, "Bread is free, \"for all\",\nsays the Senate", {5, 2});

  Message next_ballot() const {
    auto m = msg(Kind::NextBallot, 2, 1, b62, 3);
    m.decree_no = 4;
    return m;
  }
  Message begin_ballot() const {
    auto m = msg(Kind::BeginBallot, 2, 1, b52, 3);
    m.entries = {Entry{4, b52, wine}, Entry{5, b52, bread}};
    m.commit_no = 3;
    return m;
  }
  Message success(uint64_t commit) const {
    auto m = msg(Kind::Success, 2, 1, b52, commit);
    m.commit_no = commit;
    return m;
  }
  Message failed() const { return msg(Kind::Failed, 2, 1, b52, 3); }
  Message last_vote(PriestId from) const {
    auto m = msg(Kind::LastVote, from, 1, b61, 3);
    m.entries = {Entry{4, b52, wine}};
    if (from == 3) m.entries.push_back(Entry{5, b52, bread});
    return m;
  }
  Message voted(PriestId from, uint64_t lo, uint64_t hi) const {
    auto m = msg(Kind::Voted, from, 1, b61, 3);
    m.decree_no = lo;
    m.last_no = hi;
    return m;
  }
  Message pre_ballot() const {
    auto m = msg(Kind::PreBallot, 2, 1, b62, 3);
    return m;
  }
  Message pre_vote(PriestId from) const {
    auto m = msg(Kind::PreVote, from, 1, b61, 3);
    m.promised = b52;
    return m;
  }
  Message vote_no(PriestId from) const {
    auto m = msg(Kind::VoteNo, from, 1, b61, 3);
    m.decree_no = 4;
    m.promised = {9, 3};
    return m;
  }
  Message catch_up(PriestId from) const {
    auto m = msg(Kind::CatchUp, from, 1, {}, 6);
    Entry e4{4, b52, wine}, e5{5, b52, bread}, e6{6, {4, 3}, Decree::olive({4, 3})};
    m.entries = {e4, e5, e6};
    return m;
  }
  Message catch_up_ack() const { return msg(Kind::CatchUp, 3, 1, {}, 3); }
  Message forward(uint64_t token) const {
    auto m = msg(Kind::Forward, 3, 1, {}, 0);
    m.token = token;
    m.entries = {Entry{0, {}, client(12, 1, "Olives for the fleet", {})}};
    m.owner = "billing";
    return m;
  }
  Message forward_change() const {
    auto m = msg(Kind::Forward, 3, 1, {}, 0);
    m.token = 78;
    Decree d;
    d.membership = true;
    d.text = change_to_json(add4()).dump();
    m.entries = {Entry{0, {}, d}};
    return m;
  }
  Message answer(uint64_t token, uint64_t decree_no, std::string error = {}) const {
    auto m = msg(Kind::Answer, 2, 1, {}, 0);
    m.token = token;
    m.decree_no = decree_no;
    m.error = std::move(error);
    m.code = m.error.empty() ? Code::Ok : Code::OutcomeUnknown;
    return m;
  }
  // A linearizable read forwarded by priest 3, and the read rounds a president asks and a
  // follower acknowledges (the "read" key of a successful ballot and of a vote yes).
  Message read(uint64_t token) const {
    auto m = msg(Kind::Read, 3, 1, {}, 0);
    m.token = token;
    return m;
  }
  Message success_read(uint64_t commit, uint64_t round) const {
    auto m = success(commit);
    m.token = round;
    return m;
  }
  Message voted_read(PriestId from, uint64_t round) const {
    auto m = voted(from, 1, 0);  // an empty vote: the acknowledgement of a round
    m.token = round;
    return m;
  }
  // Ballot 6.2 begins a membership decree at 4: priest 4 joins.
  Message begin_membership() const {
    auto m = msg(Kind::BeginBallot, 2, 1, b62, 3);
    Decree d;
    d.membership = true;
    d.origin = b62;
    Membership next = *apply_change(three(), add4());
    d.text = membership_decree_text(next, add4());
    m.entries = {Entry{4, b62, d}};
    m.commit_no = 3;
    return m;
  }
  Message success62(uint64_t commit) const {
    auto m = msg(Kind::Success, 2, 1, b62, commit);
    m.commit_no = commit;
    return m;
  }
};

std::string framed(const std::string& payload) {
  std::string out;
  append_frame(out, payload);
  return out;
}

// fuzz_priest's control byte.
enum Who : uint8_t { P2 = 0, P3 = 1, P2New = 2, P4 = 3 };
uint8_t ctl(Who who, int ticks = 0, bool slow = false, bool propose = false) {
  return static_cast<uint8_t>(who | (ticks & 15) << 2 | (slow ? 0x40 : 0) | (propose ? 0x80 : 0));
}
struct Story {
  std::string bytes;
  Story& say(uint8_t c, const Message& m, uint8_t twist = 0) { return raw(c, encode_text(m), twist); }
  Story& raw(uint8_t c, const std::string& payload, uint8_t twist = 0) {
    bytes.push_back(static_cast<char>(c));
    bytes.push_back(static_cast<char>(twist));  // 0: the message as encoded
    bytes += framed(payload);
    return *this;
  }
  Story& wait(int ticks) {  // an empty record: nobody speaks, time passes
    while (ticks > 0) {
      raw(ctl(P2, std::min(ticks, 15)), "");
      ticks -= 15;
    }
    return *this;
  }
};

void write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

// Only the seeds' own files (NN-name) are rewritten: inputs merged in from a fuzzing run
// (named by their hash) stay.
void prepare(const fs::path& dir) { fs::create_directories(dir); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus CORPUS_DIR   (writes CORPUS_DIR/frames, CORPUS_DIR/priest)\n");
    return 2;
  }
  const fs::path root = argv[1];
  const Said s;

  // ---------------------------------------------------------------- frames
  const fs::path frames = root / "frames";
  prepare(frames);
  // [limit][k][sizes][stream]: limit 0x01 = 1 MiB; k = 0: the stream in one feed.
  auto whole = [](const std::string& stream) { return std::string("\x01\x00", 2) + stream; };
  auto chunked = [](const std::string& stream, std::vector<uint8_t> sizes) {
    std::string out = "\x01";
    out.push_back(static_cast<char>(sizes.size()));
    for (auto z : sizes) out.push_back(static_cast<char>(z));
    return out + stream;
  };
  struct Named {
    const char* name;
    std::string payload;
  };
  Message begin_ballot = s.begin_ballot();
  Message voted = s.voted(2, 4, 5);
  voted.to = 1;
  std::vector<Named> peer = {
      {"next-ballot", encode_text(s.next_ballot())},
      {"begin-ballot", encode_text(begin_ballot)},
      {"success", encode_text(s.success(5))},
      {"failed", encode_text(s.failed())},
      {"last-vote", encode_text(s.last_vote(3))},
      {"vote-yes", encode_text(voted)},
      {"vote-no", encode_text(s.vote_no(3))},
      {"pre-ballot", encode_text(s.pre_ballot())},
      {"pre-vote", encode_text(s.pre_vote(3))},
      {"catch-up", encode_text(s.catch_up(3))},
      {"forward", encode_text(s.forward(77))},
      {"forward-change", encode_text(s.forward_change())},
      {"answer", encode_text(s.answer(1001, 5))},
      {"answer-error", encode_text(s.answer(1002, 0, "ballot 5.2 abandoned: no quorum"))},
      {"begin-membership", encode_text(s.begin_membership())},
      {"begin-ballot-binary", encode_binary(begin_ballot)},
      {"success-binary", encode_binary(s.success(5))},
      {"vote-yes-binary", encode_binary(voted)},
  };
  Change replace2;
  replace2.op = Change::Op::Replace;
  replace2.priest = PriestAddress{2, "127.0.0.1", 7102, "127.0.0.1", 0x2e2e2e2e2e2e2e2eull};
  Change remove3;
  remove3.op = Change::Op::Remove;
  remove3.priest.id = 3;
  remove3.force = true;
  std::vector<Named> client = {
      {"hello", json{{"type", "hello"}, {"from", 2}, {"incarnation", incarnation_text(kIncarnation[2])}}.dump()},
      {"propose", json{{"type", "propose"}, {"client", 7}, {"request", 1}, {"decree", "The olive oil ration is doubled"}}.dump()},
      {"status", json{{"type", "status"}}.dump()},
      {"ledger", json{{"type", "ledger"}, {"from", 1}, {"max", 1000}}.dump()},
      {"change-add", json{{"type", "change"}, {"change", change_to_json(add4())}}.dump()},
      {"change-replace", json{{"type", "change"}, {"change", change_to_json(replace2)}}.dump()},
      {"change-remove", json{{"type", "change"}, {"change", change_to_json(remove3)}}.dump()},
      {"bootstrap", json{{"type", "bootstrap"}, {"priests", priests_to_json(three().priests)}}.dump()},
      {"join", json{{"type", "join"}, {"membership", membership_to_json(three())}}.dump()},
      {"not_member", json{{"type", "not_member"}, {"membership", 7}, {"priest", 4},
                          {"incarnation", incarnation_text(kIncarnation[2])}}.dump()},
  };
  int i = 0;
  char name[64];
  for (auto* list : {&peer, &client})
    for (auto& [n, payload] : *list) {
      std::snprintf(name, sizeof name, "%02d-%s", ++i, n);
      write(frames, name, whole(framed(payload)));
    }
  // A connection's life: hello, then messages, cut into odd chunks.
  std::string life = framed(client[0].payload) + framed(peer[0].payload) + framed(peer[1].payload) +
                     framed(peer[2].payload);
  std::snprintf(name, sizeof name, "%02d-%s", ++i, "peer-session-chunked");
  write(frames, name, chunked(life, {1, 3, 0, 50, 7}));
  std::string clientlife = framed(client[1].payload) + framed(client[2].payload) + framed(client[1].payload).substr(0, 9);
  std::snprintf(name, sizeof name, "%02d-%s", ++i, "client-session-half-frame");
  write(frames, name, chunked(clientlife, {4, 1}));
  // The tiny limit: 16 + 4 * 6 = 40 bytes; a frame of exactly 40, then one of 41.
  std::string at_limit = framed(R"({"type":"status","pad":"xxxxxxxxxxxxx"})");
  std::string over = framed(R"({"type":"status","pad":"xxxxxxxxxxxxxx"})");
  std::snprintf(name, sizeof name, "%02d-%s", ++i, "tiny-limit");
  write(frames, name, std::string("\x0c\x02\x05\x02", 4) + at_limit + over);
  Message success_read = s.success_read(5, 7);
  std::vector<Named> reads = {
      {"read", encode_text(s.read(79))},
      {"success-read", encode_text(success_read)},
      {"vote-yes-read", encode_text(s.voted_read(2, 7))},
      {"client-read", json{{"type", "read"}, {"from", 1}, {"max", 100}}.dump()},
  };
  for (auto& [n, payload] : reads) {
    std::snprintf(name, sizeof name, "%02d-%s", ++i, n);
    write(frames, name, whole(framed(payload)));
  }

  // ---------------------------------------------------------------- priest
  const fs::path priest = root / "priest";
  prepare(priest);
  // Priest 1 stands at its 7th tick (seed 1), in ballot 6.1, once only within 8 ticks.
  auto elected = [&] {  // priest 1 stands (ballot 6.1) and priest 2 promises
    Story st;
    st.wait(8).say(ctl(P2), s.pre_vote(2)).say(ctl(P2), s.last_vote(2));
    return st;
  };
  std::vector<std::pair<const char*, Story>> stories;
  stories.push_back({"next-ballot", Story().say(ctl(P2, 1), s.next_ballot())});
  stories.push_back({"pre-ballot", Story().say(ctl(P2, 1), s.pre_ballot())});
  // priest 1's election timeout passes (its pre-ballot is 6.1), priests 2 and 3 say yes
  stories.push_back({"pre-vote", Story().wait(8).say(ctl(P2), s.pre_vote(2)).say(ctl(P3), s.pre_vote(3))});
  stories.push_back({"begin-ballot", Story().say(ctl(P2, 1), s.begin_ballot())});
  stories.push_back({"begin-success", Story().say(ctl(P2), s.begin_ballot()).say(ctl(P2, 2), s.success(5))});
  stories.push_back({"begin-failed", Story().say(ctl(P2), s.begin_ballot()).say(ctl(P2, 3), s.failed())});
  stories.push_back({"catch-up", Story().say(ctl(P3, 1), s.catch_up(3)).say(ctl(P3), s.catch_up_ack())});
  stories.push_back({"elected", elected().say(ctl(P2, 1), s.voted(2, 4, 4))});
  stories.push_back({"elected-b3", Story().wait(8).say(ctl(P3), s.pre_vote(3)).say(ctl(P3), s.last_vote(3)).say(ctl(P3, 1), s.voted(3, 4, 5))});
  stories.push_back({"elected-forward", elected().say(ctl(P2), s.voted(2, 4, 4)).say(ctl(P3), s.forward(77))
                                            .say(ctl(P3, 1), s.voted(3, 5, 5))});
  stories.push_back({"elected-propose", elected().say(ctl(P2, 0, false, true), s.voted(2, 4, 5))});
  stories.push_back({"elected-change", elected().say(ctl(P2), s.voted(2, 4, 4)).say(ctl(P3, 5), s.forward_change())});
  stories.push_back({"candidate-vote-no", Story().wait(8).say(ctl(P2), s.pre_vote(2)).say(ctl(P3, 2), s.vote_no(3))});
  stories.push_back({"follow-answer", Story().say(ctl(P2), s.begin_ballot())
                                          .say(ctl(P2, 1, false, true), s.answer(1001, 6))});
  stories.push_back({"follow-answer-error", Story().say(ctl(P2), s.begin_ballot())
                                                .say(ctl(P2, 0, false, true), s.answer(1001, 0, "ballot 5.2 abandoned"))});
  stories.push_back({"membership-decree", Story().say(ctl(P2), s.next_ballot()).say(ctl(P2), s.begin_membership())
                                              .say(ctl(P2, 2), s.success62(4))});
  stories.push_back({"stranger", Story().say(ctl(P2New, 1), s.next_ballot()).say(ctl(P2New), s.catch_up(2))});
  stories.push_back({"outsider", Story().say(ctl(P4, 1), s.catch_up(4)).say(ctl(P4), s.begin_ballot())});
  stories.push_back({"slow-disk", Story().say(ctl(P2, 0, true), s.next_ballot()).say(ctl(P2, 1, true), s.begin_ballot())
                                      .say(ctl(P2, 1), s.success(5))});
  stories.push_back({"time-passes", Story().wait(60)});
  // Twisted (fuzz_priest.cpp, apply_twist), harmlessly: the vote reported at 4 moves to 5
  // (0x88: the last entry's decree_no + 1), the catch-up claims one decree more (0x86:
  // passed_len + 1); the fuzzer turns these bytes into edge values.
  stories.push_back({"elected-twist", Story().wait(8).say(ctl(P2), s.pre_vote(2)).say(ctl(P2), s.last_vote(2), 0x88)});
  stories.push_back({"catch-up-twist", Story().say(ctl(P3, 1), s.catch_up(3), 0x86)});
  // Reads: forwarded to a president (answered once a majority acknowledged its round), and
  // a follower acknowledging a round its president asks.
  stories.push_back({"elected-read", elected().say(ctl(P2), s.voted(2, 4, 4)).say(ctl(P3), s.read(79))
                                         .say(ctl(P2, 1), s.voted_read(2, 1))});
  stories.push_back({"follow-read-round", Story().say(ctl(P2), s.begin_ballot()).say(ctl(P2, 1), s.success_read(5, 3))});
  i = 0;
  for (auto& [n, st] : stories) {
    std::snprintf(name, sizeof name, "%02d-%s", ++i, n);
    write(priest, name, st.bytes);
  }
  std::printf("make_corpus: %zu frames and %zu priest seeds in %s\n", peer.size() + client.size() + 3 + reads.size(),
              stories.size(), root.c_str());
  return 0;
}
