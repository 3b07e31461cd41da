#include "provenance/feature_flags.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace chainsd::provenance {

namespace dom = simdjson::dom;
namespace bj = boost::json;

// config.FeatureFlags: Go matches JSON keys to fields case-insensitively and writes them back
// with the struct's tags, dropping zero values (omitempty).
bj::object feature_flags_json(const reader& r, dom::object flags, const json_path& path) {
  enum class t { boolean, string, integer, bool_ptr };
  static const std::vector<std::pair<std::string_view, t>> fields{
      {"disableCredsInit", t::boolean},
      {"runningInEnvWithInjectedSidecars", t::boolean},
      {"requireGitSSHSecretKnownHosts", t::boolean},
      {"enableAPIFields", t::string},
      {"sendCloudEventsForRuns", t::boolean},
      {"awaitSidecarReadiness", t::boolean},
      {"enforceNonfalsifiability", t::string},
      {"enableKeepPodOnCancel", t::boolean},
      {"verificationNoMatchPolicy", t::string},
      {"enableProvenanceInStatus", t::boolean},
      {"resultExtractionMethod", t::string},
      {"maxResultSize", t::integer},
      {"setSecurityContext", t::boolean},
      {"setSecurityContextReadOnlyRootFilesystem", t::boolean},
      {"coschedule", t::string},
      {"enableCELInWhenExpression", t::boolean},
      {"enableStepActions", t::boolean},
      {"enableParamEnum", t::boolean},
      {"enableArtifacts", t::boolean},
      {"disableInlineSpec", t::string},
      {"enableConciseResolverSyntax", t::boolean},
      {"enableKubernetesSidecar", t::boolean},
      {"enableWaitExponentialBackoff", t::boolean},
      {"enableTerminationMessageCompression", t::boolean},
      {"enableTektonOCIBundles", t::bool_ptr},
  };
  auto fold_equal = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
  };
  std::map<std::string_view, bj::value> values;
  for (auto [key, v] : flags) {
    const std::pair<std::string_view, t>* field = nullptr;
    for (const auto& f : fields)
      if (f.first == key) field = &f;
    if (!field)
      for (const auto& f : fields)
        if (fold_equal(f.first, key)) {
          field = &f;
          break;
        }
    if (!field) continue;  // unknown fields are dropped, as encoding/json does
    const json_path p(path, key);
    if (v.type() == dom::element_type::NULL_VALUE) {
      values.erase(field->first);
      continue;
    }
    switch (field->second) {
      case t::boolean:
      case t::bool_ptr:
        if (v.type() != dom::element_type::BOOL) r.fail(p, std::string("must be a boolean, got ") + type_name(v.type()));
        values[field->first] = bool(v);
        break;
      case t::string:
        if (v.type() != dom::element_type::STRING) r.fail(p, std::string("must be a string, got ") + type_name(v.type()));
        values[field->first] = std::string_view(v);
        break;
      case t::integer:
        if (v.type() != dom::element_type::INT64 && v.type() != dom::element_type::UINT64)
          r.fail(p, std::string("must be an integer, got ") + type_name(v.type()));
        values[field->first] = int64_t(v);
        break;
    }
  }
  bj::object o;
  for (const auto& f : fields) {
    auto it = values.find(f.first);
    if (it == values.end()) continue;
    const auto& v = it->second;
    bool zero = (v.is_bool() && !v.as_bool()) || (v.is_string() && v.as_string().empty()) ||
                (v.is_int64() && v.as_int64() == 0);
    if (zero && f.second != t::bool_ptr) continue;
    o[f.first] = v;
  }
  return o;
}

}  // namespace chainsd::provenance
