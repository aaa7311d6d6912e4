// libFuzzer target: bytes from a socket, through the framing decoder (proto/framing.hpp) and
// every decoder the host runs on a frame it did not write itself.
//
// Input: [limit][k][k chunk sizes][stream...]
//   limit  bit 0 set: frames up to 1 MiB; clear: a tiny limit, 16 + 4 * (limit >> 1) bytes
//          (16..524), so that frames at and just over the limit come within a short input.
//   k      (k & 15) chunk sizes follow: the stream is fed in chunks of those sizes in turn
//          (0 is an empty feed); none: the stream in one feed.
//   stream what the peer sent.
// Every complete payload goes where the host sends it (server/peer_frames.cpp): decode_frame
// (a peer's paxos frame, JSON or binary), parse_client_call and parse_object (a hello or a
// client's frame: the first must take nothing the second refuses, nor read it otherwise), then
// the proto functions the host calls on what a client frame carries (parse_incarnation,
// parse_change, parse_priests, parse_membership), and the priest on what a decree carries
// (parse_membership_decree, parse_change of a forwarded membership change). Those that
// read a JSON tree (hello, change, bootstrap, join, a forwarded change) are also tried with
// each of their first 64 values replaced in turn by 1, null, "x" and {}: a value of the
// wrong type under a known key, which a client may write as easily as any other, is found
// at once instead of waiting for the fuzzer to type it.
//
// Checked, beyond "no crash, no sanitizer report, no exception":
//   - the decoder yields exactly the frames of the stream, however it was cut into chunks,
//     and fails exactly when the stream holds a length of 0 or over the limit;
//   - what it buffers stays below one frame (4 + limit bytes), and no allocation made while
//     feeding or reading it is larger than about twice the bytes actually fed: a length is
//     never trusted before the bytes arrive;
//   - where quick_sax_parse is sure of a payload, nlohmann's parser reads it the same way;
//   - a decoded message re-encodes (encode_text) to text that decodes to the same message;
//     client-frame values that parse round-trip through their JSON writers unchanged.
#include <sanitizer/allocator_interface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/client_call.hpp"
#include "proto/framing.hpp"
#include "proto/membership.hpp"
#include "proto/message.hpp"
#include "proto/quick_json.hpp"
#include "tests/common/sax_recorder.hpp"

using namespace parliament;
using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_frames: broken: %s\n", what.c_str());
  std::abort();
}

// Allocations made inside the decoder, checked by a sanitizer malloc hook.
bool g_in_decoder = false;
size_t g_fed = 0;  // bytes fed to the decoder so far

void on_malloc(const volatile void*, size_t size) {
  if (!g_in_decoder) return;
  if (size > 2 * g_fed + 256) {
    g_in_decoder = false;
    std::fprintf(stderr, "fuzz_frames: broken: the decoder allocated %zu bytes after being fed %zu\n",
                 size, g_fed);
    std::abort();
  }
}
void on_free(const volatile void*) {}

struct Hooks {
  Hooks() { __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }
} hooks;

// The frames of `stream` by the rules in framing.hpp, in one go: the payloads, and whether
// the stream breaks them (a length of 0 or over the limit at a frame's head).
struct Model {
  std::vector<std::string> payloads;
  bool error = false;
};
Model model(std::string_view s, size_t max) {
  Model m;
  size_t pos = 0;
  while (s.size() - pos >= 4) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data() + pos);
    uint32_t n = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
    if (n == 0 || n > max) {
      m.error = true;
      break;
    }
    if (s.size() - pos - 4 < n) break;
    m.payloads.emplace_back(s.substr(pos + 4, n));
    pos += 4 + n;
  }
  return m;
}

// Every value inside `j`, in document order.
void values(json& j, std::vector<json*>& out) {
  if (!j.is_structured()) return;
  for (auto& v : j) {
    out.push_back(&v);
    values(v, out);
  }
}

