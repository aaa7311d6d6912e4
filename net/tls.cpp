// tls: the parliament's credentials checked and loaded into asio::ssl contexts
// (see tls.hpp for what each piece is and who calls it).
#include "net/tls.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "net/openssl.hpp"

namespace parliament::tls {
namespace {

using namespace parliament::openssl;

constexpr std::string_view kUriPrefix = "urn:parliament:";

Result<std::string> read_file(const std::string& path) {
  using R = Result<std::string>;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return R::failure("cannot read " + path + ": " + std::strerror(errno));
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err) return R::failure("cannot read " + path + ": " + std::strerror(err));
  return text;
}

Result<X509Ptr> load_cert(const std::string& path) {
  auto text = read_file(path);
  if (!text) return Result<X509Ptr>::failure(text.error());
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  if (!cert)
    return Result<X509Ptr>::failure(path +
                                    " is not a PEM certificate (-----BEGIN CERTIFICATE-----)");
  return cert;
}

}  // namespace

Result<std::vector<X509Ptr>> load_certs(const std::string& path) {
  using R = Result<std::vector<X509Ptr>>;
  auto text = read_file(path);
  if (!text) return R::failure(text.error());
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  std::vector<X509Ptr> out;
  while (bio) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    out.push_back(std::move(cert));
  }
  ERR_clear_error();
  if (out.empty())
    return R::failure(path + " is not a PEM certificate (-----BEGIN CERTIFICATE-----)");
  return out;
}

namespace {

Result<KeyPtr> load_key(const std::string& path) {
  auto text = read_file(path);
  if (!text) return Result<KeyPtr>::failure(text.error());
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  // A password callback that gives none: an encrypted key fails instead of prompting.
  auto no_password = [](char*, int, int, void*) { return 0; };
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr) : nullptr);
  ERR_clear_error();
  if (!key)
    return Result<KeyPtr>::failure(path + " is not a PEM private key (or it is encrypted; the "
                                          "parliament's keys are not)");
  return key;
}

std::string date_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "(an unreadable date)";
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// The party `cert` names: its one urn:parliament: URI (any case counts as one, so a second,
// oddly spelt one is never overlooked). Errors complete the sentence "CERT ...".
Result<Identity> identity_in(X509* cert) {
  using R = Result<Identity>;
  NamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::vector<std::string> uris;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
    std::string uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                    static_cast<size_t>(ASN1_STRING_length(s)));
    if (starts_with_nocase(uri, kUriPrefix)) uris.push_back(std::move(uri));
  }
  if (uris.empty())
    return R::failure(
        "names no party of the parliament (no urn:parliament: URI in its subjectAltName)");
  if (uris.size() > 1) {
    std::string all;
    for (const auto& u : uris) all += (all.empty() ? "" : ", ") + u;
    return R::failure("names " + std::to_string(uris.size()) + " parties of the parliament (" +
                      all + "), not one");
  }
  auto who = parse_identity_uri(uris[0]);
  if (!who) return R::failure("names " + uris[0] + ", which is no party of the parliament");
  return *who;
}

// `cert` is signed by one of the CAs `cas` and valid now. Errors name the file at fault.
Status check_signed(const std::vector<X509Ptr>& cas, const std::string& ca_file, X509* cert,
                    const std::string& cert_file) {
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  bool ok = store && ctx;
  for (const auto& ca : cas) ok = ok && X509_STORE_add_cert(store.get(), ca.get()) == 1;
  if (!ok || X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1)
    return Status::failure("cannot check " + cert_file + " against " + ca_file + ": " +
                           openssl::errors());
  if (X509_verify_cert(ctx.get()) == 1) return ok_status();
  ERR_clear_error();
  const int err = X509_STORE_CTX_get_error(ctx.get());
  const X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
  if (!bad) bad = cert;
  const std::string& bad_file =
      X509_STORE_CTX_get_error_depth(ctx.get()) == 0 ? cert_file : ca_file;
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return Status::failure(bad_file + " expired on " + date_text(X509_get0_notAfter(bad)) +
                             "; remove it and its key, and make new ones with paxos-god certs");
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return Status::failure(bad_file + " is not valid until " +
                             date_text(X509_get0_notBefore(bad)) +
                             "; is this machine's clock right?");
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return Status::failure(cert_file + " is not signed by the parliament's CA in " + ca_file +
                             ": certificates of another parliament?");
    default:
      return Status::failure(cert_file + " does not verify against the CA in " + ca_file + ": " +
                             X509_verify_cert_error_string(err) + " (in " + bad_file + ")");
  }
}

}  // namespace

