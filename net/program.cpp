// Command line and log lines shared by every program (see program.hpp).
#include "net/program.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

namespace parliament {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

// The first word of the command line that is neither an option, an option's value nor a
// command of `app`: what the user meant as the command, when none was recognised.
std::optional<std::string> stray_word(CLI::App& app, const std::vector<std::string>& commands,
                                      int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    std::string before = argv[i - 1];
    if (i > 1 && before.size() > 1 && before[0] == '-' && before.find('=') == std::string::npos) {
      const CLI::Option* o = app.get_option_no_throw(before);
      if (o && o->get_items_expected_max() > 0) continue;  // the value of that option
    }
    if (std::find(commands.begin(), commands.end(), word) == commands.end()) return word;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> nearest_command(const std::string& word,
                                           const std::vector<std::string>& commands) {
  std::optional<std::string> best;
  size_t best_distance = 3;
  for (const auto& c : commands) {
    size_t d = edit_distance(word, c);
    if (d < best_distance && d < word.size()) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    auto names = command_names(app);
    auto word = names.empty() ? std::nullopt : stray_word(app, names, argc, argv);
    if (e.get_exit_code() == 0 || !word) return app.exit(e) == 0 ? 0 : 2;
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    std::cerr << std::filesystem::path(argv[0]).filename().string() << ": unknown command '"
              << *word << "'";
    if (auto near = nearest_command(*word, names)) std::cerr << "; did you mean '" << *near << "'?";
    std::cerr << "\n  commands: " << all << "\n  Run with --help for more information.\n";
    return 2;
  }
}

void use_dated_log_lines(const std::string& who) {
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ " + (who.empty() ? "" : who + ": ") + "%v");
}

}  // namespace parliament
