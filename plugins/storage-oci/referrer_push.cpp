// sigstore-bundle: the bundle as an OCI 1.1 referrer of the image, in the image's repository
// (a referrer must sit beside its subject, so storage.oci.repository does not apply), as cosign's
// WriteAttestationNewBundleFormat. Registries without the referrers API get the tag schema
// fallback: an index under tag sha256-<hex>, maintained here.
#include "push.hpp"
#include "referrer.hpp"

#include <chainsd/plugin/rfc3339.hpp>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <optional>
#include <vector>

namespace storage_oci {
namespace json = boost::json;

boost::asio::awaitable<plugin::result<void>> push_referrer(pushes* p, push_job job, credential_set creds,
                                                           std::string run) {
  plugin::host& host = p->host;
  const image_ref target = job.subject;
  if (p->cfg.repository && p->cfg.repository->str() != target.str() && !p->warned_override) {
    p->warned_override = true;
    host.log(plugin::log_level::warn,
             "storage.oci.repository is ignored with sigstore-bundle: referrers are stored beside their image",
             {{"key", "storage.oci.repository"}, {"image", target.str()}});
  }
  std::string fallback_tag = target.digest;  // "sha256-<hex>", the referrers tag schema
  fallback_tag[fallback_tag.find(':')] = '-';
  const std::string lock_key = target.registry + "/" + target.repository + ":" + fallback_tag;
  co_await p->busy_tags.lock(lock_key, host.executor());
  busy_keys::release guard{&p->busy_tags, lock_key};
  session_options opts;
  opts.allow_http = p->cfg.allow_http(target.registry);
  opts.chunk_size = p->cfg.chunk_size;
  registry_session session(host, target.registry, target.repository, "", creds.find(target.registry), opts,
                           p->cache);
  const std::string what = std::string(job.suffix == "sig" ? "signature bundle" : "attestation bundle") + " of " +
                           target.str() + " (" + run + ")";
  auto failed = [&](const plugin::error& e) {
    host.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
               {{"kind", job.suffix + "-bundle"}, {"result", plugin::to_string(e.code)}});
    return plugin::fail(e.code, "oci storage: storing " + what + " as a referrer in " + session.where() + ": " +
                                    e.message);
  };
  auto auth = co_await session.authenticate();
  if (!auth) co_return failed(auth.error());
  auto subject = co_await session.get_manifest(target.digest, std::string(any_manifest));
  if (!subject) co_return failed(subject.error());
  if (!*subject)
    co_return failed(plugin::fail(plugin::errc::permanent, "the image manifest " + target.digest + " does not exist"));
  json::object subject_desc;
  subject_desc["mediaType"] = (*subject)->media_type;
  subject_desc["size"] = (*subject)->body.size();
  subject_desc["digest"] = target.digest;

  // Existing referrers: from the API, else from the fallback tag's index.
  auto listed = co_await session.referrers(target.digest);
  if (!listed) co_return failed(listed.error());
  std::optional<std::string> fallback_index;
  std::string index_text;
  if (*listed) {
    index_text = **listed;
  } else {
    auto fb = co_await session.get_manifest(fallback_tag, std::string(oci_index_type));
    if (!fb) co_return failed(fb.error());
    if (*fb) fallback_index = (*fb)->body;
    index_text = fallback_index.value_or("{}");
  }
  std::vector<std::string> referrer_digests;
  try {
    auto v = json::parse(index_text);
    if (auto* ms = v.as_object().if_contains("manifests"); ms && ms->is_array())
      for (const auto& d : ms->get_array())
        if (auto* dg = d.is_object() ? d.get_object().if_contains("digest") : nullptr; dg && dg->is_string())
          referrer_digests.emplace_back(dg->get_string());
  } catch (const std::exception& e) {
    co_return failed(plugin::fail(plugin::errc::permanent, std::string("referrers index is not JSON: ") + e.what()));
  }
  for (const auto& d : referrer_digests) {
    auto m = co_await session.get_manifest(d, std::string(oci_manifest_type));
    if (!m) co_return failed(m.error());
    if (!*m) continue;
    json::array layers;
    try {
      layers = manifest_layers((*m)->body);
    } catch (const std::invalid_argument&) {
      continue;
    }
    for (const auto& l : layers) {
      if (l.as_object().at("digest").as_string() != job.content.digest) continue;
      host.log(plugin::log_level::info, "oci bundle already stored",
               {{"run", run}, {"image", target.str()}, {"referrer", d}});
      co_return plugin::result<void>{};
    }
  }

  const referrer_info info{job.predicate_type, job.bundle_content, plugin::rfc3339_now()};
  const std::string manifest =
      referrer_manifest(subject_desc, job.content.digest, job.content.content.size(), info);
  const std::string manifest_digest = sha256_digest(manifest);
  const std::size_t manifest_size = manifest.size();
  plugin::result<std::string> put = std::string();
  for (int attempt = 0;; ++attempt) {
    auto empty = co_await session.ensure_blob(sha256_digest("{}"), "{}");
    if (!empty) co_return failed(empty.error());
    auto blob = co_await session.ensure_blob(job.content.digest, job.content.content);
    if (!blob) co_return failed(blob.error());
    put = co_await session.put_manifest(manifest_digest, std::string(oci_manifest_type), manifest);
    if (put) break;
    // A blob skipped as known may have been garbage-collected since: check them and retry once.
    if (attempt == 0 && session.skipped_known_blobs() && put.error().code == plugin::errc::permanent) {
      session.forget_known_blobs();
      continue;
    }
    co_return failed(put.error());
  }
  if (put->empty()) {
    // The registry ignored the subject: maintain the referrers tag schema index ourselves.
    json::object index;
    try {
      index = fallback_index ? json::parse(*fallback_index).as_object()
                             : json::object{{"schemaVersion", 2}, {"mediaType", oci_index_type},
                                            {"manifests", json::array{}}};
    } catch (const std::exception& e) {
      co_return failed(plugin::fail(plugin::errc::permanent, "tag " + fallback_tag + " is not an index: " + e.what()));
    }
    json::object desc = referrer_descriptor(manifest_digest, manifest_size, info);
    if (!index["manifests"].is_array()) index["manifests"] = json::array{};
    index["manifests"].get_array().push_back(std::move(desc));
    std::string index_body = json::serialize(index);
    auto put_index = co_await session.put_manifest(fallback_tag, std::string(oci_index_type), std::move(index_body));
    if (!put_index) co_return failed(put_index.error());
  }
  host.log(plugin::log_level::info, "oci bundle stored as a referrer",
           {{"run", run}, {"image", target.str()}, {"referrer", manifest_digest},
            {"fallback", put->empty() ? "tag schema" : "referrers API"}});
  host.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
             {{"kind", job.suffix + "-bundle"}, {"result", "stored"}});
  co_return plugin::result<void>{};
}

}  // namespace storage_oci
