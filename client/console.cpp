#include "client/console.hpp"

#include <arpa/inet.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "net/rpc.hpp"
#include "net/tls.hpp"
#include "proto/config.hpp"
#include "page/page.hpp"

namespace parliament {

namespace {

httplib::Server* running = nullptr;

// A Host header naming an IP address or localhost (with or without the port).
bool addressed_by_ip(std::string host) {
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    auto close = host.find(']');
    if (close == std::string::npos) return false;
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  unsigned char buf[16];
  return host == "localhost" || inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// One keep-alive connection per priest, shared by the console's threads (cpp-httplib sends
// one request at a time on it).
class Priests {
 public:
  Priests(const Config& config, const std::string& certs) : config_(config), certs_(certs) {}

  httplib::Client* client(PriestId id) {
    std::lock_guard lock(mu_);
    auto it = clients_.find(id);
    if (it != clients_.end()) return it->second.get();
    auto url = http_url(config_, id);
    if (url.empty()) return nullptr;
    std::unique_ptr<httplib::Client> c;
    if (config_.tls) {
      auto files = tls::files_for(certs_, {tls::Role::Client});
      c = std::make_unique<httplib::Client>(url, files.cert, files.key);
      c->set_ca_cert_path(files.ca.c_str());
      c->enable_server_certificate_verification(true);
    } else {
      c = std::make_unique<httplib::Client>(url);
    }
    c->set_connection_timeout(0, 500000);
    c->set_read_timeout(2, 0);
    c->set_keep_alive(true);
    return clients_.emplace(id, std::move(c)).first->second.get();
  }

 private:
  const Config& config_;
  std::string certs_;
  std::mutex mu_;
  std::map<PriestId, std::unique_ptr<httplib::Client>> clients_;
};

// /priest/N/(status|metrics|events|ledger): asked of priest N's HTTP port, as the client.
void relay(const Config& config, Priests& priests, const httplib::Request& req,
           httplib::Response& res) {
  PriestId id = 0;
  try {
    id = static_cast<PriestId>(std::stoul(req.matches[1]));
  } catch (...) {
  }
  auto* c = priests.client(id);
  if (!c) {
    res.status = 404;
    res.set_content(
        "no priest " + std::string(req.matches[1]) + " with an http_port in the configuration\n",
        "text/plain");
    return;
  }
  // Only the numeric parameters the priest reads are passed on.
  std::string path = "/" + std::string(req.matches[2]), sep = "?";
  for (const char* k : {"since", "from", "max"}) {
    if (!req.has_param(k)) continue;
    std::string v = req.get_param_value(k);
    if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos)
      continue;
    path += sep + k + "=" + v;
    sep = "&";
  }
  auto r = c->Get(path);
  if (!r) {
    res.status = 502;
    std::string why = httplib::to_string(r.error());
    if (long v = c->get_openssl_verify_result(); v != 0)
      why += std::string(": ") + X509_verify_cert_error_string(v);
    res.set_content("priest " + std::to_string(id) + " (" + http_url(config, id) +
                        ") did not answer: " + why + "\n",
                    "text/plain");
    return;
  }
  res.status = r->status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(r->body, r->get_header_value("Content-Type"));
}

// The priests the page draws: the membership in force (asked of the priests each time the
// page asks, every few seconds), each with the path of its relayed HTTP port where the
// configuration names one, and the configuration's priests no longer members, marked so.
// Before any priest answers with a membership: the configuration's priests.
nlohmann::json console_priests(const Config& config) {
  nlohmann::json list{{"mode", "console"}, {"self", nullptr}, {"priests", nlohmann::json::array()}};
  auto held = discover_membership(config.priests, Millis(500));
  auto entry = [&](PriestId id, bool member) {
    nlohmann::json p{{"id", id}, {"member", member}};
    if (config.http.count(id)) p["url"] = "priest/" + std::to_string(id);
    list["priests"].push_back(std::move(p));
  };
  if (!held) {
    for (auto& [id, h] : config.http) entry(id, true);
    return list;
  }
  for (const auto& p : held->priests) entry(p.id, true);
  for (auto& [id, h] : config.http)
    if (!held->find(id)) entry(id, false);
  list["decree_no"] = held->decree_no;
  return list;
}

// The page, the list of priests, and what each priest's HTTP port answers.
void add_routes(httplib::Server& srv, const Config& config, Priests& priests) {
  // Only requests addressed to an IP address or to localhost: a web page elsewhere that points
  // its own name at this machine (DNS rebinding) reads nothing through the console.
  srv.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (addressed_by_ip(req.get_header_value("Host")))
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 403;
    res.set_content(
        "paxos-client console answers requests addressed to an IP address or localhost only\n",
        "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  srv.Get("/", [](const httplib::Request&, httplib::Response& res) {
    auto page = parliament_page();
    res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
  });
  srv.Get("/parliament", [&config](const httplib::Request&, httplib::Response& res) {
    res.set_content(console_priests(config).dump(), "application/json");
  });
  srv.Get(R"(/priest/(\d+)/(status|metrics|events|ledger))",
          [&](const httplib::Request& req, httplib::Response& res) {
            relay(config, priests, req, res);
          });
}

}  // namespace

