#include "tlog/setup.hpp"

#include "runtime/bounded_file.hpp"
#include "tlog/trust_config.hpp"

namespace chainsd::tlog {
namespace {

// PEM text in the value itself, or the path of a PEM file (as transparency.publickey has been).
std::string pem_or_file(const std::string& value, const std::string& key, const file_reader& read) {
  if (value.find("-----BEGIN") != std::string::npos) return value;
  return read(value, key);
}

std::string without_scheme(std::string_view url) {
  auto p = url.find("://");
  std::string u(p == std::string_view::npos ? url : url.substr(p + 3));
  while (!u.empty() && u.back() == '/') u.pop_back();
  return u;
}

// sigstore/timestamp-authority serves RFC 3161 at /api/v1/timestamp: a bare host means that.
std::string tsa_endpoint(std::string url) {
  auto p = url.find("://");
  auto slash = url.find('/', p == std::string::npos ? 0 : p + 3);
  if (slash == std::string::npos || slash == url.size() - 1) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += "/api/v1/timestamp";
  }
  return url;
}

// The timestamp authorities of a trusted root that serve `url` (their uri is its prefix), or
// all of them when none says so: a verifier trusts any of them.
std::vector<std::string> tsa_chains(const trusted_root& root, const std::string& url, std::time_t now) {
  std::vector<std::string> matching, all;
  for (const auto& ca : root.timestamp_authorities) {
    if (!ca.valid_for.contains(now)) continue;
    all.push_back(ca.chain_pem);
    auto uri = ca.uri;
    while (!uri.empty() && uri.back() == '/') uri.pop_back();
    if (!uri.empty() && url.rfind(uri, 0) == 0) matching.push_back(ca.chain_pem);
  }
  return matching.empty() ? all : matching;
}

trusted_root load_root(const config::config& cfg, const file_reader& read) {
  try {
    return parse_trusted_root(read(cfg.transparency.trusted_root, "transparency.trusted-root"));
  } catch (const trust_config_error& e) {
    throw std::invalid_argument("transparency.trusted-root: " + std::string(e.what()));
  }
}

void use_log(logger_options& o, unsigned version, const std::string& url, const tlog_instance* inst,
             const std::string& key_pem, const std::string& key_name) {
  if (version == 1) {
    o.version = 1;
    o.v1.url = url;
    o.v1.public_key_pem = inst ? inst->public_key_pem : key_pem;
    return;
  }
  o.version = 2;
  o.v2.url = url;
  if (inst) {
    o.v2.public_key_pem = inst->public_key_pem;
    // The trusted root's baseUrl is the log's checkpoint origin (scheme-less).
    o.v2.origin = without_scheme(inst->base_url);
    o.v2.expected_log_id = !inst->checkpoint_key_id.empty() ? inst->checkpoint_key_id : inst->log_id;
  } else {
    o.v2.public_key_pem = key_pem;
  }
  if (o.v2.public_key_pem.empty())
    throw std::invalid_argument(key_name + ": no public key for the Rekor v2 log " + url +
                                " (set transparency.publickey, or list the log in transparency.trusted-root)");
}

logger_options from_signing_config(const config::config& cfg, const file_reader& read, std::time_t now) {
  const auto& t = cfg.transparency;
  logger_options o;
  o.version_key = "transparency.signing-config";
  signing_config sc;
  try {
    sc = parse_signing_config(read(t.signing_config, "transparency.signing-config"));
  } catch (const trust_config_error& e) {
    throw std::invalid_argument("transparency.signing-config: " + std::string(e.what()));
  }
  auto root = load_root(cfg, read);
  auto select = [now](const std::vector<service>& list, const std::set<unsigned>& versions,
                      const service_selection& sel, const char* what) {
    try {
      auto chosen = select_services(list, versions, sel, now);
      if (chosen.size() > 1)
        throw std::invalid_argument(std::string("transparency.signing-config asks for ") + std::to_string(chosen.size()) +
                                    " " + what + "s; chainsd uses one per signature (selector ANY or EXACT with count 1)");
      return chosen;
    } catch (const trust_config_error& e) {
      throw std::invalid_argument(std::string("transparency.signing-config: ") + what + ": " + e.what());
    }
  };
  if (t.enabled) {
    auto logs = select(sc.rekor_tlog_urls, {1, 2}, sc.rekor_tlog_config, "transparency log");
    if (logs.empty())
      throw std::invalid_argument("transparency.signing-config lists no Rekor log of API version 1 or 2 valid now");
    const auto& svc = logs.front();
    const tlog_instance* inst = find_tlog(root, svc.url);
    if (!inst)
      throw std::invalid_argument("transparency.trusted-root has no tlog with baseUrl " + svc.url +
                                  " (the log transparency.signing-config selects)");
    if (!inst->valid_for.contains(now))
      throw std::invalid_argument("transparency.trusted-root: the key of log " + svc.url + " is not valid now");
    use_log(o, svc.major_api_version, svc.url, inst, "", "transparency.trusted-root");
  }
  auto tsas = select(sc.tsa_urls, {1}, sc.tsa_config, "timestamp authority");
  if (!tsas.empty()) {
    tsa_options ts;
    ts.url = tsas.front().url;
    ts.chain_pems = tsa_chains(root, ts.url, now);
    if (ts.chain_pems.empty())
      throw std::invalid_argument("transparency.trusted-root lists no timestamp authority valid now to verify " +
                                  ts.url + " with");
    o.tsa = std::move(ts);
  } else if (o.version == 2) {
    throw std::invalid_argument("transparency.signing-config selects a Rekor v2 log but no timestamp authority "
                                "(tsaUrls): Rekor v2 entries need RFC 3161 timestamps");
  }
  return o;
}

}  // namespace

