#include "message.hpp"

#include <chainsd/plugin/encoding.hpp>

namespace storage_kafka {
namespace plugin = chainsd::plugin;

namespace {

const char* artifact_name(plugin::artifact_kind k) {
  switch (k) {
    case plugin::artifact_kind::taskrun: return "taskrun";
    case plugin::artifact_kind::pipelinerun: return "pipelinerun";
    case plugin::artifact_kind::oci: return "oci";
  }
  return "unknown";
}

// Records with one key land in one partition, so one artifact's records stay ordered: the run's
// uid for run attestations, the image digest for image signatures and attestations.
std::string record_key(const plugin::store_request& req) {
  if (req.kind == plugin::artifact_kind::oci) {
    if (auto at = req.image.rfind('@'); at != std::string::npos) return req.image.substr(at + 1);
    if (!req.full_key.empty()) return req.full_key;
  }
  if (!req.run.uid.empty()) return req.run.uid;
  return req.short_key;
}

}  // namespace

kafka_record make_record(const plugin::store_request& req) {
  kafka_record r;
  r.key = record_key(req);
  r.value = req.signature;
  auto add = [&r](std::string name, std::string value) { r.headers.emplace_back(std::move(name), std::move(value)); };
  // Upstream's two, first.
  add("payload", plugin::base64_encode(req.payload));
  add("signature", req.signature);
  add("payload-format", req.payload_format);
  add("artifact", artifact_name(req.kind));
  add("storage-key", req.full_key);
  add("run-kind", req.run.kind);
  add("run-namespace", req.run.namespace_name);
  add("run-name", req.run.name);
  add("run-uid", req.run.uid);
  if (!req.image.empty()) add("image", req.image);
  if (!req.cert_pem.empty()) add("cert", req.cert_pem);
  if (!req.chain_pem.empty()) add("chain", req.chain_pem);
  return r;
}

}  // namespace storage_kafka
