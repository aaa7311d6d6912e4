// certs: makes the parliament's CA and every party's key and certificate (see certs.hpp).
#include "server/certs.hpp"

#include <algorithm>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "net/openssl.hpp"

namespace parliament::certs {
namespace {

using namespace parliament::openssl;

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Writes `data` to a new file at `path` created with `mode` (so a key is 0600 from its first
// byte), synced. With `replace`, an old file there is removed first.
Status write_new(const std::string& path, const std::string& data, mode_t mode, bool replace) {
  if (replace && ::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::failure("cannot remove " + path + ": " + std::strerror(errno));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::failure("cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  int err = done < data.size() ? errno : ::fsync(fd) != 0 ? errno : 0;
  if (::close(fd) != 0 && !err) err = errno;
  if (err) {
    ::unlink(path.c_str());
    return Status::failure("cannot write " + path + ": " + std::strerror(err));
  }
  return ok_status();
}

template <class T, class Read>
Result<T> read_pem(const std::string& path, Read read, const char* what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Result<T>::failure("cannot read " + path + ": " + std::strerror(errno));
  T obj(read(f));
  std::fclose(f);
  ERR_clear_error();
  if (!obj) return Result<T>::failure(path + " is not a PEM " + what);
  return obj;
}

Result<X509Ptr> read_cert(const std::string& path) {
  return read_pem<X509Ptr>(
      path, [](std::FILE* f) { return PEM_read_X509(f, nullptr, nullptr, nullptr); },
      "certificate");
}

Result<KeyPtr> read_key(const std::string& path) {
  auto no_password = [](char*, int, int, void*) { return 0; };
  return read_pem<KeyPtr>(
      path, [&](std::FILE* f) { return PEM_read_PrivateKey(f, nullptr, no_password, nullptr); },
      "private key (unencrypted)");
}

template <class Write>
std::string pem_text(Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key`, signed by `issuer` with `issuer_key`; self-signed (the CA) when
// `issuer` is null. `who` is the party of a leaf (ignored for the CA).
// The subjectAltName of a leaf: its URI, and for a priest the host names it answers at.
std::string alt_names(const tls::Identity& who, const std::string& host) {
  std::string out = "URI:" + tls::identity_uri(who);
  if (who.role != tls::Role::Priest) return out;
  auto name = [](const std::string& h) {
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
    return (ip ? "IP:" : "DNS:") + h;
  };
  std::vector<std::string> hosts{"localhost", "127.0.0.1"};
  if (!host.empty() && host != "localhost" && host != "127.0.0.1") hosts.push_back(host);
  for (auto& h : hosts)  // a host name or address only: nothing that would add other names
    if (h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") ==
        std::string::npos)
      out += "," + name(h);
  return out;
}

// A certificate for `key`, signed by `issuer` (nullptr: a CA, self-signed). `unit`: a CA's
// OU, "parliament <id>" for a CA made by a rotation (tls::parliament_of).
Result<X509Ptr> issue(EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, const tls::Identity& who,
                      Seconds valid_from, Seconds valid_for, const std::string& host = "",
                      const std::string& unit = "") {
  const bool is_ca = issuer == nullptr;
  X509Ptr cert(X509_new());
  BnPtr serial(BN_new());
  bool ok = cert && serial && X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
            BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), valid_from.count()) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), (valid_from + valid_for).count()) !=
                nullptr &&
            X509_set_pubkey(cert.get(), key) == 1;
  const std::string cn = is_ca ? "parliament CA" : tls::common_name(who);
  X509_NAME* subject = ok ? X509_get_subject_name(cert.get()) : nullptr;
  ok =
      ok &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) == 1 &&
      (unit.empty() || X509_NAME_add_entry_by_txt(
                           subject, "OU", MBSTRING_UTF8,
                           reinterpret_cast<const unsigned char*>(unit.c_str()), -1, -1, 0) == 1) &&
      X509_set_issuer_name(cert.get(), is_ca ? subject : X509_get_subject_name(issuer)) == 1;
  X509* signer = is_ca ? cert.get() : issuer;
  if (ok && is_ca) {
    ok = add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") &&
         add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
         add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else if (ok) {
    ok = add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
         add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth") &&
         add_ext(cert.get(), signer, NID_subject_alt_name, alt_names(who, host)) &&
         add_ext(cert.get(), signer, NID_subject_key_identifier, "hash") &&
         add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  }
  ok = ok && X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0;
  if (!ok) return Result<X509Ptr>::failure(openssl::errors());
  return cert;
}

// A new P-256 key written to `path` (0600).
Result<KeyPtr> new_key(const std::string& path, bool replace) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key)
    return Result<KeyPtr>::failure("cannot make a key for " + path + ": " + openssl::errors());
  std::string pem = pem_text([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (pem.empty())
    return Result<KeyPtr>::failure("cannot encode the key for " + path + ": " + openssl::errors());
  if (auto s = write_new(path, pem, 0600, replace); !s) return Result<KeyPtr>::failure(s.error());
  return key;
}

Status write_cert(const std::string& path, X509* cert, bool replace) {
  std::string pem = pem_text([&](BIO* b) { return PEM_write_bio_X509(b, cert); });
  if (pem.empty()) return Status::failure("cannot encode " + path + ": " + openssl::errors());
  return write_new(path, pem, 0644, replace);
}

// DIR itself, created 0700 (its parents as usual) when missing.
Status make_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return ok_status();
  if (exists(dir)) return Status::failure(dir + " exists and is not a directory");
  fs::path parent = fs::path(dir).parent_path();
  if (!parent.empty() && !fs::create_directories(parent, ec) && ec)
    return Status::failure("cannot create " + parent.string() + ": " + ec.message());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::failure("cannot create " + dir + ": " + std::strerror(errno));
  return ok_status();
}

}  // namespace

std::vector<tls::Identity> parties(const std::vector<PriestId>& priests) {
  std::vector<tls::Identity> out;
  for (PriestId id : priests) out.push_back({tls::Role::Priest, id});
  out.push_back({tls::Role::God});
  out.push_back({tls::Role::Client});
  return out;
}

namespace {

const std::string kNewCaHint =
    "; or run with --force to make a new parliament CA (and new credentials for everyone)";

// The CA: made (with its key, kept in `signing`), or kept (its key is read only if a
// certificate must be signed: signing_key).
Status open_ca(const std::string& ca_crt, const std::string& ca_key, const Options& options,
               X509Ptr& ca, KeyPtr& signing) {
  const bool force = options.force;
  if (force || (!exists(ca_crt) && !exists(ca_key))) {
    auto key = new_key(ca_key, force);
    if (!key) return Status::failure(key.error());
    options.on_file(ca_key, true);
    auto cert = issue(key->get(), nullptr, key->get(), {tls::Role::God}, options.ca_valid_from,
                      options.ca_valid_for);
    if (!cert) return Status::failure("cannot make " + ca_crt + ": " + cert.error());
    if (auto s = write_cert(ca_crt, cert->get(), force); !s) return s;
    options.on_file(ca_crt, true);
    ca = std::move(*cert);
    signing = std::move(*key);
    return ok_status();
  }
  if (!exists(ca_crt))
    return Status::failure(ca_key + " exists but " + ca_crt + " does not: bring ca.crt back" +
                           kNewCaHint);
  auto cert = read_cert(ca_crt);
  if (!cert) return Status::failure(cert.error());
  ca = std::move(*cert);
  options.on_file(ca_crt, false);
  if (exists(ca_key)) options.on_file(ca_key, false);
  return ok_status();
}

// The CA's key, read the first time a certificate (for `party`) must be signed, and checked
// against the CA's certificate.
Status signing_key(const std::string& ca_crt, const std::string& ca_key, X509* ca,
                   const tls::Identity& party, KeyPtr& signing) {
  if (signing) return ok_status();
  if (!exists(ca_key))
    return Status::failure(ca_key + " is missing, so no certificate for " + tls::describe(party) +
                           " can be signed by " + ca_crt + ": bring ca.key back" + kNewCaHint);
  auto key = read_key(ca_key);
  if (!key) return Status::failure(key.error());
  if (X509_check_private_key(ca, key->get()) != 1) {
    ERR_clear_error();
    return Status::failure(ca_key + " is not the key of " + ca_crt +
                           ": bring the right ca.key back" + kNewCaHint);
  }
  signing = std::move(*key);
  return ok_status();
}

// A party's key: the one a run cut short between key and certificate left, or a new one.
Result<KeyPtr> party_key(const tls::Files& files, bool have_key, bool anew,
                         const Options& options) {
  auto k = have_key ? read_key(files.key) : new_key(files.key, anew);
  if (k) options.on_file(files.key, !have_key);
  return k;
}

}  // namespace

Status make_credentials(const std::string& dir, const std::vector<tls::Identity>& who,
                        const Options& options) {
  if (auto s = make_dir(dir); !s) return s;
  const std::string ca_crt = (std::filesystem::path(dir) / "ca.crt").string();
  const std::string ca_key = (std::filesystem::path(dir) / "ca.key").string();
  X509Ptr ca;
  KeyPtr signing;
  if (auto s = open_ca(ca_crt, ca_key, options, ca, signing); !s) return s;
  for (const auto& party : who) {
    const tls::Files files = tls::files_for(dir, party);
    const bool anew = options.force || std::find(options.new_key.begin(), options.new_key.end(),
                                                 party) != options.new_key.end();
    const bool have_key = !anew && exists(files.key);
    const bool have_cert = !anew && exists(files.cert);
    if (have_key && have_cert) {
      // Kept: but only if it is a pair of this parliament that make_context() would load.
      if (auto ctx = tls::make_context(files, party); !ctx)
        return Status::failure(ctx.error() + " (remove " + files.cert + " and " + files.key +
                               " to make new ones)");
      options.on_file(files.key, false);
      options.on_file(files.cert, false);
      continue;
    }
    if (have_cert)
      return Status::failure(files.cert + " exists but its key " + files.key +
                             " does not; remove the certificate to make new credentials for " +
                             tls::describe(party));
    if (auto s = signing_key(ca_crt, ca_key, ca.get(), party, signing); !s) return s;
    auto key = party_key(files, have_key, anew, options);
    if (!key) return Status::failure(key.error());
    auto host = options.hosts.find(party.id);
    auto cert = issue(
        key->get(), ca.get(), signing.get(), party, options.leaf_valid_from, options.leaf_valid_for,
        party.role == tls::Role::Priest && host != options.hosts.end() ? host->second : "");
    if (!cert) return Status::failure("cannot make " + files.cert + ": " + cert.error());
    if (auto s = write_cert(files.cert, cert->get(), anew); !s) return s;
    options.on_file(files.cert, true);
  }
  return ok_status();
}

namespace {

// Writes `data` to `path` whole or not at all (a new file renamed over the old one).
Status replace_file(const std::string& path, const std::string& data, mode_t mode) {
  const std::string next = path + ".new";
  if (auto s = write_new(next, data, mode, true); !s) return s;
  if (std::rename(next.c_str(), path.c_str()) != 0)
    return Status::failure("cannot rename " + next + " to " + path + ": " + std::strerror(errno));
  return ok_status();
}

std::string pem_of(X509* cert) {
  return pem_text([&](BIO* b) { return PEM_write_bio_X509(b, cert); });
}

// The party whose certificate a file of DIR is, by its name (files_for's names), if any.
std::optional<tls::Identity> party_of(const std::filesystem::path& crt) {
  const std::string stem = crt.stem().string();
  if (crt.extension() != ".crt" || stem == "ca") return std::nullopt;
  if (stem == "god") return tls::Identity{tls::Role::God};
  if (stem == "client") return tls::Identity{tls::Role::Client};
  if (stem.rfind("client-", 0) == 0 && tls::valid_client_name(stem.substr(7)))
    return tls::Identity{tls::Role::Client, 0, stem.substr(7)};
  if (stem.rfind("priest-", 0) == 0 && stem.size() > 7 && stem.size() <= 14 &&
      stem.find_first_not_of("0123456789", 7) == std::string::npos && stem[7] != '0') {
    const unsigned long id = std::stoul(stem.substr(7));
    if (id >= 1 && id <= tls::kMaxPriestId)
      return tls::Identity{tls::Role::Priest, static_cast<PriestId>(id)};
  }
  return std::nullopt;
}

// The rotation's new CA: the certificate of ca.crt whose key is ca-next.key.
Result<std::pair<X509Ptr, KeyPtr>> next_ca(const std::string& ca_crt, const std::string& next_key) {
  using R = Result<std::pair<X509Ptr, KeyPtr>>;
  if (!exists(next_key))
    return R::failure(next_key +
                      " is missing: no rotation is under way (paxos-god certs --rotate-ca begin)");
  auto key = read_key(next_key);
  if (!key) return R::failure(key.error());
  auto bundle = tls::load_certs(ca_crt);
  if (!bundle) return R::failure(bundle.error());
  for (auto& c : *bundle)
    if (X509_check_private_key(c.get(), key->get()) == 1)
      return std::make_pair(std::move(c), std::move(*key));
  ERR_clear_error();
  return R::failure(ca_crt + " holds no CA whose key is " + next_key +
                    "; was ca.crt replaced since --rotate-ca begin?");
}

Status rotation_begin(const std::string& ca_crt, const std::string& next_key,
                      const Options& options) {
  if (exists(next_key))
    return Status::failure(
        next_key + " exists: a rotation is under way; go on with --rotate-ca sign, then finish");
  auto id = tls::parliament_id(ca_crt);
  if (!id) return Status::failure(id.error());
  auto cas = tls::load_certs(ca_crt);
  if (!cas) return Status::failure(cas.error());
  std::string text;
  for (const auto& ca : *cas) text += pem_of(ca.get());
  auto key = new_key(next_key, false);
  if (!key) return Status::failure(key.error());
  options.on_file(next_key, true);
  auto cert = issue(key->get(), nullptr, key->get(), {tls::Role::God}, options.ca_valid_from,
                    options.ca_valid_for, "", "parliament " + *id);
  if (!cert) return Status::failure("cannot make the new CA: " + cert.error());
  if (auto s = replace_file(ca_crt, text + pem_of(cert->get()), 0644); !s) return s;
  options.on_file(ca_crt, true);
  return ok_status();
}

Status rotation_sign(const std::string& dir, const std::string& ca_crt, const std::string& next_key,
                     const Options& options) {
  auto ca = next_ca(ca_crt, next_key);
  if (!ca) return Status::failure(ca.error());
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (party_of(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    const tls::Identity who = *party_of(path);
    auto old = read_cert(path.string());
    if (!old) return Status::failure(old.error());
    // The same key, signed anew: the membership records priests by key, so nothing changes there.
    auto host = options.hosts.find(who.id);
    auto cert =
        issue(X509_get0_pubkey(old->get()), ca->first.get(), ca->second.get(), who,
              options.leaf_valid_from, options.leaf_valid_for,
              who.role == tls::Role::Priest && host != options.hosts.end() ? host->second : "");
    if (!cert) return Status::failure("cannot sign " + path.string() + " anew: " + cert.error());
    if (auto s = replace_file(path.string(), pem_of(cert->get()), 0644); !s) return s;
    options.on_file(path.string(), true);
  }
  return ok_status();
}

Status rotation_finish(const std::string& dir, const std::string& ca_crt, const std::string& ca_key,
                       const std::string& next_key, const Options& options) {
  auto ca = next_ca(ca_crt, next_key);
  if (!ca) return Status::failure(ca.error());
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (!party_of(e.path())) continue;
    auto cert = read_cert(e.path().string());
    if (!cert) return Status::failure(cert.error());
    if (X509_verify(cert->get(), X509_get0_pubkey(ca->first.get())) != 1) {
      ERR_clear_error();
      return Status::failure(e.path().string() +
                             " is not signed by the new CA yet: run --rotate-ca sign first");
    }
  }
  if (auto s = replace_file(ca_crt, pem_of(ca->first.get()), 0644); !s) return s;
  options.on_file(ca_crt, true);
  if (std::rename(next_key.c_str(), ca_key.c_str()) != 0)
    return Status::failure("cannot rename " + next_key + " to " + ca_key + ": " +
                           std::strerror(errno));
  options.on_file(ca_key, true);
  return ok_status();
}

}  // namespace

Status rotate_ca(const std::string& dir, Rotation step, const Options& options) {
  const std::string ca_crt = (std::filesystem::path(dir) / "ca.crt").string();
  const std::string ca_key = (std::filesystem::path(dir) / "ca.key").string();
  const std::string next_key = (std::filesystem::path(dir) / "ca-next.key").string();
  if (!exists(ca_crt)) return Status::failure(ca_crt + " is missing: there is no CA to rotate");
  switch (step) {
    case Rotation::Begin: return rotation_begin(ca_crt, next_key, options);
    case Rotation::Sign: return rotation_sign(dir, ca_crt, next_key, options);
    case Rotation::Finish: return rotation_finish(dir, ca_crt, ca_key, next_key, options);
  }
  return ok_status();
}

}  // namespace parliament::certs