int run_console(const Config& config, const std::string& certs, const std::string& listen,
                uint16_t port) {
  if (config.http.empty()) {
    std::cerr << "paxos-client: the configuration gives no priest an \"http_port\": there is "
                 "nothing to watch\n";
    return 2;
  }
  if (config.tls)
    if (auto ctx =
            tls::make_context(tls::files_for(certs, {tls::Role::Client}), {tls::Role::Client});
        !ctx) {
      std::cerr << "paxos-client: " << ctx.error() << "\n";
      return 2;
    }
  std::signal(SIGPIPE, SIG_IGN);  // a browser that goes away mid-answer costs that answer only
  Priests priests(config, certs);
  httplib::Server srv;
  srv.new_task_queue = [] { return new httplib::ThreadPool(8); };
  add_routes(srv, config, priests);
  if (!srv.bind_to_port(listen.c_str(), port)) {
    std::cerr << "paxos-client: cannot listen on " << listen << ":" << port
              << ": is the port in use?\n";
    return 1;
  }
  if (listen != "127.0.0.1" && listen != "localhost" && listen != "::1")
    std::cerr << "paxos-client: WARNING: the console listens on " << listen
              << ": anyone who reaches that address reads the parliament's status, metrics, events "
                 "and ledger "
                 "in plain HTTP, as the client\n";
  running = &srv;
  std::signal(SIGINT, [](int) { running->stop(); });
  std::signal(SIGTERM, [](int) { running->stop(); });
  std::cout << "paxos-client: watch the parliament at http://"
            << (listen == "0.0.0.0" ? "127.0.0.1" : listen) << ":" << port << "/ (Ctrl-C stops)"
            << std::endl;
  srv.listen_after_bind();
  return 0;
}

int write_timeline(const std::vector<std::string>& data_dirs, const std::string& out) {
  nlohmann::json events = nlohmann::json::array();
  size_t skipped = 0, files = 0;
  for (const auto& dir : data_dirs) {
    bool any = false;
    for (const char* name : {"/events.jsonl.1", "/events.jsonl"}) {
      std::ifstream in(dir + name);
      if (!in) continue;
      any = true;
      ++files;
      std::string line;
      while (std::getline(in, line)) {
        auto e = nlohmann::json::parse(line, nullptr, false);
        // A line torn by a crash, or not an event: left out, and counted.
        if (e.is_discarded() || !e.is_object() || !e.contains("t") || !e["t"].is_number() ||
            !e.contains("kind") || !e.contains("priest")) {
          ++skipped;
          continue;
        }
        events.push_back(std::move(e));
      }
    }
    if (!any) {
      std::cerr << "paxos-client: " << dir
                << " has no events.jsonl (is it a priest's data directory?)\n";
      return 2;
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) {
                     return a["t"].get<double>() < b["t"].get<double>();
                   });
  std::ofstream o(out, std::ios::binary | std::ios::trunc);
  o << recorded_page(events.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  o.close();
  if (!o) {
    std::cerr << "paxos-client: cannot write " << out << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::cout << "wrote " << out << ": " << events.size() << " events from " << files << " files";
  if (skipped) std::cout << " (" << skipped << " unreadable lines left out)";
  std::cout << "\n";
  return 0;
}

}  // namespace parliament
