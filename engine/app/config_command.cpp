// `chainsd config check [--plugin-dir DIR] [--signing-secrets DIR] FILE|-`: validates a chains-config
// ConfigMap (YAML or JSON, as `kubectl get configmap chains-config -o yaml` prints it) the way the
// controller would: every error and warning, plugins that are not installed, and plugin factories'
// own checks (e.g. the pub/sub backend selected without storage.pubsub.topic). Exit 0 when the
// controller would accept it, 1 when it would reject it or a plugin it selects cannot start.
#include "app/commands.hpp"
#include "app/flags.hpp"
#include "config/config.hpp"
#include "net/http_client.hpp"
#include "plugin_host/host_services.hpp"
#include "plugin_host/registry.hpp"
#include "provenance/run_view.hpp"
#include "reconciler/plugin_set.hpp"
#include "runtime/log.hpp"

#include <boost/asio/io_context.hpp>

#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace chainsd::app {
namespace {

std::string read_all(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

config::data_map data_of(std::string text, const std::string& source) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || text[first] != '{') text = provenance::yaml_to_json(text, source);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc)) throw std::runtime_error(source + ": not a JSON or YAML document");
  std::string_view kind;
  if (doc["kind"].get(kind) == simdjson::SUCCESS && kind != "ConfigMap")
    throw std::runtime_error(source + ": kind is " + std::string(kind) + ", expected ConfigMap");
  config::data_map out;
  simdjson::dom::object data;
  if (doc["data"].get(data) != simdjson::SUCCESS) return out;  // an empty ConfigMap: the defaults
  for (auto field : data) {
    std::string_view v;
    if (field.value.get(v) != simdjson::SUCCESS)
      throw std::runtime_error(source + ": data." + std::string(field.key) + " is not a string");
    out.emplace(std::string(field.key), std::string(v));
  }
  return out;
}

}  // namespace

int run_config(const args& a) {
  if (a.empty() || a[0] != "check") {
    std::fputs("usage: chainsd config check [--plugin-dir DIR] [--signing-secrets DIR] FILE|-\n", stderr);
    return 2;
  }
  flags f({{"plugin-dir", "directory of signer and storage plugins", ""},
           {"signing-secrets", "directory of the signing-secrets Secret", "/etc/signing-secrets"}});
  try {
    f.parse(args(a.begin() + 1, a.end()));
  } catch (const flag_error& e) {
    std::fprintf(stderr, "chainsd config check: %s\n", e.what());
    return 2;
  }
  if (f.positional().size() != 1) {
    std::fputs("chainsd config check: give one ConfigMap file, or - for standard input\n", stderr);
    return 2;
  }
  log::set_level(log::level::off);  // the report below is the output
  const std::string source = f.positional()[0] == "-" ? "<stdin>" : f.positional()[0];
  try {
    auto data = data_of(read_all(f.positional()[0]), source);
    auto dir = f.was_set("plugin-dir") ? f.get("plugin-dir") : default_plugin_dir();
    plugin_host::registry registry(plugin_host::scan_plugins(dir));
    config::plugin_names installed;
    for (const auto& n : registry.names("storage")) installed.storages.insert(n);
    for (const auto& n : registry.names("signer")) installed.signers.insert(n);

    auto parsed = config::parse(data, installed);
    int problems = 0;
    for (const auto& w : parsed.warnings) std::printf("warning: %s\n", w.c_str());
    for (const auto& e : parsed.errors) {
      std::printf("error: %s\n", e.c_str());
      ++problems;
    }
    if (parsed.ok()) {
      if (auto missing = reconciler::check_installed(*parsed.value, registry); !missing.empty()) {
        std::printf("error: %s\n", missing.c_str());
        ++problems;
      } else {
        // Build the plugins the config selects, as the controller would, to surface their checks.
        boost::asio::io_context ctx;
        net::http_client http(ctx.get_executor());
        plugin_host::host_services host(ctx.get_executor(), http, nullptr, f.get("signing-secrets"));
        auto cfg = std::make_shared<const config::config>(*parsed.value);
        auto set = reconciler::build_plugin_set(cfg, registry, host, nullptr);
        for (const auto& [name, err] : set->signer_errors) {
          std::printf("error: signer %s: %s\n", name.c_str(), err.message.c_str());
          ++problems;
        }
        for (const auto& [name, err] : set->storage_errors) {
          std::printf("error: storage %s: %s\n", name.c_str(), err.message.c_str());
          ++problems;
        }
        if (!set->index_error.empty()) {
          std::printf("error: %s\n", set->index_error.c_str());
          ++problems;
        }
      }
    }
    std::printf("%s: %s (%zu warning%s, %d error%s)\n", source.c_str(), problems ? "rejected" : "accepted",
                parsed.warnings.size(), parsed.warnings.size() == 1 ? "" : "s", problems, problems == 1 ? "" : "s");
    return problems ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chainsd config check: %s\n", e.what());
    return 1;
  }
}

}  // namespace chainsd::app
