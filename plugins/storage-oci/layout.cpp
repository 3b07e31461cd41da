#include "layout.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace storage_oci {
namespace json = boost::json;

namespace {

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Repository path components: lower-case alphanumerics with '.', '_', '-' separators (the
// distribution grammar, loosely: the registry rejects what we let through, with its message).
bool valid_repository(std::string_view r) {
  if (r.empty() || r.front() == '/' || r.back() == '/' || r.find("//") != std::string_view::npos) return false;
  return std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/';
  });
}

const json::object* member_object(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

std::string member_string(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

}  // namespace

image_ref parse_reference(std::string_view s, bool need_digest) {
  image_ref r;
  std::string_view rest = s;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    r.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (r.digest.rfind("sha256:", 0) != 0 || !is_hex64(std::string_view(r.digest).substr(7)))
      throw std::invalid_argument("\"" + std::string(s) + "\": digest must be sha256:<64 lower-case hex>");
  } else if (need_digest) {
    throw std::invalid_argument("\"" + std::string(s) + "\": no @sha256: digest");
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    auto first = rest.substr(0, slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos || first == "localhost") {
      r.registry = std::string(first);
      rest = rest.substr(slash + 1);
    }
  }
  // A tag is a ':' after the last '/' (a ':' before it belongs to the registry's port).
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash))
    rest = rest.substr(0, colon);
  if (r.registry.empty() || r.registry == "docker.io" || r.registry == "registry-1.docker.io") {
    r.registry = "index.docker.io";
    if (rest.find('/') == std::string_view::npos) r.repository = "library/";
  }
  r.repository += std::string(rest);
  if (!valid_repository(r.repository))
    throw std::invalid_argument("\"" + std::string(s) + "\": invalid repository name \"" + r.repository + "\"");
  return r;
}

std::string cosign_tag(std::string_view digest, std::string_view suffix) {
  std::string t(digest);
  if (auto colon = t.find(':'); colon != std::string::npos) t[colon] = '-';
  return t + "." + std::string(suffix);
}

std::string sha256_digest(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("sha256 failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) out += {hex[md[i] >> 4], hex[md[i] & 15]};
  return out;
}

layer make_layer(std::string media_type, std::string content, std::string b64_signature, std::string_view cert_pem,
                 std::string_view chain_pem, std::string_view bundle_json,
                 std::map<std::string, std::string> extra_annotations) {
  layer l;
  l.media_type = std::move(media_type);
  l.digest = sha256_digest(content);
  l.content = std::move(content);
  l.annotations = std::move(extra_annotations);
  // cosign writes the chain annotation whenever it writes the certificate, empty or not.
  if (!cert_pem.empty()) {
    l.annotations[std::string(certificate_annotation)] = std::string(cert_pem);
    l.annotations[std::string(chain_annotation)] = std::string(chain_pem);
  }
  if (!bundle_json.empty()) l.annotations[std::string(bundle_annotation)] = std::string(bundle_json);
  l.annotations[std::string(signature_annotation)] = std::move(b64_signature);
  return l;
}

std::string rekor_bundle_json(const chainsd::plugin::tlog_entry& e) {
  if (e.version != 1) return {};  // cosign's bundle annotation holds a Rekor v1 entry (its SET)
  json::object payload;
  payload["body"] = e.body_b64;
  payload["integratedTime"] = e.integrated_time;
  payload["logIndex"] = e.log_index;
  payload["logID"] = e.log_id;
  json::object bundle;
  bundle["SignedEntryTimestamp"] = e.set_b64;
  bundle["Payload"] = std::move(payload);
  return json::serialize(bundle);
}

json::object layer_descriptor(const layer& l) {
  json::object d;
  d["mediaType"] = l.media_type;
  d["size"] = l.content.size();
  d["digest"] = l.digest;
  if (!l.annotations.empty()) {
    json::object a;
    for (const auto& [k, v] : l.annotations) a[k] = v;
    d["annotations"] = std::move(a);
  }
  return d;
}

std::string config_json(const json::array& layer_descriptors) {
  constexpr std::string_view zero_time = "0001-01-01T00:00:00Z";
  json::array history;
  json::array diff_ids;
  for (const auto& d : layer_descriptors) {
    history.push_back(json::object{{"created", zero_time}});
    diff_ids.push_back(d.as_object().at("digest"));
  }
  json::object c;
  c["architecture"] = "";
  c["created"] = zero_time;
  c["history"] = std::move(history);
  c["os"] = "";
  c["rootfs"] = json::object{{"type", "layers"}, {"diff_ids", std::move(diff_ids)}};
  c["config"] = json::object{};
  return json::serialize(c);
}

std::string manifest_json(std::string_view config_digest, std::size_t config_size,
                          const json::array& layer_descriptors) {
  json::object m;
  m["schemaVersion"] = 2;
  m["mediaType"] = oci_manifest_type;
  json::object cfg;
  cfg["mediaType"] = oci_config_type;
  cfg["size"] = config_size;
  cfg["digest"] = config_digest;
  m["config"] = std::move(cfg);
  m["layers"] = layer_descriptors;
  return json::serialize(m);
}

json::array manifest_layers(std::string_view manifest) {
  json::value v;
  try {
    v = json::parse(manifest);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("manifest is not JSON: ") + e.what());
  }
  if (!v.is_object()) throw std::invalid_argument("manifest is not a JSON object");
  auto& o = v.get_object();
  auto it = o.find("layers");
  if (it == o.end() || !it->value().is_array())
    throw std::invalid_argument("manifest has no layers (an index or an unknown document)");
  for (const auto& d : it->value().get_array())
    if (!d.is_object() || !d.get_object().contains("digest") || !d.get_object().at("digest").is_string())
      throw std::invalid_argument("manifest has a layer without a digest");
  return std::move(it->value().get_array());
}

