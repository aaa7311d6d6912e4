// decree: passes one decree and reads the ledger back, with the parliament's client library.
//
//   decree CONFIG TEXT     CONFIG: the parliament's configuration file (its "certs" hold
//                          client.crt and client.key)
#include <cstdio>
#include <memory>

#include <parliament/client.hpp>

namespace pc = parliament::client;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: decree CONFIG TEXT\n");
    return 2;
  }
  pc::Options options;
  options.config_file = argv[1];
  std::unique_ptr<pc::Parliament> parliament;
  pc::Status s = pc::Parliament::open(options, &parliament);
  if (!s.ok()) {
    std::fprintf(stderr, "decree: %s\n", s.to_string().c_str());
    return 2;
  }

  // Retried for up to options.timeout as one request: it passes at most once.
  uint64_t number = 0;
  s = parliament->propose(argv[2], &number);
  if (!s.ok()) {
    std::fprintf(stderr, "decree: not passed (%s; %s)\n", s.to_string().c_str(),
                 s.retryable() ? "it may pass if asked again" : "asking again will not help");
    return 1;
  }
  std::printf("passed as decree %llu\n", static_cast<unsigned long long>(number));

  // A linearizable read holds every decree acknowledged before it began: ours too.
  pc::Reading reading;
  s = parliament->read(number, &reading);
  if (!s.ok() || reading.decrees.empty() || reading.decrees.front().text != argv[2]) {
    std::fprintf(stderr, "decree: read back failed: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("read back decree %llu: %s (confirmed up to %llu)\n",
              static_cast<unsigned long long>(reading.decrees.front().number),
              reading.decrees.front().text.c_str(),
              static_cast<unsigned long long>(reading.upto));
  return 0;
}
