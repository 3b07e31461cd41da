#include "keyless.hpp"

#include "certs.hpp"
#include "fulcio_api.hpp"
#include "keys.hpp"

#include <chainsd/plugin/async_event.hpp>
#include <chainsd/plugin/rfc3339.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <optional>

namespace signer_x509 {
namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using time_point = std::chrono::system_clock::time_point;
using namespace std::chrono_literals;

namespace {

constexpr auto failure_hold = 1s;  // a failed fetch is not repeated sooner: bounds load on a failing Fulcio

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string iso(time_point t) { return plugin::rfc3339(t); }

struct key_pair {
  pkey_ptr key;
  std::string public_pem;
};

std::shared_ptr<key_pair> new_key() {
  auto k = std::make_shared<key_pair>();
  k->key = generate_p256();
  k->public_pem = public_key_pem(k->key.get());
  return k;
}

// A key with its certificate, and when to replace it: `refresh_at` starts a background fetch,
// after `use_until` no signature is made with it (the margin covers the Rekor upload that follows
// a signature, whose integratedTime must fall inside the validity too).
struct certified {
  std::shared_ptr<key_pair> key;
  std::string cert_pem;
  std::string chain_pem;
  leaf_info leaf;
  time_point refresh_at;
  time_point use_until;
};

struct fetch_op {
  explicit fetch_op(asio::any_io_executor ex) : done_signal(std::move(ex)) {}
  plugin::async_event done_signal;  // set when the fetch ends; waiters then read `error`
  bool done = false;
  std::string error;
};

struct cached_token {
  std::string token;
  token_claims claims;
  std::string provider;
  time_point refresh_at;
};

// Shared by the signer and its background fetches, which may outlive the signer after a config change.
struct state {
  state(plugin::host& h, keyless_options o) : host(h), opt(std::move(o)) {}
  plugin::host& host;
  keyless_options opt;
  std::shared_ptr<const certified> current;
  std::shared_ptr<key_pair> next;  // the key the next certificate is requested for
  std::shared_ptr<fetch_op> fetching;
  std::optional<cached_token> token;
  std::string resolved_api;  // "v1" once the v2 endpoint answered 404 in auto mode
  std::string last_error;
  time_point last_error_at;
  bool issuer_warned = false;
};

std::vector<std::string> provider_order(const keyless_options& o) {
  if (!o.provider.empty()) {
    if (o.provider == "filesystem-custom-path") return {"filesystem"};
    return {o.provider};
  }
  // Upstream Chains uses only the file once identity.token.file is set.
  if (o.token_file_configured) return {"filesystem"};
  // cosign's registration order (envvar before filesystem), then the TokenRequest API, which
  // works on any cluster, before GKE's metadata server.
  return {"envvar", "filesystem", "kubernetes", "google-workload-identity"};
}

// A projected token is ~1 KiB; the cap keeps a misconfigured path (a device, a huge file) from
// costing more than a bounded read on the loop at each refresh.
constexpr std::size_t token_file_limit = 64 * 1024;

plugin::result<std::string> file_token(plugin::host& h, const keyless_options& o) {
  auto t = h.read_file(o.token_file, token_file_limit, "signers.x509.identity.token.file");
  if (!t) return plugin::fail(t.error().code, "filesystem: " + t.error().message);
  if (trim(*t).empty()) return plugin::fail(plugin::errc::retryable, "filesystem: " + o.token_file + " is empty");
  return trim(*t);
}

plugin::result<std::string> env_token() {
  auto t = trim(env("SIGSTORE_ID_TOKEN"));
  if (t.empty()) return plugin::fail(plugin::errc::not_found, "envvar: SIGSTORE_ID_TOKEN is not set");
  return t;
}

asio::awaitable<plugin::result<std::string>> kube_token(std::shared_ptr<state> st) {
  std::string what = "kubernetes: TokenRequest for service account " + st->opt.sa_namespace + "/" + st->opt.sa_name;
  std::string path = "/api/v1/namespaces/" + st->opt.sa_namespace + "/serviceaccounts/" + st->opt.sa_name + "/token";
  auto r = co_await st->host.kube("POST", path, token_request_json(3600), "application/json");
  if (!r) co_return plugin::fail(plugin::errc::retryable, what + ": " + r.error().message);
  if (r->status != 200 && r->status != 201)
    co_return plugin::fail(plugin::errc::retryable, what + ": HTTP " + std::to_string(r->status) + ": " + excerpt(r->body));
  try {
    co_return parse_token_request_response(r->body);
  } catch (const token_error& e) {
    co_return plugin::fail(plugin::errc::retryable, what + ": " + e.what());
  }
}

asio::awaitable<plugin::result<std::string>> metadata_token(std::shared_ptr<state> st) {
  plugin::http_request req;
  req.url = "http://" + st->opt.metadata_host +
            "/computeMetadata/v1/instance/service-accounts/default/identity?audience=sigstore&format=full";
  req.headers = {{"Metadata-Flavor", "Google"}};
  req.timeout = 5s;
  std::string what = "google-workload-identity: " + req.url;
  auto r = co_await st->host.http(std::move(req));
  if (!r) co_return plugin::fail(plugin::errc::retryable, what + ": " + r.error().message);
  if (r->status != 200)
    co_return plugin::fail(plugin::errc::retryable, what + ": HTTP " + std::to_string(r->status) + ": " + excerpt(r->body));
  co_return trim(r->body);
}

// A token from the configured provider or the first one in upstream's order that yields one.
asio::awaitable<plugin::result<cached_token>> get_token(std::shared_ptr<state> st) {
  auto now = st->opt.clock();
  if (st->token && now < st->token->refresh_at) co_return *st->token;
  std::string errors;
  for (const auto& p : provider_order(st->opt)) {
    plugin::result<std::string> t = plugin::fail(plugin::errc::permanent, p + ": unknown provider");
    if (p == "filesystem") {
      t = file_token(st->host, st->opt);
    } else if (p == "envvar") {
      t = env_token();
    } else if (p == "kubernetes") {
      t = co_await kube_token(st);
    } else if (p == "google-workload-identity") {
      t = co_await metadata_token(st);
    }
    if (!t) {
      errors += (errors.empty() ? "" : "; ") + t.error().message;
      continue;
    }
    cached_token c;
    try {
      c.claims = parse_token(*t);
    } catch (const token_error& e) {
      errors += (errors.empty() ? "" : "; ") + p + ": " + e.what();
      continue;
    }
    now = st->opt.clock();
    if (c.claims.expires_at && *c.claims.expires_at <= now + 10s) {
      errors += (errors.empty() ? "" : "; ") + p + ": the token has expired (exp " + iso(*c.claims.expires_at) + ")";
      continue;
    }
    c.token = std::move(*t);
    c.provider = p;
    // Refreshed before expiry: a quarter of its lifetime (at least a minute) ahead.
    if (c.claims.expires_at) {
      auto life = c.claims.issued_at ? *c.claims.expires_at - *c.claims.issued_at : std::chrono::system_clock::duration(600s);
      c.refresh_at = *c.claims.expires_at - std::max<std::chrono::system_clock::duration>(60s, life / 4);
    } else {
      c.refresh_at = now;  // no expiry claim: ask again every time
    }
    st->token = c;
    co_return c;
  }
  co_return plugin::fail(plugin::errc::retryable, "no OIDC identity token for Fulcio (" + errors + ")");
}

asio::awaitable<plugin::result<plugin::http_response>> post_cert(std::shared_ptr<state> st, std::string api,
                                                                  std::shared_ptr<key_pair> key, std::string token,
                                                                  std::string subject) {
  plugin::http_request req;
  req.method = "POST";
  req.replayable = true;  // a second certificate for the same key is harmless
  req.timeout = 30s;
  req.headers = {{"Content-Type", "application/json"}};
  if (api == "v2") {
    req.url = st->opt.fulcio_url + "/api/v2/signingCert";
    req.headers.emplace_back("Accept", "application/json");
    req.body = v2_request_json(token, make_csr_pem(key->key.get(), subject));
  } else {
    req.url = st->opt.fulcio_url + "/api/v1/signingCert";
    req.headers.emplace_back("Accept", "application/pem-certificate-chain");
    req.headers.emplace_back("Authorization", "Bearer " + token);
    req.body = v1_request_json(key->public_pem, sign(key->key.get(), subject));
  }
  co_return co_await st->host.http(std::move(req));
}

// One certificate for st->next. Returns the error message, empty on success.
asio::awaitable<std::string> fetch_once(std::shared_ptr<state> st) {
  std::string fulcio = "Fulcio " + st->opt.fulcio_url;
  auto key = st->next;
  auto tok = co_await get_token(st);
  if (!tok) co_return "cannot get a certificate from " + fulcio + ": " + tok.error().message;
  std::string who = tok->provider + " token for " + (tok->claims.email.empty() ? tok->claims.subject : tok->claims.email) +
                    " from " + tok->claims.issuer;
  std::string subject;
  try {
    subject = proof_subject(tok->claims);
  } catch (const token_error& e) {
    co_return fulcio + ": " + who + ": " + e.what();
  }
  if (!st->opt.issuer.empty() && st->opt.issuer != tok->claims.issuer && !st->issuer_warned) {
    st->issuer_warned = true;
    st->host.log(plugin::log_level::warn,
                 "the identity token's issuer differs from signers.x509.fulcio.issuer; Fulcio decides which issuers it trusts",
                 {{"key", "signers.x509.fulcio.issuer"}, {"configured", st->opt.issuer}, {"token_issuer", tok->claims.issuer}});
  }

  std::string api = st->opt.api == "auto" ? (st->resolved_api.empty() ? std::string("v2") : st->resolved_api) : st->opt.api;
  auto r = co_await post_cert(st, api, key, tok->token, subject);
  if (r && st->opt.api == "auto" && api == "v2" && (r->status == 404 || r->status == 405 || r->status == 501)) {
    // An older or legacy-only Fulcio: use the v1 API from now on.
    api = "v1";
    r = co_await post_cert(st, api, key, tok->token, subject);
  }
  std::string where = "POST " + st->opt.fulcio_url + "/api/" + api + "/signingCert with the " + who;
  if (!r) co_return fulcio + ": " + where + ": " + r.error().message;
  if (r->status == 401 || r->status == 403) {
    st->token.reset();  // maybe revoked or not yet trusted: ask the provider again next time
    co_return fulcio + " rejected the " + who + " (HTTP " + std::to_string(r->status) +
              "; does Fulcio trust this issuer?): " + excerpt(r->body);
  }
  if (r->status != 200 && r->status != 201)
    co_return fulcio + ": " + where + ": HTTP " + std::to_string(r->status) + ": " + excerpt(r->body);
  if (st->opt.api == "auto") st->resolved_api = api;

  auto c = std::make_shared<certified>();
  try {
    auto certs = api == "v2" ? parse_v2_response(r->body) : parse_v1_response(r->body);
    c->leaf = check_chain(certs, key->key.get(), identity_for(tok->claims));
    c->cert_pem = certs.front();
    for (std::size_t i = 1; i < certs.size(); ++i) c->chain_pem += certs[i];
  } catch (const std::exception& e) {
    co_return fulcio + ": unusable certificate for the " + who + ": " + e.what();
  }
  auto now = st->opt.clock();
  auto life = c->leaf.not_after - c->leaf.not_before;
  auto hard = std::min<std::chrono::system_clock::duration>(60s, life / 4);
  auto soft = std::max<std::chrono::system_clock::duration>(life / 5, std::min<std::chrono::system_clock::duration>(120s, life / 3));
  c->use_until = c->leaf.not_after - hard;
  c->refresh_at = c->leaf.not_after - soft;
  if (c->leaf.not_before > now + 5s)
    co_return fulcio + ": the certificate is not valid before " + iso(c->leaf.not_before) + " (clock skew?)";
  if (now >= c->use_until)
    co_return fulcio + ": the certificate expires at " + iso(c->leaf.not_after) + ", too soon to sign with it";
  c->key = key;
  st->current = c;
  st->next = new_key();
  std::string identity = c->leaf.emails.empty() ? (c->leaf.uris.empty() ? "" : c->leaf.uris.front()) : c->leaf.emails.front();
  st->host.log(plugin::log_level::info, "fulcio certificate obtained",
               {{"fulcio", st->opt.fulcio_url}, {"api", api}, {"provider", tok->provider}, {"identity", identity},
                {"issuer", c->leaf.oidc_issuer}, {"serial", c->leaf.serial_hex}, {"not_after", iso(c->leaf.not_after)},
                {"refresh_at", iso(c->refresh_at)}});
  st->host.count("chainsd_plugin_fulcio_certificates_total", "Certificates obtained from Fulcio", {{"api", api}});
  co_return std::string();
}

asio::awaitable<void> fetch(std::shared_ptr<state> st, std::shared_ptr<fetch_op> op) {
  std::string error;
  try {
    error = co_await fetch_once(st);
  } catch (const std::exception& e) {
    error = "Fulcio " + st->opt.fulcio_url + ": unexpected error: " + e.what();
  }
  op->done = true;
  op->error = error;
  if (st->fetching == op) st->fetching.reset();
  if (!error.empty()) {
    st->last_error = error;
    st->last_error_at = st->opt.clock();
    st->host.log(plugin::log_level::warn, "keyless signing: no certificate", {{"error", error}});
    st->host.count("chainsd_plugin_fulcio_failures_total", "Failed attempts to get a Fulcio certificate", {});
  }
  op->done_signal.set();
}

// Returns the fetch: co_spawn may run it inline up to its first suspension, and a fetch that
// fails before any I/O (a token file that cannot be read) has cleared st->fetching by then.
std::shared_ptr<fetch_op> start_fetch(const std::shared_ptr<state>& st) {
  auto op = std::make_shared<fetch_op>(st->host.executor());
  st->fetching = op;
  auto on_done = [st](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      st->host.log(plugin::log_level::error, "keyless signing: certificate fetch failed", {{"error", ex.what()}});
    }
  };
  asio::co_spawn(st->host.executor(), fetch(st, op), on_done);
  return op;
}

bool recently_failed(const state& st, time_point now) {
  return !st.last_error.empty() && now - st.last_error_at < failure_hold;
}

class keyless_signer final : public plugin::signer {
 public:
  keyless_signer(plugin::host& h, keyless_options opt) : st_(std::make_shared<state>(h, std::move(opt))) {
    st_->next = new_key();
  }

