#pragma once
// What one stored artifact becomes in the bucket, with upstream's names
// (tektoncd/chains pkg/chains/storage/gcs): <kind>-<namespace>-<name>/<short key>.signature,
// .payload, .cert, .chain, where <kind> is "taskrun" or "pipelinerun" (an image's signature and
// attestation go under the run that built it, keyed by the image digest's first 12 hex digits),
// and how GCS's answers to an upload are classed. Pure (no I/O).

#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/storage.hpp>

#include <string>
#include <utility>
#include <vector>

namespace storage_gcs {

struct object {
  std::string name;
  std::string content;
};

// "taskrun-<ns>-<name>/<key>" (pipelinerun- likewise); permanent error on an unnamed run or key.
chainsd::plugin::result<std::string> object_prefix(const chainsd::plugin::store_request& req);

// The four objects, in upstream's order: signature, payload, cert, chain (the last two are
// written empty when the signature has no certificate, as upstream's writer does).
std::vector<object> objects_for(const std::string& prefix, const chainsd::plugin::store_request& req);

// POST <endpoint>/upload/storage/v1/b/<bucket>/o?uploadType=media&name=<object>
std::string upload_url(const std::string& endpoint, const std::string& bucket, const std::string& name);

// A non-2xx answer to an upload → the error class and a message naming the object, the bucket
// (storage.gcs.bucket) and the URL. `principal` names whose token was used.
chainsd::plugin::error upload_error(const chainsd::plugin::http_response& r, const std::string& bucket,
                                    const std::string& name, const std::string& url, const std::string& principal);

}  // namespace storage_gcs
