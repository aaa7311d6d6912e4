#include "server/http.hpp"

#include <chrono>
#include <atomic>
#include <future>
#include <thread>

#include <httplib.h>
#include <asio/ssl/context.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "client/openssl.hpp"
#include "server/page.hpp"

namespace parliament {

std::string http_url(const Config& config, PriestId id) {
  auto it = config.http.find(id);
  if (it == config.http.end()) return "";
  const std::string& h = it->second.host;
  std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;  // IPv6
  return std::string(config.tls ? "https://" : "http://") + host + ":" + std::to_string(it->second.port);
}

namespace {

// Copies the priest's credentials into the context cpp-httplib made for its port: its
// certificate and key, the parliament's CA as the only trust (and as the CA list a browser is
// offered), a client certificate required, TLS 1.3.
bool use_priest_credentials(SSL_CTX& to, SSL_CTX* from) {
  X509* cert = SSL_CTX_get0_certificate(from);
  EVP_PKEY* key = SSL_CTX_get0_privatekey(from);
  X509_STORE* store = SSL_CTX_get_cert_store(from);
  if (!cert || !key || !store || SSL_CTX_set_min_proto_version(&to, TLS1_3_VERSION) != 1 ||
      SSL_CTX_use_certificate(&to, cert) != 1 || SSL_CTX_use_PrivateKey(&to, key) != 1 ||
      X509_STORE_up_ref(store) != 1)
    return false;
  SSL_CTX_set_cert_store(&to, store);
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
    if (X509* ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) SSL_CTX_add_client_CA(&to, ca);
  SSL_CTX_set_verify(&to, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_num_tickets(&to, 0);
  return true;
}

// cpp-httplib's pool with a bound: at most kWorkers connections served and kQueued waiting.
// Beyond that the accepting thread serves the newcomer itself, so it accepts no more until
// one is done: the connections (and descriptors, which the priest shares with its peers)
// an HTTP client can hold stay bounded, and the rest wait in the kernel's backlog.
class BoundedPool : public httplib::TaskQueue {
 public:
  static constexpr size_t kWorkers = 8, kQueued = 32;
  void enqueue(std::function<void()> fn) override {
    if (pending_.load() >= kWorkers + kQueued) return fn();
    ++pending_;
    pool_.enqueue([this, fn = std::move(fn)] {
      fn();
      --pending_;
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  std::atomic<size_t> pending_{0};
  httplib::ThreadPool pool_{kWorkers};
};

uint64_t number_param(const httplib::Request& req, const char* name, uint64_t fallback) {
  if (!req.has_param(name)) return fallback;
  try {
    return std::stoull(req.get_param_value(name));
  } catch (...) {
    return fallback;
  }
}

}  // namespace

class HttpPort::Impl {
 public:
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  std::function<void(std::function<void()>)> post;
  std::atomic<bool> closing{false};  // the priest is stopping: answer nothing more

  // Makes the answer on the I/O thread; nullopt if it did not come within 2 s, failed, or
  // the priest is stopping (its thread no longer runs what is posted).
  std::optional<std::string> ask(std::function<std::string()> make) {
    if (closing) return std::nullopt;
    auto done = std::make_shared<std::promise<std::optional<std::string>>>();
    auto answer = done->get_future();
    post([done, make = std::move(make)] {
      try {
        done->set_value(make());
      } catch (const std::exception& e) {  // never on the I/O thread's way out
        spdlog::warn("HTTP: could not make an answer: {}", e.what());
        done->set_value(std::nullopt);
      }
    });
    for (int i = 0; i < 40; ++i)
      if (closing) return std::nullopt;
      else if (answer.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready) return answer.get();
    return std::nullopt;
  }
};

HttpPort::HttpPort(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpPort::~HttpPort() {
  impl_->closing = true;
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<HttpPort>> HttpPort::start(const Config& config, PriestId id, const HttpAddress& at,
                                                  const std::shared_ptr<asio::ssl::context>& tls,
                                                  HttpRoutes routes,
                                                  std::function<void(std::function<void()>)> post) {
  using R = Result<std::unique_ptr<HttpPort>>;
  auto impl = std::make_unique<Impl>();
  impl->post = std::move(post);
  if (tls) {
    SSL_CTX* priest_ctx = tls->native_handle();
    auto s = std::make_unique<httplib::SSLServer>(
        [priest_ctx](SSL_CTX& ctx) { return use_priest_credentials(ctx, priest_ctx); });
    if (!s->is_valid())
      return R::failure("cannot set up HTTPS for priest " + std::to_string(id) + ": " + openssl::errors());
    impl->server = std::move(s);
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  auto& srv = *impl->server;
  srv.new_task_queue = [] { return new BoundedPool; };
  srv.set_payload_max_length(4096);
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  // A kept-alive connection holds a worker: it is let go after 5 idle seconds or 100 requests.
  srv.set_keep_alive_timeout(5);
  srv.set_keep_alive_max_count(100);

  // The page polls every priest: answer its cross-origin requests from the priests' ports only.
  std::set<std::string> origins;
  for (auto& [pid, h] : config.http) origins.insert(http_url(config, pid));
  srv.set_post_routing_handler([origins](const httplib::Request& req, httplib::Response& res) {
    auto origin = req.get_header_value("Origin");
    if (!origins.count(origin)) return;
    res.set_header("Access-Control-Allow-Origin", origin);
    res.set_header("Access-Control-Allow-Credentials", "true");
    res.set_header("Vary", "Origin");
  });
  Impl* self = impl.get();
  auto answer = [self](httplib::Response& res, std::function<std::string()> make, const char* type) {
    auto text = self->ask(std::move(make));
    if (!text) {
      res.status = 503;
      res.set_content("the priest did not answer within 2 s\n", "text/plain");
      return;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::move(*text), type);
  };
  srv.Get("/", [](const httplib::Request&, httplib::Response& res) {
    std::string_view page = parliament_page();
    res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
  });
  nlohmann::json parliament{{"mode", "priest"}, {"self", id}, {"priests", nlohmann::json::array()}};
  for (auto& [pid, h] : config.http) parliament["priests"].push_back({{"id", pid}, {"url", http_url(config, pid)}});
  srv.Get("/parliament", [text = parliament.dump()](const httplib::Request&, httplib::Response& res) {
    res.set_content(text, "application/json");
  });
  srv.Get("/status", [answer, routes](const httplib::Request&, httplib::Response& res) {
    answer(res, routes.status, "application/json");
  });
  srv.Get("/metrics", [answer, routes](const httplib::Request&, httplib::Response& res) {
    answer(res, routes.metrics, "text/plain; version=0.0.4; charset=utf-8");
  });
  srv.Get("/events", [answer, routes](const httplib::Request& req, httplib::Response& res) {
    uint64_t since = number_param(req, "since", 0);
    answer(res, [routes, since] { return routes.events(since); }, "application/json");
  });
  srv.Get("/ledger", [answer, routes](const httplib::Request& req, httplib::Response& res) {
    uint64_t from = std::max<uint64_t>(1, number_param(req, "from", 1));
    uint64_t max = std::clamp<uint64_t>(number_param(req, "max", 100), 1, 1000);
    answer(res, [routes, from, max] { return routes.ledger(from, max); }, "application/json");
  });
  if (!srv.bind_to_port(at.listen.c_str(), at.port))
    return R::failure("cannot listen for HTTP on " + at.listen + ":" + std::to_string(at.port) +
                      " (http_listen, http_port of priest " + std::to_string(id) + "): is the port in use?");
  impl->thread = std::thread([self] { self->server->listen_after_bind(); });
  // stop() does nothing until the server runs: wait for that, so the destructor can stop it.
  for (int i = 0; i < 500 && !impl->server->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return std::unique_ptr<HttpPort>(new HttpPort(std::move(impl)));
}

}  // namespace parliament
