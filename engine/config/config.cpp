#include "config/config.hpp"
#include "config/transparency.hpp"
#include "config/unselected_storage.hpp"

#include <algorithm>
#include <functional>

namespace chainsd::config {
namespace {

using strings = std::vector<std::string_view>;

const strings tekton_formats{format_in_toto, format_slsa_v1, format_slsa_v2alpha3, format_slsa_v2alpha4};
const strings oci_formats{format_simplesigning};
const strings signers{"kms", "none", "x509"};
// `pubsub` is the name the backend registers under, `kafka` the one upstream's validation knows.
const strings storages{"archivista", "docdb", "gcs", "grafeas", "kafka", "oci", "pubsub", "tekton"};

std::string list(const strings& allowed) {
  std::string out = "[";
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (i) out += ' ';
    out += allowed[i];
  }
  return out + "]";
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\n\r\f\v");
  return std::string(s.substr(b, e - b + 1));
}

// strconv.ParseBool's accepted spellings.
std::optional<bool> go_parse_bool(std::string_view v) {
  if (v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False") return false;
  return std::nullopt;
}

struct context {
  config& cfg;
  parse_result& result;
  const plugin_names& extra;
};

// Third-party plugins add names to the storage and signer value lists.
const std::set<std::string>* extra_for(const context& c, std::string_view plugin_kind) {
  if (plugin_kind == "storage") return &c.extra.storages;
  if (plugin_kind == "signer") return &c.extra.signers;
  return nullptr;
}

bool allowed_value(const context& c, const strings& allowed, std::string_view plugin_kind, const std::string& v) {
  if (allowed.empty() || std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return true;
  auto* extra = extra_for(c, plugin_kind);
  return extra && extra->count(v) > 0;
}

std::string list_with_extra(const context& c, const strings& allowed, std::string_view plugin_kind) {
  strings all = allowed;
  if (auto* extra = extra_for(c, plugin_kind))
    for (const auto& e : *extra)
      if (std::find(all.begin(), all.end(), e) == all.end()) all.push_back(e);
  std::sort(all.begin(), all.end());
  return list(all);
}

using handler = std::function<void(context&, const std::string& key, const std::string& value)>;

template <class Get>
handler as_string(Get get, strings allowed = {}, std::string_view plugin_kind = {}) {
  return [get, allowed, plugin_kind](context& c, const std::string& key, const std::string& value) {
    if (!allowed_value(c, allowed, plugin_kind, value)) {
      c.result.errors.push_back(key + ": invalid value \"" + value + "\", wanted one of " +
                                list_with_extra(c, allowed, plugin_kind));
      return;
    }
    get(c.cfg) = value;
  };
}

template <class Get>
handler as_bool(Get get) {
  return [get](context& c, const std::string& key, const std::string& value) {
    if (auto b = go_parse_bool(value)) {
      get(c.cfg) = *b;
      return;
    }
    // Upstream ignores values strconv.ParseBool rejects; so do we, loudly.
    c.result.warnings.push_back(key + ": \"" + value + "\" is not a boolean; keeping " +
                                (get(c.cfg) ? "true" : "false"));
  };
}

// For keys of ours, where no upstream behaviour has to be kept: anything but a boolean is an error
// (a misspelt "ture" must not quietly leave an opt-in security feature off).
template <class Get>
handler as_strict_bool(Get get) {
  return [get](context& c, const std::string& key, const std::string& value) {
    if (auto b = go_parse_bool(value)) {
      get(c.cfg) = *b;
      return;
    }
    c.result.errors.push_back(key + ": invalid value \"" + value + "\", wanted a boolean (true or false)");
  };
}

template <class Get>
handler as_set(Get get, strings allowed, std::string_view plugin_kind = {}) {
  return [get, allowed, plugin_kind](context& c, const std::string& key, const std::string& value) {
    if (value.empty()) {
      get(c.cfg) = {""};
      return;
    }
    std::set<std::string> out;
    std::size_t start = 0;
    bool bad = false;
    while (true) {
      auto comma = value.find(',', start);
      auto item = trim(std::string_view(value).substr(start, comma == std::string::npos ? std::string::npos
                                                                                          : comma - start));
      if (!allowed_value(c, allowed, plugin_kind, item)) {
        c.result.errors.push_back(key + ": invalid value \"" + item + "\", wanted one of " +
                                  list_with_extra(c, allowed, plugin_kind));
        bad = true;
      }
      out.insert(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (!bad) get(c.cfg) = std::move(out);
  };
}

struct key_rule {
  std::string_view key;
  handler apply;
};

#define FIELD(expr) [](config & c) -> auto& { return c.expr; }

const std::vector<key_rule>& rules() {
  static const std::vector<key_rule> r = [] {
    std::vector<key_rule> v;
    v.push_back({"artifacts.taskrun.format", as_string(FIELD(taskrun.format), tekton_formats)});
    v.push_back({"artifacts.taskrun.storage", as_set(FIELD(taskrun.storage), storages, "storage")});
    v.push_back({"artifacts.taskrun.signer", as_string(FIELD(taskrun.signer), signers, "signer")});
    v.push_back({"artifacts.pipelinerun.format", as_string(FIELD(pipelinerun.format), tekton_formats)});
    v.push_back({"artifacts.pipelinerun.storage", as_set(FIELD(pipelinerun.storage), storages, "storage")});
    v.push_back({"artifacts.pipelinerun.signer", as_string(FIELD(pipelinerun.signer), signers, "signer")});
    v.push_back({"artifacts.pipelinerun.enable-deep-inspection", as_bool(FIELD(pipelinerun.deep_inspection))});
    v.push_back({"artifacts.oci.format", as_string(FIELD(oci.format), oci_formats)});
    v.push_back({"artifacts.oci.storage", as_set(FIELD(oci.storage), storages, "storage")});
    v.push_back({"artifacts.oci.signer", as_string(FIELD(oci.signer), signers, "signer")});
    // Ours: also sign the manifests an image index lists (needs a storage that reads indexes).
    v.push_back({"artifacts.oci.sign-platform-manifests", as_strict_bool(FIELD(oci.sign_platform_manifests))});
    v.push_back({"storage.pubsub.provider", as_string(FIELD(storage.pubsub_provider), strings{"inmemory", "kafka"})});
    v.push_back({"storage.pubsub.topic", as_string(FIELD(storage.pubsub_topic))});
    v.push_back({"storage.pubsub.kafka.bootstrap.servers", as_string(FIELD(storage.pubsub_kafka_bootstrap_servers))});
    v.push_back({"storage.gcs.bucket", as_string(FIELD(storage.gcs_bucket))});
    v.push_back({"storage.oci.repository", as_string(FIELD(storage.oci_repository))});
    v.push_back({"storage.oci.repository.insecure", as_bool(FIELD(storage.oci_repository_insecure))});
    v.push_back({"storage.oci.encoding-format",
                 as_string(FIELD(storage.oci_encoding_format), strings{"dsse", "sigstore-bundle"})});
    // Ours (storage-oci plugin): a mounted docker config file, and the chunk size of blob uploads.
    v.push_back({"storage.oci.docker-config", as_string(FIELD(storage.oci_docker_config))});
    v.push_back({"storage.oci.upload-chunk-size", as_string(FIELD(storage.oci_upload_chunk_size))});
    v.push_back({"storage.oci.credentials-cache-ms", as_string(FIELD(storage.oci_credentials_cache_ms))});
    v.push_back({"storage.docdb.url", as_string(FIELD(storage.docdb_url))});
    v.push_back({"storage.docdb.mongo-server-url", as_string(FIELD(storage.docdb_mongo_server_url))});
    v.push_back({"storage.docdb.mongo-server-url-dir", as_string(FIELD(storage.docdb_mongo_server_url_dir))});
    v.push_back({"storage.docdb.mongo-server-url-path", as_string(FIELD(storage.docdb_mongo_server_url_path))});
    v.push_back({"storage.archivista.url", as_string(FIELD(storage.archivista_url))});
    v.push_back({"storage.grafeas.projectid", as_string(FIELD(storage.grafeas_project_id))});
    v.push_back({"storage.grafeas.noteid", as_string(FIELD(storage.grafeas_note_id))});
    v.push_back({"storage.grafeas.notehint", as_string(FIELD(storage.grafeas_note_hint))});
    v.push_back({"transparency.enabled", [](context& c, const std::string& key, const std::string& value) {
                   // Upstream: "true" and "manual" enable, "manual" also requires the annotation,
                   // anything else leaves both off.
                   c.cfg.transparency.enabled = value == "true" || value == "manual";
                   c.cfg.transparency.verify_annotation = value == "manual";
                   if (value != "true" && value != "manual" && value != "false")
                     c.result.warnings.push_back(key + ": \"" + value +
                                                 "\" is not one of [true manual false]; transparency stays off");
                 }});
    v.push_back({"transparency.url", as_string(FIELD(transparency.url))});
    v.push_back({"transparency.publickey", as_string(FIELD(transparency.public_key))});
    // Ours: Rekor v2, RFC 3161 timestamps, Sigstore signing config (checked together in
    // validate_transparency, transparency.cpp).
    v.push_back({"transparency.version", as_string(FIELD(transparency.version), strings{"v1", "v2"})});
    v.push_back({"transparency.timestamp.url", as_string(FIELD(transparency.timestamp_url))});
    v.push_back({"transparency.timestamp.certchain", as_string(FIELD(transparency.timestamp_certchain))});
    v.push_back({"transparency.signing-config", as_string(FIELD(transparency.signing_config))});
    v.push_back({"transparency.trusted-root", as_string(FIELD(transparency.trusted_root))});
    v.push_back({"signers.kms.kmsref", as_string(FIELD(kms.kms_ref))});
    v.push_back({"signers.kms.auth.address", as_string(FIELD(kms.auth_address))});
    v.push_back({"signers.kms.auth.token", as_string(FIELD(kms.auth_token))});
    v.push_back({"signers.kms.auth.token-path", as_string(FIELD(kms.auth_token_path))});
    v.push_back({"signers.kms.auth.oidc.path", as_string(FIELD(kms.auth_oidc_path))});
    v.push_back({"signers.kms.auth.oidc.role", as_string(FIELD(kms.auth_oidc_role))});
    v.push_back({"signers.kms.auth.oidc.token-path", as_string(FIELD(kms.auth_oidc_token_path))});
    v.push_back({"signers.kms.auth.spire.sock", as_string(FIELD(kms.auth_spire_sock))});
    v.push_back({"signers.kms.auth.spire.audience", as_string(FIELD(kms.auth_spire_audience))});
    v.push_back({"signers.x509.fulcio.enabled", as_bool(FIELD(x509.fulcio_enabled))});
    v.push_back({"signers.x509.fulcio.address", as_string(FIELD(x509.fulcio_address))});
    v.push_back({"signers.x509.fulcio.issuer", as_string(FIELD(x509.fulcio_issuer))});
    v.push_back({"signers.x509.fulcio.provider", as_string(FIELD(x509.fulcio_provider))});
    v.push_back({"signers.x509.identity.token.file", as_string(FIELD(x509.identity_token_file))});
    v.push_back({"signers.x509.tuf.mirror.url", as_string(FIELD(x509.tuf_mirror_url))});
    v.push_back({"builder.id", as_string(FIELD(builder_id))});
    v.push_back({"builddefinition.buildtype",
                 as_string(FIELD(build_type), strings{build_type_slsa, build_type_slsa_tekton})});
    v.push_back({"filter.managed-by", as_set(FIELD(filter_managed_by), strings{})});
    return v;
  }();
  return r;
}

#undef FIELD

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

bool artifact_config::enabled() const {
  if (signer == "none") return false;
  return !(storage.size() == 1 && storage.count("") == 1);
}

std::string parse_result::error_text() const {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += e;
  }
  return out;
}

config default_config() { return config{}; }

const std::vector<std::string_view>& known_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> k;
    for (const auto& r : rules()) k.push_back(r.key);
    std::sort(k.begin(), k.end());
    return k;
  }();
  return keys;
}

std::string suggest_key(std::string_view key) {
  // A typo is a few edits away; anything further is a different key, not a misspelling.
  const std::size_t limit = std::clamp<std::size_t>(key.size() / 8, 2, 6);
  std::string_view best;
  std::size_t best_distance = limit + 1;
  for (auto k : known_keys()) {
    // The length difference bounds the distance from below; skipping keeps long keys cheap.
    if ((key.size() > k.size() ? key.size() - k.size() : k.size() - key.size()) > limit) continue;
    auto d = edit_distance(key, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  return std::string(best);
}

parse_result parse(const data_map& data, const plugin_names& extra) {
  parse_result result;
  config cfg = default_config();
  context c{cfg, result, extra};
  for (const auto& rule : rules()) {
    auto it = data.find(std::string(rule.key));
    if (it == data.end()) continue;
    rule.apply(c, it->first, it->second);
  }
  // Each unknown key is named up to a point; past it, one line counts the rest (a generated
  // ConfigMap with thousands of keys must not flood the log on every reload).
  constexpr std::size_t max_named_unknown = 20;
  std::size_t unknown = 0;
  for (const auto& [key, value] : data) {
    if (std::binary_search(known_keys().begin(), known_keys().end(), std::string_view(key))) continue;
    // Knative-style ConfigMaps document themselves under "_example"; that is not a typo.
    if (!key.empty() && key[0] == '_') continue;
    // librdkafka properties pass through to the Kafka storage plugin, which validates them.
    if (key.rfind("storage.pubsub.kafka.", 0) == 0) continue;
    if (++unknown > max_named_unknown) continue;
    std::string w = "unknown key \"" + key + "\" is ignored";
    if (auto s = suggest_key(key); !s.empty()) w += "; did you mean " + s + "?";
    result.warnings.push_back(std::move(w));
  }
  if (unknown > max_named_unknown)
    result.warnings.push_back(std::to_string(unknown - max_named_unknown) +
                              " more unknown keys are ignored (not listed)");
  validate_transparency(data, cfg, result);
  warn_unselected_storage(data, cfg, result);
  if (result.errors.empty()) {
    cfg.source = data;
    result.value = std::move(cfg);
  }
  return result;
}

}  // namespace chainsd::config