std::string describe(const Identity& who) {
  switch (who.role) {
    case Role::Priest: return "priest " + std::to_string(who.id);
    case Role::God: return "the god";
    case Role::Client: return who.name.empty() ? "a client" : "client " + who.name;
  }
  return "an unknown party";
}

std::string identity_uri(const Identity& who) {
  switch (who.role) {
    case Role::Priest: return std::string(kUriPrefix) + "priest:" + std::to_string(who.id);
    case Role::God: return std::string(kUriPrefix) + "god";
    case Role::Client:
      return std::string(kUriPrefix) + "client" + (who.name.empty() ? "" : ":" + who.name);
  }
  return {};
}

std::optional<Identity> parse_identity_uri(std::string_view uri) {
  if (uri.substr(0, kUriPrefix.size()) != kUriPrefix) return std::nullopt;
  std::string_view rest = uri.substr(kUriPrefix.size());
  if (rest == "god") return Identity{Role::God};
  if (rest == "client") return Identity{Role::Client};
  constexpr std::string_view client = "client:";
  if (rest.substr(0, client.size()) == client) {
    std::string_view name = rest.substr(client.size());
    if (!valid_client_name(name)) return std::nullopt;
    return Identity{Role::Client, 0, std::string(name)};
  }
  constexpr std::string_view priest = "priest:";
  if (rest.substr(0, priest.size()) != priest) return std::nullopt;
  std::string_view digits = rest.substr(priest.size());
  if (digits.empty() || digits.size() > 7 || digits[0] == '0' ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  PriestId id = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (id < 1 || id > kMaxPriestId) return std::nullopt;
  return Identity{Role::Priest, id};
}

std::string common_name(const Identity& who) {
  switch (who.role) {
    case Role::Priest: return "parliament priest " + std::to_string(who.id);
    case Role::God: return "parliament god";
    case Role::Client: return "parliament client" + (who.name.empty() ? "" : " " + who.name);
  }
  return "parliament";
}

Files files_for(const std::string& dir, const Identity& who) {
  const std::string stem = who.role == Role::Priest ? "priest-" + std::to_string(who.id)
                           : who.role == Role::God  ? "god"
                           : who.name.empty()       ? "client"
                                                    : "client-" + who.name;
  const std::filesystem::path d(dir);
  return {(d / "ca.crt").string(), (d / (stem + ".crt")).string(), (d / (stem + ".key")).string()};
}

uint64_t ledger_client(const Identity& who, uint64_t client) {
  // SHA-256 of "role:name\0" and the id's 8 bytes (big-endian), its first 8 bytes: finding
  // another identity's (name, id) for a given key is a second preimage of SHA-256.
  std::string input = identity_uri(who);
  input.push_back('\0');
  for (int i = 7; i >= 0; --i) input.push_back(static_cast<char>((client >> (8 * i)) & 0xff));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(input.data(), input.size(), md, &n, EVP_sha256(), nullptr);
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | md[i];
  return key == 0 ? 1 : key;
}

Result<std::shared_ptr<asio::ssl::context>> make_context(const Files& files, const Identity& who) {
  using R = Result<std::shared_ptr<asio::ssl::context>>;
  auto ca = load_certs(files.ca);
  if (!ca) return R::failure(ca.error());
  if (auto id = parliament_id(files.ca); !id) return R::failure(id.error());
  auto cert = load_cert(files.cert);
  if (!cert) return R::failure(cert.error());
  auto key = load_key(files.key);
  if (!key) return R::failure(key.error());
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return R::failure(files.key + " is not the key of " + files.cert +
                      ": they come from different credentials; use the pair made together");
  }
  if (auto s = check_signed(*ca, files.ca, cert->get(), files.cert); !s)
    return R::failure(s.error());
  auto named = identity_in(cert->get());
  if (!named) return R::failure(files.cert + " " + named.error());
  if (*named != who)
    return R::failure(files.cert + " names " + describe(*named) + ", not " + describe(who));

  try {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
    SSL_CTX* native = ctx->native_handle();
    bool trusted = true;  // every CA of the file: two while one is rotated
    for (const auto& one : *ca)
      trusted = trusted && X509_STORE_add_cert(SSL_CTX_get_cert_store(native), one.get()) == 1;
    if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate(native, cert->get()) != 1 ||
        SSL_CTX_use_PrivateKey(native, key->get()) != 1 || !trusted)
      return R::failure("cannot build a TLS context from " + files.cert + ", " + files.key +
                        " and " + files.ca + ": " + openssl::errors());
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_num_tickets(native, 0);
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    return ctx;
  } catch (const std::exception& e) {
    return R::failure("cannot build a TLS context from " + files.cert + ": " + e.what());
  }
}

