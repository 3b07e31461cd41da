// The gcs storage backend: each signed artifact as four objects of storage.gcs.bucket, named as
// upstream names them, uploaded through the GCS JSON API (media uploads) with the host's HTTP
// client, authenticated with a cached access token (service-account key file or workload
// identity). See README.md.
#include "objects.hpp"
#include "settings.hpp"
#include "token_source.hpp"

#include <chainsd/plugin/export.hpp>

#include <boost/asio/awaitable.hpp>

namespace storage_gcs {
namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using namespace std::chrono_literals;

class gcs_storage final : public plugin::storage {
 public:
  bool uses_unlogged_bundle() const override { return false; }
  gcs_storage(plugin::host& h, settings s)
      : host_(h),
        s_(std::move(s)),
        tokens_(h, s_.creds, std::string(storage_scope), "gcs storage", std::string(bucket_key)) {}

  asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    auto prefix = object_prefix(req);
    if (!prefix) co_return prefix.error();
    for (const auto& obj : objects_for(*prefix, req)) {
      auto r = co_await upload(obj);
      if (!r) {
        count("failed");
        co_return r.error();
      }
      count("stored");
    }
    host_.log(plugin::log_level::info, "stored in gcs",
              {{"run", req.run.namespace_name + "/" + req.run.name}, {"objects", "gs://" + s_.bucket + "/" + *prefix + ".*"}});
    co_return plugin::store_result{};
  }

 private:
  // One media upload (a refused token is replaced once, by the token source).
  asio::awaitable<plugin::result<void>> upload(const object& obj) {
    plugin::http_request req;
    req.method = "POST";
    req.url = upload_url(s_.endpoint, s_.bucket, obj.name);
    req.headers = {{"Content-Type", "application/octet-stream"}};
    req.body = obj.content;
    req.timeout = 30s;
    req.replayable = true;  // the same name and bytes again: the object is simply overwritten
    const std::string url = req.url;
    auto r = co_await tokens_.send(std::move(req), "uploading gs://" + s_.bucket + "/" + obj.name);
    if (!r) co_return r.error();
    if (r->status >= 200 && r->status < 300) co_return plugin::result<void>{};
    co_return upload_error(*r, s_.bucket, obj.name, url, tokens_.principal());
  }

  void count(const char* result) {
    host_.count("chainsd_plugin_gcs_objects_total", "Objects the gcs storage backend uploaded, by outcome",
                {{"result", result}});
  }

  plugin::host& host_;
  settings s_;
  google_auth::token_source tokens_;
};

}  // namespace storage_gcs

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_gcs_storage(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  auto s = storage_gcs::parse_settings(cfg, google_auth::process_env);
  if (!s) return s.error();
  const auto& c = s->creds;
  h.log(chainsd::plugin::log_level::info, "gcs storage ready",
        {{"bucket", s->bucket}, {"endpoint", s->endpoint},
         {"credentials", c.service_account_file ? "service account " + c.sa.client_email : "metadata server " + c.metadata_host}});
  return std::make_unique<storage_gcs::gcs_storage>(h, std::move(*s));
}

CHAINSD_STORAGE_PLUGIN("gcs", "0.1.0", make_gcs_storage)
