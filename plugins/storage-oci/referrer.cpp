#include "referrer.hpp"

#include "layout.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

namespace storage_oci {
namespace json = boost::json;

namespace {

// Go marshals map keys sorted.
json::object annotations(const referrer_info& info) {
  return json::object{{"dev.sigstore.bundle.content", info.content},
                      {"dev.sigstore.bundle.predicateType", info.predicate_type},
                      {"org.opencontainers.image.created", info.created}};
}

}  // namespace

std::string referrer_manifest(const json::object& subject, std::string_view layer_digest, std::size_t layer_size,
                              const referrer_info& info) {
  json::object m;
  m["schemaVersion"] = 2;
  m["mediaType"] = oci_manifest_type;
  json::object cfg;
  cfg["mediaType"] = empty_config_type;
  cfg["size"] = 2;
  cfg["digest"] = sha256_digest("{}");
  cfg["artifactType"] = bundle_type;
  m["config"] = std::move(cfg);
  json::object layer;
  layer["mediaType"] = bundle_type;
  layer["size"] = layer_size;
  layer["digest"] = layer_digest;
  m["layers"] = json::array{std::move(layer)};
  m["annotations"] = annotations(info);
  m["subject"] = subject;
  m["artifactType"] = bundle_type;
  return json::serialize(m);
}

json::object referrer_descriptor(std::string_view manifest_digest, std::size_t manifest_size,
                                 const referrer_info& info) {
  json::object desc;
  desc["mediaType"] = oci_manifest_type;
  desc["size"] = manifest_size;
  desc["digest"] = manifest_digest;
  desc["annotations"] = annotations(info);
  desc["artifactType"] = bundle_type;
  return desc;
}

}  // namespace storage_oci