  // The engine reads this just before sign() (with no suspension in between) for the key id and
  // storage: it names the key sign() will use: the current certificate's, or while there is none
  // usable, the key the next certificate is being requested for.
  std::string public_key_pem() const override {
    auto now = st_->opt.clock();
    if (st_->current && now < st_->current->use_until) {
      last_given_ = st_->current;
      return st_->current->key->public_pem;
    }
    last_given_.reset();
    return st_->next->public_pem;
  }

  asio::awaitable<plugin::result<plugin::signature_result>> sign(std::string message) override {
    auto st = st_;
    auto now = st->opt.clock();
    auto cur = st->current;
    // A key just announced by public_key_pem() stays usable for a moment past use_until, so the
    // signature matches the key id the engine computed.
    bool usable = cur && (now < cur->use_until || (cur == last_given_ && now < cur->use_until + 2s));
    if (!usable) {
      auto op = st->fetching;
      if (!op) {
        if (recently_failed(*st, now)) co_return plugin::fail(plugin::errc::retryable, st->last_error);
        op = start_fetch(st);
      }
      if (!op->done) co_await op->done_signal.wait();
      // `this` may be gone after a config change; only `st` and `op` are used from here on.
      if (!op->done)
        co_return plugin::fail(plugin::errc::retryable, "cancelled while waiting for a certificate from Fulcio " + st->opt.fulcio_url);
      if (!op->error.empty()) co_return plugin::fail(plugin::errc::retryable, op->error);
      cur = st->current;
      now = st->opt.clock();
      if (!cur || now >= cur->use_until)
        co_return plugin::fail(plugin::errc::retryable, "Fulcio " + st->opt.fulcio_url + ": no certificate with validity left");
    } else if (now >= cur->refresh_at && !st->fetching && !recently_failed(*st, now)) {
      start_fetch(st);  // ahead of expiry; this signature still uses the current certificate
    }
    try {
      co_return plugin::signature_result{signer_x509::sign(cur->key->key.get(), message), cur->cert_pem, cur->chain_pem};
    } catch (const key_error& e) {
      co_return plugin::fail(plugin::errc::permanent, std::string("x509 keyless signer: ") + e.what());
    }
  }

