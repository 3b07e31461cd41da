// The kms signer: Tekton Chains' `kms` signer (artifacts.*.signer: kms), selected by the scheme of
// signers.kms.kmsref. The factory validates the reference and the auth keys without I/O (it runs
// on the loop, and `chainsd config check` builds it to report them); the key is read by the first
// sign().
#include "aws_signer.hpp"
#include "azure_signer.hpp"
#include "gcp_signer.hpp"
#include "kms_ref.hpp"
#include "pkcs11_signer.hpp"
#include "token_file.hpp"
#include "vault_signer.hpp"

#include <chainsd/plugin/export.hpp>

#include <cstdlib>
#include <optional>

namespace signer_kms {
namespace plugin = chainsd::plugin;

namespace {

std::string get(const plugin::config_map& cfg, std::string_view key) {
  auto it = cfg.find(key);
  return it == cfg.end() ? std::string() : it->second;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool http_url(const std::string& u) { return u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0; }

plugin::result<std::unique_ptr<plugin::signer>> make_vault(plugin::host& h, const plugin::config_map& cfg,
                                                           const kms_ref& ref) {
  vault_options opt;
  opt.key = ref.key;
  // As sigstore's hashivault client: the configured address, else VAULT_ADDR.
  opt.address = get(cfg, "signers.kms.auth.address");
  if (opt.address.empty()) opt.address = env("VAULT_ADDR");
  if (opt.address.empty())
    return plugin::fail(plugin::errc::bad_config,
                        "signers.kms.auth.address is not set (nor VAULT_ADDR): the Vault server of " +
                            get(cfg, "signers.kms.kmsref"));
  while (!opt.address.empty() && opt.address.back() == '/') opt.address.pop_back();
  if (!http_url(opt.address))
    return plugin::fail(plugin::errc::bad_config,
                        "signers.kms.auth.address: invalid value \"" + opt.address + "\", wanted an http(s) URL");
  opt.mount = env("TRANSIT_SECRET_ENGINE_PATH");
  if (opt.mount.empty()) opt.mount = "transit";
  opt.vault_namespace = env("VAULT_NAMESPACE");
  if (!get(cfg, "signers.kms.auth.spire.sock").empty())
    return plugin::fail(plugin::errc::bad_config,
                        "signers.kms.auth.spire.sock (a SPIRE JWT-SVID for Vault login) is not supported yet; use "
                        "signers.kms.auth.oidc.* with a token file, signers.kms.auth.token-path or signers.kms.auth.token");
  std::optional<vault_jwt_login> login;
  if (!get(cfg, "signers.kms.auth.oidc.role").empty() || !get(cfg, "signers.kms.auth.oidc.token-path").empty()) {
    login.emplace();
    login->role = get(cfg, "signers.kms.auth.oidc.role");
    if (auto p = get(cfg, "signers.kms.auth.oidc.path"); !p.empty()) login->path = p;
    login->jwt_file = get(cfg, "signers.kms.auth.oidc.token-path");
    if (login->jwt_file.empty()) login->jwt_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  }
  // token-path wins over token (upstream), then VAULT_TOKEN; a JWT login replaces both.
  auto path = get(cfg, "signers.kms.auth.token-path");
  auto fixed = get(cfg, "signers.kms.auth.token");
  if (fixed.empty()) fixed = env("VAULT_TOKEN");
  if (!login && path.empty() && fixed.empty())
    return plugin::fail(plugin::errc::bad_config,
                        "no Vault token: set signers.kms.auth.token-path (or signers.kms.auth.token, or VAULT_TOKEN), "
                        "or signers.kms.auth.oidc.role for a JWT login");
  std::shared_ptr<token_file> file;
  try {
    file = std::make_shared<token_file>(login ? std::string() : path, fixed);
  } catch (const std::exception& e) {
    return plugin::fail(plugin::errc::bad_config, std::string("signers.kms.auth.token-path: ") + e.what());
  }
  opt.token = std::make_shared<vault_token>(h, opt.address, std::move(file), std::move(login));
  h.log(plugin::log_level::info, "kms signer ready",
        {{"provider", "hashivault"}, {"address", opt.address}, {"mount", opt.mount}, {"key", opt.key},
         {"token", opt.token->describe()}});
  return make_vault_signer(h, std::move(opt));
}

// scheme://authority of a URL; empty when it has none.
std::string authority_of(const std::string& url) {
  auto p = url.find("://");
  if (p == std::string::npos) return {};
  auto rest = url.substr(p + 3);
  return rest.substr(0, rest.find('/'));
}

plugin::result<std::unique_ptr<plugin::signer>> make_aws(plugin::host& h, const kms_ref& ref) {
  aws_options opt;
  opt.key = ref.key;
  // As the AWS SDKs: the region of an ARN, else AWS_REGION, else AWS_DEFAULT_REGION.
  opt.region = ref.region;
  if (opt.region.empty()) opt.region = env("AWS_REGION");
  if (opt.region.empty()) opt.region = env("AWS_DEFAULT_REGION");
  if (opt.region.empty())
    return plugin::fail(plugin::errc::bad_config, "signers.kms.kmsref \"awskms:///" + ref.key +
                                                      "\" names no region: use a key ARN or set AWS_REGION");
  // An endpoint in the kmsref is https:// (sigstore); else AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL
  // (the SDKs' variables, any scheme); else the regional endpoint.
  if (!ref.endpoint.empty()) {
    opt.url = "https://" + ref.endpoint;
  } else {
    opt.url = env("AWS_ENDPOINT_URL_KMS");
    if (opt.url.empty()) opt.url = env("AWS_ENDPOINT_URL");
    if (opt.url.empty())
      opt.url = "https://kms." + opt.region + ".amazonaws.com" + (opt.region.rfind("cn-", 0) == 0 ? ".cn" : "");
  }
  while (!opt.url.empty() && opt.url.back() == '/') opt.url.pop_back();
  opt.host = authority_of(opt.url);
  if (!http_url(opt.url) || opt.host.empty() || opt.url.size() != opt.url.find("://") + 3 + opt.host.size())
    return plugin::fail(plugin::errc::bad_config, "the AWS KMS endpoint \"" + opt.url +
                                                      "\" is not an http(s)://HOST[:PORT] URL (signers.kms.kmsref or "
                                                      "AWS_ENDPOINT_URL_KMS)");
  auto creds = credential_source::from_env(h, opt.region);
  if (!creds) return creds.error();
  opt.credentials = std::move(*creds);
  h.log(plugin::log_level::info, "kms signer ready",
        {{"provider", "awskms"}, {"endpoint", opt.url}, {"region", opt.region}, {"key", opt.key},
         {"credentials", opt.credentials->describe()}});
  return make_aws_signer(h, std::move(opt));
}

plugin::result<std::unique_ptr<plugin::signer>> make_gcp(plugin::host& h, const kms_ref& ref) {
  gcp_options opt;
  opt.key = ref.key;
  opt.version = ref.version;
  opt.endpoint = env("CHAINSD_GCPKMS_ENDPOINT");  // ours, for stand-ins and private endpoints
  if (opt.endpoint.empty()) opt.endpoint = "https://cloudkms.googleapis.com";
  while (!opt.endpoint.empty() && opt.endpoint.back() == '/') opt.endpoint.pop_back();
  if (!http_url(opt.endpoint))
    return plugin::fail(plugin::errc::bad_config, "CHAINSD_GCPKMS_ENDPOINT: invalid value \"" + opt.endpoint +
                                                      "\", wanted an http(s) URL");
  // Application Default Credentials, as storage-gcs reads them (plugins/google-auth): the key file
  // is read here, once, through the host (a regular file of at most 64 KiB).
  auto read = [&h](const std::string& path, std::string_view key) { return h.read_file(path, 64 * 1024, key); };
  auto creds = google_auth::load_credentials(google_auth::process_env, read);
  if (!creds)
    return plugin::fail(plugin::errc::bad_config,
                        "GOOGLE_APPLICATION_CREDENTIALS " + env("GOOGLE_APPLICATION_CREDENTIALS") + ": " +
                            creds.error().message);
  opt.credentials = std::move(*creds);
  const auto& c = opt.credentials;
  h.log(plugin::log_level::info, "kms signer ready",
        {{"provider", "gcpkms"}, {"endpoint", opt.endpoint}, {"key", opt.key},
         {"version", opt.version.empty() ? "latest enabled" : opt.version},
         {"credentials", c.service_account_file ? "service account " + c.sa.client_email
                                                : "metadata server " + c.metadata_host}});
  return make_gcp_signer(h, std::move(opt));
}

plugin::result<std::unique_ptr<plugin::signer>> make_azure(plugin::host& h, const kms_ref& ref) {
  azure_options opt;
  opt.vault_url = "https://" + ref.endpoint;  // as sigstore
  opt.key = ref.key;
  opt.version = ref.version;
  opt.authority = env("AZURE_AUTHORITY_HOST");
  if (opt.authority.empty()) opt.authority = "https://login.microsoftonline.com";
  while (!opt.authority.empty() && opt.authority.back() == '/') opt.authority.pop_back();
  opt.tenant = env("AZURE_TENANT_ID");
  opt.client_id = env("AZURE_CLIENT_ID");
  opt.client_secret = env("AZURE_CLIENT_SECRET");
  opt.federated_token_file = env("AZURE_FEDERATED_TOKEN_FILE");
  opt.imds = env("AZURE_POD_IDENTITY_AUTHORITY_HOST");
  if (opt.imds.empty()) opt.imds = "http://169.254.169.254";
  while (!opt.imds.empty() && opt.imds.back() == '/') opt.imds.pop_back();
  if ((!opt.client_secret.empty() || !opt.federated_token_file.empty()) && (opt.tenant.empty() || opt.client_id.empty()))
    return plugin::fail(plugin::errc::bad_config, "AZURE_CLIENT_SECRET / AZURE_FEDERATED_TOKEN_FILE need AZURE_TENANT_ID "
                                                  "and AZURE_CLIENT_ID (for signers.kms.kmsref azurekms://…)");
  const std::string creds = !opt.client_secret.empty()          ? "client secret of " + opt.client_id
                            : !opt.federated_token_file.empty() ? "workload identity " + opt.federated_token_file
                                                                : "managed identity " + opt.imds;
  h.log(plugin::log_level::info, "kms signer ready",
        {{"provider", "azurekms"}, {"vault", opt.vault_url}, {"key", opt.key},
         {"version", opt.version.empty() ? "latest" : opt.version}, {"credentials", creds}});
  return make_azure_signer(h, std::move(opt));
}

// pkcs11:… (ours; cosign's URI attributes): the module from the URI's module-path (RFC 7512's
// place for it; no chains-config key of its own). Nothing is loaded here (config check builds
// this): the module is opened by the first sign, on the signer's worker thread.
plugin::result<std::unique_ptr<plugin::signer>> make_pkcs11(plugin::host& h, const kms_ref& ref) {
  auto parsed = parse_pkcs11_uri(ref.key);
  auto uri = std::move(*parsed.uri);  // parse_kms_ref accepted it
  const std::string what = redact_pkcs11_uri(ref.key);
  if (uri.module_path.empty())
    return plugin::fail(plugin::errc::bad_config, "signers.kms.kmsref \"" + what +
                                                      "\" names no PKCS#11 module: add ?module-path=/path/to/module.so");
  if (uri.module_path[0] != '/')
    return plugin::fail(plugin::errc::bad_config, "PKCS#11 module \"" + uri.module_path +
                                                      "\" (module-path of signers.kms.kmsref) is not an absolute path");
  h.log(plugin::log_level::info, "kms signer ready",
        {{"provider", "pkcs11"}, {"module", uri.module_path}, {"key", what},
         {"pin", uri.pin_source.empty() ? (uri.has_pin ? "pin-value" : "none") : "pin-source " + uri.pin_source}});
  return make_pkcs11_signer(h, std::move(uri), what);
}

}  // namespace
}  // namespace signer_kms

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::signer>> make_kms_signer(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  namespace plugin = chainsd::plugin;
  auto it = cfg.find("signers.kms.kmsref");
  if (it == cfg.end() || it->second.empty())
    return plugin::fail(plugin::errc::bad_config, "signers.kms.kmsref is not set: the kms signer needs a key reference "
                                                  "(hashivault://KEY, awskms://…, gcpkms://…, azurekms://…, pkcs11:…)");
  auto parsed = signer_kms::parse_kms_ref(it->second);
  if (!parsed.ref) return plugin::fail(plugin::errc::bad_config, parsed.error);
  switch (parsed.ref->kind) {
    case signer_kms::provider::hashivault: return signer_kms::make_vault(h, cfg, *parsed.ref);
    case signer_kms::provider::awskms: return signer_kms::make_aws(h, *parsed.ref);
    case signer_kms::provider::gcpkms: return signer_kms::make_gcp(h, *parsed.ref);
    case signer_kms::provider::azurekms: return signer_kms::make_azure(h, *parsed.ref);
    case signer_kms::provider::pkcs11: return signer_kms::make_pkcs11(h, *parsed.ref);
  }
  return plugin::fail(plugin::errc::bad_config, "signers.kms.kmsref: unknown provider");
}

CHAINSD_SIGNER_PLUGIN("kms", "0.1.0", make_kms_signer)
