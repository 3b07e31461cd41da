// The cosign tag layout push (dsse): sha256-<hex>.sig / .att, byte-compatible with cosign's
// mutate.Append + remote.Write. Blobs first, the manifest last.
#include "push.hpp"

#include <boost/json/array.hpp>

namespace storage_oci {
namespace json = boost::json;

boost::asio::awaitable<plugin::result<void>> push_tag(pushes* p, push_job job, credential_set creds, std::string run) {
  plugin::host& host = p->host;
  image_ref target = p->cfg.repository ? *p->cfg.repository : job.subject;
  const std::string lock_key = target.str() + ":" + cosign_tag(job.subject.digest, job.suffix);
  // One read-modify-write of a tag at a time in this process: two runs attesting the same image
  // concurrently would otherwise each PUT a manifest without the other's layer.
  co_await p->busy_tags.lock(lock_key, host.executor());
  busy_keys::release guard{&p->busy_tags, lock_key};
  std::string mount_from;
  if (target.registry == job.subject.registry && target.repository != job.subject.repository)
    mount_from = job.subject.repository;
  session_options opts;
  opts.allow_http = p->cfg.allow_http(target.registry);
  opts.chunk_size = p->cfg.chunk_size;
  registry_session session(host, target.registry, target.repository, mount_from, creds.find(target.registry), opts,
                           p->cache);
  const std::string tag = cosign_tag(job.subject.digest, job.suffix);
  const std::string what = std::string(job.suffix == "sig" ? "signature" : "attestation") + " of " +
                           job.subject.str() + " (" + run + ")";
  auto failed = [&](const plugin::error& e) {
    host.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
               {{"kind", job.suffix}, {"result", plugin::to_string(e.code)}});
    return plugin::fail(e.code, "oci storage: storing " + what + " as " + session.where() + ":" + tag + ": " +
                                    e.message);
  };

  auto auth = co_await session.authenticate();
  if (!auth) co_return failed(auth.error());
  auto existing = co_await session.get_manifest(tag, std::string(any_manifest));
  if (!existing) co_return failed(existing.error());
  json::array layers;
  if (*existing) {
    try {
      layers = manifest_layers((*existing)->body);
    } catch (const std::invalid_argument& e) {
      co_return failed(plugin::fail(plugin::errc::permanent, std::string("existing tag: ") + e.what()));
    }
  }
  for (const auto& d : layers) {
    if (d.as_object().at("digest").as_string() == job.content.digest) {
      host.log(plugin::log_level::info, "oci layer already stored",
               {{"run", run}, {"image", job.subject.str()}, {"tag", tag}, {"digest", job.content.digest}});
      host.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
                 {{"kind", job.suffix}, {"result", "present"}});
      co_return plugin::result<void>{};
    }
  }
  layers.push_back(layer_descriptor(job.content));
  const std::string config = config_json(layers);
  const std::string config_digest = sha256_digest(config);
  const std::string manifest = manifest_json(config_digest, config.size(), layers);
  for (int attempt = 0;; ++attempt) {
    auto blob = co_await session.ensure_blob(job.content.digest, job.content.content);
    if (!blob) co_return failed(blob.error());
    auto cfg_blob = co_await session.ensure_blob(config_digest, config);
    if (!cfg_blob) co_return failed(cfg_blob.error());
    auto put = co_await session.put_manifest(tag, std::string(oci_manifest_type), manifest);
    if (put) break;
    // A blob skipped as known may have been garbage-collected since: check them and retry once.
    if (attempt == 0 && session.skipped_known_blobs() && put.error().code == plugin::errc::permanent) {
      session.forget_known_blobs();
      continue;
    }
    co_return failed(put.error());
  }
  host.log(plugin::log_level::info, "oci layer stored",
           {{"run", run}, {"image", job.subject.str()}, {"tag", session.where() + ":" + tag},
            {"digest", job.content.digest}});
  host.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
             {{"kind", job.suffix}, {"result", "stored"}});
  co_return plugin::result<void>{};
}

}  // namespace storage_oci