bool is_index_type(std::string_view media_type) {
  return media_type == oci_image_index_type || media_type == docker_manifest_list_type;
}

bool is_sha256_digest(std::string_view digest) {
  return digest.size() == 71 && digest.substr(0, 7) == "sha256:" && is_hex64(digest.substr(7));
}

std::vector<index_entry> index_entries(std::string_view index_json) {
  json::value v;
  try {
    v = json::parse(index_json);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("index is not JSON: ") + e.what());
  }
  if (!v.is_object()) throw std::invalid_argument("index is not a JSON object");
  auto it = v.get_object().find("manifests");
  if (it == v.get_object().end() || !it->value().is_array())
    throw std::invalid_argument("index has no \"manifests\" array");
  std::vector<index_entry> out;
  for (const auto& d : it->value().get_array()) {
    if (!d.is_object()) throw std::invalid_argument("index lists a descriptor that is not an object");
    const auto& o = d.get_object();
    std::string digest = member_string(o, "digest");
    if (digest.empty()) throw std::invalid_argument("index lists a descriptor without a digest");
    std::string type = member_string(o, "mediaType");
    if (is_index_type(type)) {
      out.push_back({std::move(digest), true});
    } else if (type == oci_manifest_type || type == docker_manifest_type) {
      out.push_back({std::move(digest), false});
    }
  }
  return out;
}

std::vector<std::string> statement_image_subjects(std::string_view statement) {
  std::vector<std::string> out;
  json::value v;
  try {
    v = json::parse(statement);
  } catch (const std::exception&) {
    return out;
  }
  if (!v.is_object()) return out;
  auto it = v.get_object().find("subject");
  if (it == v.get_object().end() || !it->value().is_array()) return out;
  for (const auto& s : it->value().get_array()) {
    if (!s.is_object()) continue;
    std::string name = member_string(s.get_object(), "name");
    const json::object* digest = member_object(s.get_object(), "digest");
    if (name.empty() || !digest) continue;
    std::string hex = member_string(*digest, "sha256");
    if (!is_hex64(hex)) continue;
    std::string ref = name + "@sha256:" + hex;
    try {
      parse_reference(ref, true);
    } catch (const std::invalid_argument&) {
      continue;  // not an image (e.g. a file path with upper-case letters)
    }
    if (std::find(out.begin(), out.end(), ref) == out.end()) out.push_back(std::move(ref));
  }
  return out;
}

std::string statement_predicate_type(std::string_view statement) {
  try {
    auto v = json::parse(statement);
    return v.is_object() ? member_string(v.get_object(), "predicateType") : std::string();
  } catch (const std::exception&) {
    return {};
  }
}

std::string simplesigning_image(std::string_view payload) {
  try {
    auto v = json::parse(payload);
    if (!v.is_object()) return {};
    const json::object* critical = member_object(v.get_object(), "critical");
    if (!critical) return {};
    const json::object* identity = member_object(*critical, "identity");
    const json::object* image = member_object(*critical, "image");
    if (!identity || !image) return {};
    auto ref = member_string(*identity, "docker-reference");
    auto digest = member_string(*image, "docker-manifest-digest");
    return ref.empty() || digest.empty() ? std::string() : ref + "@" + digest;
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace storage_oci
