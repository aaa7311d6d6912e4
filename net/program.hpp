// What every program of the parliament (paxos-priest, paxos-god, paxos-client, paxos-bench)
// does the same way at its start: reading its command line, and the shape of its log lines.
//
// Called from main() only, before any thread starts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace parliament {

// Parses the command line. Returns nothing when the program should go on, else the exit
// status to return at once: 0 after --help or --version, 2 for a command line that is wrong
// (CLI11's message on standard error; for a word that is no command of `app`, its name and
// the nearest command, as "unknown command 'propse'; did you mean 'propose'?").
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

// The command among `commands` nearest to `word` (edit distance), if near enough to be a
// likely slip: at most 2 edits, and fewer than the word's length.
std::optional<std::string> nearest_command(const std::string& word,
                                           const std::vector<std::string>& commands);

// Every log line of this process begins with the date and time to the millisecond and the
// level, then `who` and a colon when given ("priest 3"), as
// "2026-12-05 21:17:07.123 info  priest 3: ...".
void use_dated_log_lines(const std::string& who = "");

}  // namespace parliament