Result<Identity> peer_identity(SSL* ssl) {
  using R = Result<Identity>;
  if (!ssl || SSL_is_init_finished(ssl) != 1)
    return R::failure("the TLS handshake has not completed");
  if (!(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER))
    return R::failure("this connection does not verify its peer's certificate");
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) return R::failure("the peer presented no certificate");
  const long verified = SSL_get_verify_result(ssl);
  if (verified != X509_V_OK)
    return R::failure(std::string("the peer's certificate did not verify: ") +
                      X509_verify_cert_error_string(verified));
  auto who = identity_in(peer);
  if (!who) return R::failure("the peer's certificate " + who.error());
  return *who;
}

namespace {

std::string hex_of(const unsigned char* md, unsigned n) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

}  // namespace

std::string peer_key(SSL* ssl) {
  X509* peer = ssl ? SSL_get0_peer_certificate(ssl) : nullptr;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!peer || X509_pubkey_digest(peer, EVP_sha256(), md, &n) != 1 || n != 32) return "";
  return hex_of(md, n);
}

Result<std::string> certificate_key(const std::string& path) {
  auto certs = load_certs(path);
  if (!certs) return Result<std::string>::failure(certs.error());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_pubkey_digest(certs->front().get(), EVP_sha256(), md, &n) != 1 || n != 32)
    return Result<std::string>::failure(path + ": no public key in its certificate");
  return hex_of(md, n);
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  return hex_of(md, n);
}

std::string certs_dir(const Config& config, const std::string& config_file,
                      const std::string& override_dir) {
  if (!override_dir.empty()) return override_dir;
  std::filesystem::path dir(config.certs);
  if (dir.is_absolute()) return dir.string();
  return (std::filesystem::path(config_file).parent_path() / dir).lexically_normal().string();
}

std::string parliament_of(X509* ca) {
  X509_NAME* subject = X509_get_subject_name(ca);
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, i)) >= 0;) {
    const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                     ASN1_STRING_length(v));
    const std::string prefix = "parliament ";
    if (text.size() == prefix.size() + 16 && text.rfind(prefix, 0) == 0 &&
        text.find_first_not_of("0123456789abcdef", prefix.size()) == std::string::npos)
      return text.substr(prefix.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(ca, EVP_sha256(), md, &n) != 1 || n < 8) return "";
  return hex_of(md, 8);
}

Result<std::string> parliament_id(const std::string& ca_file) {
  using R = Result<std::string>;
  auto cas = load_certs(ca_file);
  if (!cas) return R::failure(cas.error());
  const std::string id = parliament_of(cas->front().get());
  if (id.empty()) return R::failure(ca_file + ": cannot compute its digest");
  for (const auto& ca : *cas)
    if (parliament_of(ca.get()) != id)
      return R::failure(ca_file + " holds the CAs of two parliaments (" + id + " and " +
                        parliament_of(ca.get()) +
                        "); a rotation's second CA is made by paxos-god certs --rotate-ca begin");
  return id;
}

Result<std::shared_ptr<asio::ssl::context>> load(const Config& config,
                                                 const std::string& config_file,
                                                 const Identity& who,
                                                 const std::string& override_dir) {
  if (!config.tls) return std::shared_ptr<asio::ssl::context>();
  return make_context(files_for(certs_dir(config, config_file, override_dir), who), who);
}

}  // namespace parliament::tls