std::string read_config_file(const std::string& path, const std::string& key) {
  // Sigstore trust files are JSON (a public trusted root is ~10 KiB); the other keys name PEM.
  bool json = key == "transparency.trusted-root" || key == "transparency.signing-config";
  try {
    return runtime::read_bounded_file(path, json ? runtime::json_config_limit : runtime::pem_file_limit, key);
  } catch (const runtime::file_error& e) {
    throw std::invalid_argument(e.what());
  }
}

logger_options logger_options_for(const config::config& cfg, const file_reader& read, std::time_t now) {
  const auto& t = cfg.transparency;
  if (!t.signing_config.empty()) return from_signing_config(cfg, read, now);
  logger_options o;
  std::optional<trusted_root> root;
  if (!t.trusted_root.empty()) root = load_root(cfg, read);
  if (t.enabled) {
    std::string key = t.public_key.empty() ? std::string() : pem_or_file(t.public_key, "transparency.publickey", read);
    const tlog_instance* inst = key.empty() && root ? find_tlog(*root, t.url) : nullptr;
    use_log(o, t.version == "v2" ? 2 : 1, t.url, inst, key, "transparency.publickey");
  }
  if (!t.timestamp_url.empty()) {
    tsa_options ts;
    ts.url = tsa_endpoint(t.timestamp_url);
    if (!t.timestamp_certchain.empty())
      ts.chain_pems = {pem_or_file(t.timestamp_certchain, "transparency.timestamp.certchain", read)};
    else if (root)
      ts.chain_pems = tsa_chains(*root, ts.url, now);
    if (ts.chain_pems.empty())
      throw std::invalid_argument("transparency.timestamp.url: no certificate chain to verify " + ts.url +
                                  " with (set transparency.timestamp.certchain or list it in transparency.trusted-root)");
    o.tsa = std::move(ts);
  }
  return o;
}

std::shared_ptr<logger> make_logger(const config::config& cfg, net::http_client& http) {
  auto o = logger_options_for(cfg, read_config_file, std::time(nullptr));
  if (o.version == 0 && !o.tsa) return nullptr;
  return std::make_shared<logger>(http, std::move(o));
}

}  // namespace chainsd::tlog
