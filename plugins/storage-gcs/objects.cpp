#include "objects.hpp"

#include "credentials.hpp"
#include "settings.hpp"

namespace storage_gcs {
namespace plugin = chainsd::plugin;

plugin::result<std::string> object_prefix(const plugin::store_request& req) {
  const auto& r = req.run;
  if (r.namespace_name.empty() || r.name.empty())
    return plugin::fail(plugin::errc::permanent, "gcs storage: the run has no namespace or name");
  if (req.short_key.empty())
    return plugin::fail(plugin::errc::permanent, "gcs storage: empty storage key for " + r.namespace_name + "/" + r.name);
  // Upstream picks the prefix from the run's type; an image's artifacts belong to their run too.
  const char* kind = r.kind == "PipelineRun" ? "pipelinerun" : "taskrun";
  return std::string(kind) + "-" + r.namespace_name + "-" + r.name + "/" + req.short_key;
}

std::vector<object> objects_for(const std::string& prefix, const plugin::store_request& req) {
  return {{prefix + ".signature", req.signature},
          {prefix + ".payload", req.payload},
          {prefix + ".cert", req.cert_pem},
          {prefix + ".chain", req.chain_pem}};
}

std::string upload_url(const std::string& endpoint, const std::string& bucket, const std::string& name) {
  return endpoint + "/upload/storage/v1/b/" + google_auth::url_encode(bucket) + "/o?uploadType=media&name=" + google_auth::url_encode(name);
}

plugin::error upload_error(const plugin::http_response& r, const std::string& bucket, const std::string& name,
                           const std::string& url, const std::string& principal) {
  const std::string what = "gcs storage: uploading gs://" + bucket + "/" + name + " (" + url + ") answered HTTP " +
                           std::to_string(r.status) + ": " + google_auth::error_text(r.body);
  if (r.status == 401 || r.status == 403)
    return plugin::fail(plugin::errc::unauthenticated,
                        what + "; grant " + principal + " roles/storage.objectCreator on bucket \"" + bucket + "\" (" +
                            std::string(bucket_key) + ")");
  if (r.status == 404)
    return plugin::fail(plugin::errc::bad_config,
                        what + "; no bucket \"" + bucket + "\": check " + std::string(bucket_key));
  if (r.status == 408 || r.status == 429 || r.status >= 500) return plugin::fail(plugin::errc::retryable, what);
  return plugin::fail(plugin::errc::permanent, what);
}

}  // namespace storage_gcs
