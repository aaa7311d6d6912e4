// Options made into a configuration and TLS credentials (client/lib/open.hpp).
#include "client/lib/open.hpp"

#include "net/config_file.hpp"
#include "net/rpc.hpp"
#include "proto/membership.hpp"

namespace parliament::client {

std::string certs_dir_of(const Options& options, const Config& config) {
  if (options.certs_dir.empty() && !options.addresses.empty()) return "data/certs";
  return tls::certs_dir(config, options.config_file, options.certs_dir);
}

Result<Config> parliament_config(const Options& options) {
  using R = Result<Config>;
  if (options.config_file.empty() == options.addresses.empty())
    return R::failure("say where the parliament is: a configuration file or a list of "
                      "addresses (host:port,host:port,...), not both");
  if (!options.client_name.empty())
    if (auto why = client_name_error(options.client_name); !why.empty()) return R::failure(why);
  R config = R::failure("");
  if (!options.config_file.empty()) {
    config = load_config(options.config_file);
  } else {
    std::string list;
    for (const auto& a : options.addresses) list += (list.empty() ? "" : ",") + a;
    config = parse_cluster(list);
  }
  if (!config) return config;
  if (options.plaintext) config->tls = false;
  // Addresses name no priest: any priest of the parliament may answer at each.
  if (!options.addresses.empty()) check_priest_ids(false);
  const tls::Identity me = options.priest_certificate
                               ? tls::Identity{tls::Role::Priest, options.priest_certificate}
                               : tls::Identity{tls::Role::Client, 0, options.client_name};
  std::string certs =
      options.addresses.empty() ? options.certs_dir : certs_dir_of(options, *config);
  if (auto s = use_tls(*config, options.config_file, me, certs); !s) return R::failure(s.error());
  return config;
}

}  // namespace parliament::client
