// The parliament's configuration, read from a file or a --cluster list (see config_file.hpp).
#include "net/config_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace parliament {

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<Config>::failure("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Result<Config>::failure("cannot read " + path + ": " + std::strerror(errno));
  return parse_config(text.str(), path);
}

Result<Config> parse_cluster(const std::string& list) {
  using R = Result<Config>;
  Config c;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto p = parse_address(item, static_cast<PriestId>(c.priests.size() + 1),
                           "--cluster: \"" + item + "\"");
    if (!p) return R::failure(p.error());
    c.priests.push_back(std::move(*p));
  }
  if (c.priests.empty()) return R::failure("--cluster: expected host:port,host:port,...");
  return c;
}

}  // namespace parliament