// Calls `f` with the text of `j` with each of its first 64 values replaced in turn by a value
// of each other type.
template <class F>
void sweep_types(const json& j, F&& f) {
  json copy = j;
  std::vector<json*> all;
  values(copy, all);
  for (size_t i = 0; i < all.size() && i < 64; ++i) {
    json keep = std::move(*all[i]);  // its children stay where they are (all[] points at them)
    for (json other : {json(1), json(nullptr), json("x"), json::object()}) {
      *all[i] = other;
      f(copy.dump());
    }
    *all[i] = std::move(keep);
  }
}

void forwarded_change(const json& j) {
  auto c = parse_change(j);
  if (c && !(*parse_change(change_to_json(*c)) == *c)) fail("a change does not round-trip: " + j.dump());
}

void check_decree(const Entry& e, bool forwarded) {
  if (!e.decree.membership) return;
  if (forwarded) {
    // Priest::on_forward: a membership "decree" carries the god's change request.
    auto j = json::parse(e.decree.text, nullptr, false);
    forwarded_change(j);
    if (j.is_object()) sweep_types(j, [](const std::string& text) { forwarded_change(json::parse(text)); });
  } else {
    // Priest::apply_passed, once it passed.
    (void)parse_membership_decree(e.decree.text, e.decree_no);
  }
}

// Where the quick reading of JSON (proto/quick_json.hpp) is sure of a text, it gives the
// same events and result as nlohmann's parser, read to the end or stopped at the third event.
void quick_json(std::string_view payload) {
  for (size_t stop_at : {0, 3}) {
    testing::SaxRecorder quick, slow;
    quick.stop_at = slow.stop_at = stop_at;
    QuickJson q = quick_sax_parse(payload, quick);
    if (q == QuickJson::Unsure) continue;
    bool ok = json::sax_parse(payload.begin(), payload.end(), &slow);
    if ((q == QuickJson::Done) != ok || quick.events != slow.events)
      fail("quick_sax_parse read a text otherwise than nlohmann's parser");
  }
}

void peer_frame(std::string_view payload) {
  auto m = decode_frame(payload);  // JSON, or binary when the payload begins with 0
  if (!m) return;
  for (const auto& e : m->entries) check_decree(e, m->kind == Kind::Forward);
  std::string once = encode_text(*m);
  auto back = decode_text(once);
  if (!back) fail("encode_text wrote what decode_text refuses (" + back.error() + "): " + once);
  std::string twice = encode_text(*back);
  if (twice != once) fail("a message does not round-trip:\n  " + once + "\n  " + twice);
  if (has_binary_form(m->kind)) {  // and its binary form says the same
    auto bin = decode_binary(encode_binary(*m));
    if (!bin || encode_text(*bin) != once)
      fail("a message does not round-trip through its binary form: " + once);
  }
}