 private:
  std::shared_ptr<state> st_;
  mutable std::shared_ptr<const certified> last_given_;
};

}  // namespace

plugin::result<keyless_options> keyless_options_from(plugin::host& h, const plugin::config_map& cfg) {
  keyless_options o;
  auto get = [&cfg](std::string_view k) -> std::string {
    auto it = cfg.find(k);
    return it == cfg.end() ? std::string() : trim(it->second);
  };
  if (auto a = get("signers.x509.fulcio.address"); !a.empty()) o.fulcio_url = a;
  while (!o.fulcio_url.empty() && o.fulcio_url.back() == '/') o.fulcio_url.pop_back();
  if (o.fulcio_url.rfind("https://", 0) != 0 && o.fulcio_url.rfind("http://", 0) != 0)
    return plugin::fail(plugin::errc::bad_config,
                        "signers.x509.fulcio.address: \"" + o.fulcio_url + "\" is not an http(s) URL");
  o.issuer = get("signers.x509.fulcio.issuer");
  o.provider = get("signers.x509.fulcio.provider");
  static const std::vector<std::string> supported{"filesystem", "filesystem-custom-path", "envvar", "kubernetes",
                                                  "google-workload-identity"};
  if (!o.provider.empty() && std::find(supported.begin(), supported.end(), o.provider) == supported.end())
    return plugin::fail(plugin::errc::bad_config,
                        "signers.x509.fulcio.provider: \"" + o.provider +
                            "\" is not supported by chainsd (supported: filesystem, filesystem-custom-path, envvar, "
                            "kubernetes, google-workload-identity)");
  if (auto f = get("signers.x509.identity.token.file"); !f.empty()) {
    o.token_file = f;
    o.token_file_configured = true;
  }
  if (auto api = env("CHAINSD_FULCIO_API"); !api.empty()) {
    if (api != "auto" && api != "v1" && api != "v2")
      return plugin::fail(plugin::errc::bad_config, "environment CHAINSD_FULCIO_API: \"" + api + "\" is not one of auto, v1, v2");
    o.api = api;
  }
  if (auto m = env("GCE_METADATA_HOST"); !m.empty()) o.metadata_host = m;

  // Our own service account, for TokenRequest: the in-cluster files (as engine/kube reads them),
  // the environment, then upstream's names.
  std::string dir = env("CHAINSD_SERVICEACCOUNT_DIR");
  if (dir.empty()) dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  if (auto ns = h.read_file(dir + "/namespace", token_file_limit, "CHAINSD_SERVICEACCOUNT_DIR")) o.sa_namespace = trim(*ns);
  std::string token_ns, token_sa;
  if (auto t = h.read_file(dir + "/token", token_file_limit, "CHAINSD_SERVICEACCOUNT_DIR")) {
    try {
      auto c = parse_token(*t);
      static constexpr std::string_view prefix = "system:serviceaccount:";
      if (c.subject.rfind(prefix, 0) == 0) {
        auto rest = c.subject.substr(prefix.size());
        if (auto colon = rest.find(':'); colon != std::string::npos) {
          token_ns = rest.substr(0, colon);
          token_sa = rest.substr(colon + 1);
        }
      }
    } catch (const token_error&) {
      // Not a JWT (tests, old clusters): fall back to the environment and defaults.
    }
  }
  if (o.sa_namespace.empty()) o.sa_namespace = token_ns;
  if (o.sa_namespace.empty()) o.sa_namespace = env("SYSTEM_NAMESPACE");
  if (o.sa_namespace.empty()) o.sa_namespace = "tekton-chains";
  o.sa_name = env("CHAINSD_SERVICEACCOUNT_NAME");
  if (o.sa_name.empty()) o.sa_name = token_sa;
  if (o.sa_name.empty()) o.sa_name = "tekton-chains-controller";
  return o;
}

std::unique_ptr<plugin::signer> make_keyless_signer(plugin::host& h, keyless_options opt) {
  return std::make_unique<keyless_signer>(h, std::move(opt));
}

}  // namespace signer_x509
