// `chainsd config check [--plugin-dir DIR] [--signing-secrets DIR] FILE|-`: validates a chains-config
// ConfigMap (YAML or JSON, as `kubectl get configmap chains-config -o yaml` prints it) the way the
// controller would: every error and warning, plugins that are not installed, and plugin factories'
// own checks (e.g. the pub/sub backend selected without storage.pubsub.topic). Exit 0 when the
// controller would accept it, 1 when it would reject it or a plugin it selects cannot start, 2 for
// bad usage.
#include "app/commands.hpp"
#include "app/flags.hpp"
#include "app/input_documents.hpp"
#include "config/config.hpp"
#include "net/http_client.hpp"
#include "plugin_host/host_services.hpp"
#include "plugin_host/registry.hpp"
#include "reconciler/plugin_set.hpp"
#include "runtime/log.hpp"

#include <boost/asio/io_context.hpp>

#include <simdjson.h>

#include <cstdio>

namespace chainsd::app {
namespace {

constexpr const char* usage_text =
    "usage: chainsd config check [--plugin-dir DIR] [--signing-secrets DIR] FILE|-\n"
    "  Validates a chains-config ConfigMap (YAML or JSON, e.g. `kubectl get configmap chains-config\n"
    "  -n tekton-chains -o yaml | chainsd config check -`) as the controller would, including the\n"
    "  checks of the plugins it selects. Exit 0: accepted; 1: rejected; 2: bad usage.\n"
    "flags:\n";

struct report {
  std::vector<std::string> warnings, errors;
};

// The fields a ConfigMap has; anything else at the top level is a chains-config key misplaced.
bool configmap_field(std::string_view k) {
  return k == "apiVersion" || k == "kind" || k == "metadata" || k == "data" || k == "binaryData" || k == "immutable";
}

// The data map of the one ConfigMap in `text`; what is wrong with the document goes to `r`.
config::data_map configmap_data(std::string_view text, const std::string& source, report& r) {
  auto docs = split_documents(text, source);
  if (docs.empty()) throw std::runtime_error(source + ": holds no objects (an empty List)");
  if (docs.size() != 1) {
    std::string all;
    for (const auto& d : docs) all += (all.empty() ? "" : ", ") + d.label();
    throw std::runtime_error(source + ": holds " + std::to_string(docs.size()) + " objects (" + all +
                             "); give the chains-config ConfigMap alone");
  }
  const auto& doc = docs[0];
  if (doc.kind != "ConfigMap")
    throw std::runtime_error(source + ": " + (doc.kind.empty() ? std::string("has no kind") : "is a " + doc.kind) +
                             ", not a ConfigMap (expected `kubectl get configmap chains-config -n tekton-chains "
                             "-o yaml` output)");
  if (doc.name != "chains-config")
    r.warnings.push_back(source + ": the ConfigMap is named \"" + doc.name +
                         "\"; the controller reads only the one named chains-config");
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(doc.json).get(root)) throw std::runtime_error(source + ": not a JSON object");
  config::data_map out;
  for (auto field : root) {
    if (configmap_field(field.key)) continue;
    r.errors.push_back(source + ": \"" + std::string(field.key) + "\" is outside data: (a ConfigMap holds its keys "
                       "under data:, where the controller reads them)");
  }
  simdjson::dom::object binary;
  if (root["binaryData"].get(binary) == simdjson::SUCCESS)
    for (auto field : binary)
      r.errors.push_back(source + ": binaryData." + std::string(field.key) +
                         " is not read by the controller; put it under data:");
  simdjson::dom::element data_el;
  if (root["data"].get(data_el) != simdjson::SUCCESS || data_el.is_null()) return out;  // the defaults
  simdjson::dom::object data;
  if (data_el.get(data) != simdjson::SUCCESS) {
    r.errors.push_back(source + ": data is not a map of keys to strings");
    return out;
  }
  for (auto field : data) {
    std::string_view v;
    if (field.value.get(v) != simdjson::SUCCESS) {
      r.errors.push_back(source + ": data." + std::string(field.key) + " is not a string (quote it)");
      continue;
    }
    out.emplace(std::string(field.key), std::string(v));
  }
  return out;
}

// check_installed's findings, one per line.
void add_split(std::vector<std::string>& to, const std::string& joined) {
  std::size_t start = 0;
  while (start < joined.size()) {
    auto end = joined.find("; ", start);
    to.push_back(joined.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 2;
  }
}

// Every plugin problem, not only the first: missing plugins, then what the installed ones'
// factories say about the config, the transparency log and image-index reading.
void check_plugins(const config::config& parsed, const plugin_host::registry& registry, const flags& f, report& r) {
  add_split(r.errors, reconciler::check_installed(parsed, registry));
  boost::asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  const auto secrets = f.get("signing-secrets");
  plugin_host::host_services host(ctx.get_executor(), http, nullptr, secrets);
  auto cfg = std::make_shared<const config::config>(parsed);
  auto set = reconciler::build_plugin_set(cfg, registry, host, &http);  // &http: the log is built too
  for (const auto& [name, err] : set->signer_errors) {
    if (!registry.find("signer", name)) continue;  // reported above with the key naming it
    std::string e = "signer " + name + ": " + err.message;
    if (err.message.find(secrets) != std::string::npos)
      e += f.was_set("signing-secrets")
               ? std::string()
               : "\n  hint: --signing-secrets DIR names the directory holding the signing-secrets Secret's files "
                 "(default " + secrets + "), e.g. a copy of cosign.key and cosign.password";
    r.errors.push_back(std::move(e));
  }
  // A signer without a key is not an error of the config (the controller waits for the key and
  // signs once it appears), but config check says so, with the hint.
  for (const auto& [name, signer] : set->signers) {
    if (!signer->public_key_pem().empty()) continue;
    std::string w = "signer " + name + ": no key in " + secrets + " yet (the controller waits for one and signs once it "
                    "appears)";
    if (!f.was_set("signing-secrets"))
      w += "\n  hint: --signing-secrets DIR names the directory holding the signing-secrets Secret's files "
           "(default " + secrets + "), e.g. a copy of cosign.key and cosign.password";
    r.warnings.push_back(std::move(w));
  }
  for (const auto& [name, err] : set->storage_errors)
    if (registry.find("storage", name)) r.errors.push_back("storage " + name + ": " + err.message);
  if (!set->tlog_error.empty()) r.errors.push_back("transparency log: " + set->tlog_error);
  if (!set->index_error.empty()) r.errors.push_back(set->index_error);
}

}  // namespace

int run_config(const args& a) {
  flags f({{"plugin-dir", "directory of signer and storage plugins", ""},
           {"signing-secrets", "directory of the signing-secrets Secret", "/etc/signing-secrets"},
           {"help", "show this help", "", true}});
  const bool check = !a.empty() && a[0] == "check";
  try {
    f.parse(check ? args(a.begin() + 1, a.end()) : a);
  } catch (const flag_error& e) {
    std::fprintf(stderr, "chainsd config check: %s\n%s%s", e.what(), usage_text, f.usage().c_str());
    return 2;
  }
  if (f.get_bool("help")) {
    std::printf("%s%s", usage_text, f.usage().c_str());
    return 0;
  }
  if (!check) {
    std::fprintf(stderr, "chainsd config: %s\n%s%s",
                 a.empty() ? "missing sub-command (check)" : ("unknown sub-command \"" + a[0] + "\"").c_str(),
                 usage_text, f.usage().c_str());
    return 2;
  }
  if (f.positional().size() != 1) {
    std::fprintf(stderr, "chainsd config check: give one ConfigMap file, or - for standard input\n%s", usage_text);
    return 2;
  }
  log::set_level(log::level::off);  // the report below is the output
  const std::string source = f.positional()[0] == "-" ? "<stdin>" : f.positional()[0];
  try {
    report r;
    auto data = configmap_data(read_input(f.positional()[0]), source, r);
    auto dir = f.was_set("plugin-dir") ? f.get("plugin-dir") : default_plugin_dir();
    plugin_host::registry registry(plugin_host::scan_plugins(dir));
    config::plugin_names installed;
    for (const auto& n : registry.names("storage")) installed.storages.insert(n);
    for (const auto& n : registry.names("signer")) installed.signers.insert(n);

    auto parsed = config::parse(data, installed);
    r.warnings.insert(r.warnings.end(), parsed.warnings.begin(), parsed.warnings.end());
    r.errors.insert(r.errors.end(), parsed.errors.begin(), parsed.errors.end());
    if (parsed.ok()) check_plugins(*parsed.value, registry, f, r);
    for (const auto& w : r.warnings) std::printf("warning: %s\n", w.c_str());
    for (const auto& e : r.errors) std::printf("error: %s\n", e.c_str());
    const auto nw = r.warnings.size(), ne = r.errors.size();
    std::printf("%s: %s (%zu warning%s, %zu error%s)\n", source.c_str(), ne ? "rejected" : "accepted", nw,
                nw == 1 ? "" : "s", ne, ne == 1 ? "" : "s");
    return ne ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chainsd config check: %s\n", e.what());
    return 1;
  }
}

}  // namespace chainsd::app