// What the host (server/peer_frames.cpp) does with a hello or a client's frame, as far as proto goes.
void client_frame(std::string_view payload, bool sweep) {
  auto j = parse_object(payload);
  // The client port's fast path (proto/client_call.hpp) takes a frame only if the general
  // reading takes it too, and reads from it what that one reads.
  if (auto call = parse_client_call(payload)) {
    if (!j) fail("parse_client_call took a frame parse_object refuses");
    auto is = [&](const char* key, const nlohmann::json& v) {
      auto it = j->find(key);
      return it != j->end() && *it == v;
    };
    auto optional_is = [&](const char* key, const std::optional<uint64_t>& v) {
      return v ? is(key, *v) : !j->contains(key);
    };
    bool same = call->type == ClientCall::Type::Propose
                    ? is("type", "propose") && is("client", call->client) &&
                          is("request", call->request) && is("decree", call->decree)
                    : is("type", "read") && optional_is("from", call->from) &&
                          optional_is("max", call->max);
    if (!same) fail("parse_client_call read a frame otherwise than parse_object");
  }
  if (!j) return;
  // The host writes replies with frame(); one must come back whole.
  std::string wire = frame(*j);
  if (wire.size() - 4 <= kDefaultMaxFrameBytes) {
    FrameDecoder d;
    if (!d.feed(wire)) fail("frame() wrote a frame its decoder refuses: " + d.error());
    auto p = d.next();
    if (!p || d.next() || d.pending_bytes() != 0 || !parse_object(*p)) fail("frame() does not round-trip");
  }
  auto t = j->find("type");
  if (t == j->end() || !t->is_string()) return;
  const std::string& type = t->get_ref<const std::string&>();
  if (sweep && (type == "hello" || type == "change" || type == "bootstrap" || type == "join"))
    sweep_types(*j, [](const std::string& text) { client_frame(text, false); });
  if (type == "hello") {
    if (auto inc = j->find("incarnation"); inc != j->end() && inc->is_string()) {
      auto v = parse_incarnation(inc->get<std::string>());
      if (v && parse_incarnation(incarnation_text(*v)) != v) fail("an incarnation does not round-trip");
    }
  } else if (type == "change") {
    if (auto ch = j->find("change"); ch != j->end()) {
      auto c = parse_change(*ch);
      if (c) {
        auto again = parse_change(change_to_json(*c));
        if (!again || !(*again == *c)) fail("a change does not round-trip: " + ch->dump());
        (void)describe(*c);
      }
    }
  } else if (type == "bootstrap") {
    if (auto p = j->find("priests"); p != j->end()) {
      auto v = parse_priests(*p, "bootstrap.priests");
      if (v) {
        auto again = parse_priests(priests_to_json(*v), "again");
        if (!again || *again != *v) fail("a priest list does not round-trip: " + p->dump());
      }
    }
  } else if (type == "join") {
    if (auto mj = j->find("membership"); mj != j->end()) {
      auto m = parse_membership(*mj, "join.membership");
      if (m) {
        auto again = parse_membership(membership_to_json(*m), "again");
        if (!again || !(*again == *m)) fail("a membership does not round-trip: " + mj->dump());
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max = (data[0] & 1) ? size_t(1) << 20 : 16 + 4 * size_t(data[0] >> 1);
  size_t k = data[1] & 15;
  if (size < 2 + k) return 0;
  std::vector<size_t> chunks(data + 2, data + 2 + k);
  std::string_view stream(reinterpret_cast<const char*>(data) + 2 + k, size - 2 - k);

  FrameDecoder dec(max);
  std::vector<std::string> got;
  g_fed = 0;
  size_t pos = 0, turn = 0;
  bool ok = true;
  while (ok && pos < stream.size()) {
    size_t n = chunks.empty() ? stream.size() : std::min(chunks[turn++ % chunks.size()], stream.size() - pos);
    g_fed += n;
    g_in_decoder = true;
    ok = dec.feed(stream.substr(pos, n));
    g_in_decoder = false;
    pos += n;
    while (ok) {
      g_in_decoder = true;
      auto p = dec.next();
      g_in_decoder = false;
      if (!p) break;
      got.push_back(std::move(*p));
    }
    if (dec.failed()) ok = false;
    if (ok && dec.pending_bytes() >= 4 + max)
      fail("the decoder holds " + std::to_string(dec.pending_bytes()) + " bytes, more than a frame of " +
           std::to_string(max));
    // Chunk sizes that are all 0 would feed nothing forever; with one of at most 15 sizes
    // above 0, a byte goes in every 15 turns at worst.
    if (!chunks.empty() && turn > 15 * stream.size() + 16) break;
  }
  if (pos == stream.size()) {
    Model want = model(stream, max);
    if (got != want.payloads)
      fail("the decoder yielded " + std::to_string(got.size()) + " frames, the stream holds " +
           std::to_string(want.payloads.size()));
    if (dec.failed() != want.error)
      fail(std::string("the decoder ") + (dec.failed() ? "failed (" + dec.error() + ")" : "did not fail") +
           " on a stream that " + (want.error ? "breaks" : "does not break") + " the framing");
  }
  for (const auto& p : got) {
    quick_json(p);
    peer_frame(p);
    client_frame(p, true);
  }
  return 0;
}
