// The oci storage backend: image signatures and in-toto attestations in the image's registry with
// cosign's tag layout (sha256-<hex>.sig / .att), readable by `cosign verify` and
// `cosign verify-attestation`. Writes nothing on the run (empty annotations).
#include "bundle.hpp"
#include "credentials.hpp"
#include "layout.hpp"
#include "registry.hpp"

#include <chainsd/plugin/encoding.hpp>
#include <chainsd/plugin/export.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <set>

namespace storage_oci {
namespace json = boost::json;

namespace {

std::string config_value(const plugin::config_map& cfg, std::string_view key) {
  auto it = cfg.find(key);
  return it == cfg.end() ? std::string() : it->second;
}

bool is_loopback(std::string_view registry) {
  std::string_view host = registry;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string run_name(const plugin::store_request& req) { return req.run.namespace_name + "/" + req.run.name; }

// Keys some coroutine is working on (a tag being rewritten, credentials being read), each with a
// timer that never fires on its own: others wait on it and are woken when the work ends.
class busy_keys {
 public:
  // Waits once if `key` is busy and returns true (the caller re-checks its state); false if free.
  boost::asio::awaitable<bool> wait_if_busy(const std::string& key) {
    auto it = keys_.find(key);
    if (it == keys_.end()) co_return false;
    auto timer = it->second;
    auto waited = co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)waited;
    co_return true;
  }
  void mark(std::string key, boost::asio::any_io_executor ex) {
    keys_.emplace(std::move(key), std::make_shared<boost::asio::steady_timer>(
                                      ex, boost::asio::steady_timer::time_point::max()));
  }
  // Frees the key and wakes its waiters when the working coroutine's frame goes, however it ends.
  struct release {
    busy_keys* set;
    std::string key;
    ~release() {
      auto it = set->keys_.find(key);
      if (it == set->keys_.end()) return;
      it->second->cancel();
      set->keys_.erase(it);
    }
  };

 private:
  std::map<std::string, std::shared_ptr<boost::asio::steady_timer>> keys_;
};

// One layer to add under one tag: what a push needs besides the session.
struct push_job {
  image_ref subject;        // the signed image (its digest names the tag)
  std::string suffix;       // "sig" / "att"
  layer content;            // cosign layer, or the Sigstore bundle for a referrer
  bool referrer = false;    // sigstore-bundle: an OCI 1.1 referrer instead of a cosign tag
  std::string predicate_type;
};

constexpr std::string_view any_manifest =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

std::string rfc3339_now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

class oci_storage final : public plugin::storage {
 public:
  oci_storage(plugin::host& h, std::optional<image_ref> repository, bool insecure, bool bundles,
              credential_set file_creds, std::size_t chunk_size, std::chrono::milliseconds credentials_ttl)
      : host_(h),
        repository_(std::move(repository)),
        insecure_(insecure),
        bundles_(bundles),
        file_creds_(std::move(file_creds)),
        chunk_size_(chunk_size),
        credentials_ttl_(credentials_ttl) {}

  boost::asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    std::vector<push_job> jobs;
    if (req.kind == plugin::artifact_kind::oci || req.payload_format == "simplesigning") {
      std::string image = req.image.empty() ? simplesigning_image(req.payload) : req.image;
      push_job job;
      try {
        job.subject = parse_reference(image, true);
      } catch (const std::invalid_argument& e) {
        co_return plugin::fail(plugin::errc::permanent,
                               "oci storage: image of " + run_name(req) + " is not a digest reference: " + e.what());
      }
      job.suffix = "sig";
      if (bundles_) {
        job.referrer = true;
        job.predicate_type = cosign_sign_predicate;
        try {
          job.content = make_layer(std::string(bundle_type),
                                   signature_bundle(req.payload, req.signature, req.cert_pem, req.public_key_pem,
                                                    req.rekor_entry_json),
                                   "", "", "", "");
        } catch (const std::invalid_argument& e) {
          co_return plugin::fail(plugin::errc::permanent,
                                 "oci storage: sigstore bundle for " + image + " (" + run_name(req) + "): " + e.what());
        }
        job.content.annotations.clear();  // a bundle layer has no cosign annotations
      } else {
        job.content = make_layer(std::string(simplesigning_type), req.payload, plugin::base64_encode(req.signature),
                                 req.cert_pem, req.chain_pem, rekor_bundle_json(req.rekor_entry_json));
      }
      jobs.push_back(std::move(job));
    } else {
      // Upstream derives the subjects from the statement; the engine may also name them.
      auto subjects = req.subject_images.empty() ? statement_image_subjects(req.payload) : req.subject_images;
      if (subjects.empty()) {
        host_.log(plugin::log_level::info, "no image subject to attest; nothing stored in a registry",
                  {{"run", run_name(req)}, {"uid", req.run.uid}});
        co_return plugin::store_result{};
      }
      std::map<std::string, std::string> extra;
      // `cosign attest` records the predicate type so verifiers can filter without parsing.
      const auto pt = statement_predicate_type(req.payload);
      if (!pt.empty()) extra["predicateType"] = pt;
      layer att;
      if (bundles_) {
        if (pt.empty())
          co_return plugin::fail(plugin::errc::permanent, "oci storage: the statement of " + run_name(req) +
                                                              " has no predicateType, required for sigstore bundles");
        try {
          att = make_layer(std::string(bundle_type),
                           attestation_bundle(req.signature, req.cert_pem, req.public_key_pem, req.rekor_entry_json),
                           "", "", "", "");
        } catch (const std::invalid_argument& e) {
          co_return plugin::fail(plugin::errc::permanent,
                                 "oci storage: sigstore bundle for " + run_name(req) + ": " + e.what());
        }
        att.annotations.clear();
      } else {
        att = make_layer(std::string(dsse_type), req.signature, "", req.cert_pem, req.chain_pem,
                         rekor_bundle_json(req.rekor_entry_json), extra);
      }
      for (const auto& s : subjects) {
        push_job job;
        try {
          job.subject = parse_reference(s, true);
        } catch (const std::invalid_argument& e) {
          co_return plugin::fail(plugin::errc::permanent,
                                 "oci storage: subject of " + run_name(req) + " is not an image digest: " + e.what());
        }
        job.suffix = "att";
        job.content = att;
        job.referrer = bundles_;
        job.predicate_type = pt;
        jobs.push_back(std::move(job));
      }
    }

    auto creds = co_await service_account_credentials(req.run);
    if (!creds) co_return creds.error();
    creds->merge(file_creds_);
    if (jobs.size() == 1) {
      auto r = co_await push(std::move(jobs.front()), *creds, run_name(req));
      if (!r) co_return r.error();
      co_return plugin::store_result{};
    }
    // Several image subjects: push them concurrently (the host's client pools the connections).
    struct join_state {
      std::size_t remaining = 0;
      std::vector<plugin::result<void>> results;
      boost::asio::steady_timer done;
      explicit join_state(boost::asio::any_io_executor ex) : done(ex, boost::asio::steady_timer::time_point::max()) {}
    };
    auto state = std::make_shared<join_state>(host_.executor());
    state->remaining = jobs.size();
    state->results.resize(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      auto finished = [this, state, i](std::exception_ptr e, plugin::result<void> r) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            r = plugin::fail(plugin::errc::permanent, std::string("oci storage: push failed: ") + ex.what());
          } catch (...) {
            r = plugin::fail(plugin::errc::permanent, "oci storage: push failed with an unknown exception");
          }
        }
        --in_flight_;
        state->results[i] = std::move(r);
        if (--state->remaining == 0) state->done.cancel();
      };
      ++in_flight_;
      boost::asio::co_spawn(host_.executor(), push(std::move(jobs[i]), *creds, run_name(req)), std::move(finished));
    }
    // Each request of a push has its own deadline, so this wait is bounded. If this run is
    // cancelled the wait throws and the pushes finish on their own: close() waits for them, so
    // the instance outlives them.
    while (state->remaining > 0) {
      auto waited = co_await state->done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      (void)waited;
    }
    for (auto& r : state->results)
      if (!r) co_return r.error();
    co_return plugin::store_result{};
  }

  // Pushes spawned for several subjects may outlive a cancelled store(): wait for them.
  boost::asio::awaitable<void> close() override {
    boost::asio::steady_timer poll(host_.executor());
    while (in_flight_ > 0) {
      poll.expires_after(std::chrono::milliseconds(50));
      auto waited = co_await poll.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      (void)waited;
    }
  }

  bool reads_image_indexes() const override { return true; }

  // The manifests under an index, for artifacts.oci.sign-platform-manifests: the index is read
  // from the image's repository (pull scope, the run's credentials), each manifest's bytes are
  // checked against the digest asked for, and nested indexes are read in turn (depth first, as
  // cosign's walk). Only indexes are fetched: an image manifest listed is not downloaded.
  boost::asio::awaitable<plugin::result<std::vector<std::string>>> index_manifests(plugin::run_ref run,
                                                                                   std::string image) override {
    const std::string rn = run.namespace_name + "/" + run.name;
    image_ref ref;
    try {
      ref = parse_reference(image, true);
    } catch (const std::invalid_argument& e) {
      co_return plugin::fail(plugin::errc::permanent, "oci storage: image of " + rn + " is not a digest reference: " + e.what());
    }
    auto creds = co_await service_account_credentials(run);
    if (!creds) co_return creds.error();
    creds->merge(file_creds_);
    session_options opts;
    opts.allow_http = insecure_ || is_loopback(ref.registry);
    opts.pull_only = true;
    registry_session session(host_, ref.registry, ref.repository, "", creds->find(ref.registry), opts, cache_);
    auto failed = [&](const plugin::error& e) {
      host_.count("chainsd_plugin_oci_index_reads_total", "Images read to list the manifests of an index, by outcome",
                  {{"result", plugin::to_string(e.code)}});
      return plugin::fail(e.code, "oci storage: listing the manifests of " + ref.str() + " (" + rn + ") in " +
                                      session.where() + ": " + e.message);
    };
    auto auth = co_await session.authenticate();
    if (!auth) co_return failed(auth.error());

    auto root = co_await read_index(&session, ref.digest);
    if (!root) co_return failed(root.error());
    std::vector<std::string> out;
    if (!*root) {
      host_.count("chainsd_plugin_oci_index_reads_total", "Images read to list the manifests of an index, by outcome",
                  {{"result", "manifest"}});
      co_return out;
    }
    // Bounds against a hostile or broken registry (digests make cycles impossible, not size).
    constexpr std::size_t max_depth = 8, max_manifests = 1000;
    struct frame {
      std::vector<index_entry> entries;
      std::size_t next = 0;
    };
    std::vector<frame> stack{frame{std::move(**root)}};
    std::set<std::string> seen{ref.digest};
    while (!stack.empty()) {
      if (stack.back().next == stack.back().entries.size()) {
        stack.pop_back();
        continue;
      }
      index_entry entry = stack.back().entries[stack.back().next++];
      if (!is_sha256_digest(entry.digest)) {
        host_.log(plugin::log_level::warn, "manifest of an index not signed: only sha256 digests are supported",
                  {{"run", rn}, {"image", ref.str()}, {"digest", entry.digest}});
        continue;
      }
      if (!seen.insert(entry.digest).second) continue;
      out.push_back(entry.digest);
      if (out.size() > max_manifests)
        co_return failed(plugin::fail(plugin::errc::permanent,
                                      "the index lists more than " + std::to_string(max_manifests) + " manifests"));
      if (!entry.index) continue;
      if (stack.size() >= max_depth)
        co_return failed(plugin::fail(plugin::errc::permanent,
                                      "indexes nested deeper than " + std::to_string(max_depth) + " levels"));
      auto nested = co_await read_index(&session, entry.digest);
      if (!nested) co_return failed(nested.error());
      if (*nested) stack.push_back(frame{std::move(**nested)});
    }
    host_.log(plugin::log_level::info, "image index read",
              {{"run", rn}, {"image", ref.str()}, {"manifests", std::to_string(out.size())}});
    host_.count("chainsd_plugin_oci_index_reads_total", "Images read to list the manifests of an index, by outcome",
                {{"result", "index"}});
    co_return out;
  }

 private:
  // The entries of the manifest `digest` when it is an index, nullopt for an image manifest.
  // `session` is borrowed: the caller awaits this directly.
  static boost::asio::awaitable<plugin::result<std::optional<std::vector<index_entry>>>> read_index(
      registry_session* session, std::string digest) {
    auto m = co_await session->get_manifest(digest, std::string(any_manifest));
    if (!m) co_return m.error();
    if (!*m) co_return plugin::fail(plugin::errc::permanent, "manifest " + digest + " does not exist");
    // A registry (or a proxy) answering other bytes must not make us sign what it chose.
    if (auto got = sha256_digest((*m)->body); got != digest)
      co_return plugin::fail(plugin::errc::permanent,
                             "the registry answered manifest " + digest + " with a document of digest " + got);
    if (!is_index_type((*m)->media_type)) co_return std::optional<std::vector<index_entry>>();
    try {
      co_return std::optional<std::vector<index_entry>>(index_entries((*m)->body));
    } catch (const std::invalid_argument& e) {
      co_return plugin::fail(plugin::errc::permanent, "index " + digest + ": " + e.what());
    }
  }

  // One read-modify-write of a tag at a time in this process: two runs attesting the same image
  // concurrently would otherwise each PUT a manifest without the other's layer.
  boost::asio::awaitable<void> lock_tag(std::string key) {
    for (;;) {  // (no co_await in a loop condition: GCC 12 miscompiles it)
      const bool waited = co_await busy_tags_.wait_if_busy(key);
      if (!waited) break;
    }
    busy_tags_.mark(std::move(key), host_.executor());
  }

  // Adds the layer to the manifest under the cosign tag, keeping existing layers; a layer with the
  // same digest already there means this exact signature is stored (a retried run): done.
  boost::asio::awaitable<plugin::result<void>> push(push_job job, credential_set creds, std::string run) {
    if (job.referrer) {
      auto r = co_await push_referrer(std::move(job), std::move(creds), std::move(run));
      co_return r;
    }
    image_ref target = repository_ ? *repository_ : job.subject;
    const std::string lock_key = target.str() + ":" + cosign_tag(job.subject.digest, job.suffix);
    co_await lock_tag(lock_key);
    busy_keys::release guard{&busy_tags_, lock_key};
    std::string mount_from;
    if (target.registry == job.subject.registry && target.repository != job.subject.repository)
      mount_from = job.subject.repository;
    session_options opts;
    opts.allow_http = insecure_ || is_loopback(target.registry);
    opts.chunk_size = chunk_size_;
    registry_session session(host_, target.registry, target.repository, mount_from, creds.find(target.registry),
                             opts, cache_);
    const std::string tag = cosign_tag(job.subject.digest, job.suffix);
    const std::string what = std::string(job.suffix == "sig" ? "signature" : "attestation") + " of " +
                             job.subject.str() + " (" + run + ")";
    auto failed = [&](const plugin::error& e) {
      host_.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
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
        host_.log(plugin::log_level::info, "oci layer already stored",
                  {{"run", run}, {"image", job.subject.str()}, {"tag", tag}, {"digest", job.content.digest}});
        host_.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
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
    host_.log(plugin::log_level::info, "oci layer stored",
              {{"run", run}, {"image", job.subject.str()}, {"tag", session.where() + ":" + tag},
               {"digest", job.content.digest}});
    host_.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
                {{"kind", job.suffix}, {"result", "stored"}});
    co_return plugin::result<void>{};
  }

  // sigstore-bundle: the bundle as an OCI 1.1 referrer of the image, in the image's repository
  // (a referrer must sit beside its subject, so storage.oci.repository does not apply). Registries
  // without the referrers API get the tag schema fallback: an index under tag sha256-<hex>.
  // A referrer whose bundle layer has the same digest means this bundle is stored: done.
  boost::asio::awaitable<plugin::result<void>> push_referrer(push_job job, credential_set creds, std::string run) {
    const image_ref target = job.subject;
    if (repository_ && repository_->str() != target.str() && !warned_override_) {
      warned_override_ = true;
      host_.log(plugin::log_level::warn,
                "storage.oci.repository is ignored with sigstore-bundle: referrers are stored beside their image",
                {{"key", "storage.oci.repository"}, {"image", target.str()}});
    }
    std::string fallback_tag = target.digest;  // "sha256-<hex>", the referrers tag schema
    fallback_tag[fallback_tag.find(':')] = '-';
    const std::string lock_key = target.registry + "/" + target.repository + ":" + fallback_tag;
    co_await lock_tag(lock_key);
    busy_keys::release guard{&busy_tags_, lock_key};
    session_options opts;
    opts.allow_http = insecure_ || is_loopback(target.registry);
    opts.chunk_size = chunk_size_;
    registry_session session(host_, target.registry, target.repository, "", creds.find(target.registry), opts,
                             cache_);
    const std::string what = std::string(job.suffix == "sig" ? "signature bundle" : "attestation bundle") + " of " +
                             target.str() + " (" + run + ")";
    auto failed = [&](const plugin::error& e) {
      host_.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
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
        host_.log(plugin::log_level::info, "oci bundle already stored",
                  {{"run", run}, {"image", target.str()}, {"referrer", d}});
        co_return plugin::result<void>{};
      }
    }

    const std::string created = rfc3339_now();
    const std::string manifest = referrer_manifest(subject_desc, job.content.digest, job.content.content.size(),
                                                   job.predicate_type, created);
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
      json::object desc;
      desc["mediaType"] = oci_manifest_type;
      desc["size"] = manifest_size;
      desc["digest"] = manifest_digest;
      desc["annotations"] = json::object{{"dev.sigstore.bundle.content", "dsse-envelope"},
                                         {"dev.sigstore.bundle.predicateType", job.predicate_type},
                                         {"org.opencontainers.image.created", created}};
      desc["artifactType"] = bundle_type;
      if (!index["manifests"].is_array()) index["manifests"] = json::array{};
      index["manifests"].get_array().push_back(std::move(desc));
      std::string index_body = json::serialize(index);
      auto put_index = co_await session.put_manifest(fallback_tag, std::string(oci_index_type), std::move(index_body));
      if (!put_index) co_return failed(put_index.error());
    }
    host_.log(plugin::log_level::info, "oci bundle stored as a referrer",
              {{"run", run}, {"image", target.str()}, {"referrer", manifest_digest},
               {"fallback", put->empty() ? "tag schema" : "referrers API"}});
    host_.count("chainsd_plugin_oci_pushes_total", "OCI registry pushes by outcome",
                {{"kind", job.suffix + "-bundle"}, {"result", "stored"}});
    co_return plugin::result<void>{};
  }

  // The run's service-account credentials, cached per (namespace, account) for credentials_ttl_:
  // a burst of runs costs one lookup (concurrent stores wait for the one in progress), and a
  // changed account or secret is read again once the entry expires. Failures are not cached.
  boost::asio::awaitable<plugin::result<credential_set>> service_account_credentials(plugin::run_ref run) {
    if (run.namespace_name.empty()) co_return credential_set{};
    if (credentials_ttl_.count() <= 0) {
      auto r = co_await read_service_account_credentials(std::move(run));
      co_return r;
    }
    const std::string key =
        run.namespace_name + "/" + (run.service_account.empty() ? std::string("default") : run.service_account);
    for (;;) {
      if (auto it = sa_cache_.find(key); it != sa_cache_.end()) {
        if (std::chrono::steady_clock::now() < it->second.expires) co_return it->second.creds;
        sa_cache_.erase(it);
      }
      const bool waited = co_await sa_loading_.wait_if_busy(key);
      if (!waited) break;  // woken: the cache is checked again
    }
    sa_loading_.mark(key, host_.executor());
    busy_keys::release guard{&sa_loading_, key};
    auto r = co_await read_service_account_credentials(std::move(run));
    if (r) {
      const auto now = std::chrono::steady_clock::now();
      if (sa_cache_.size() >= max_cached_accounts) {
        std::erase_if(sa_cache_, [now](const auto& e) { return e.second.expires <= now; });
        if (sa_cache_.size() >= max_cached_accounts) sa_cache_.clear();
      }
      sa_cache_[key] = cached_credentials{now + credentials_ttl_, *r};
    }
    co_return r;
  }

  // The `.dockerconfigjson` / `.dockercfg` imagePullSecrets of the run's service account, as
  // upstream's k8schain. A missing account or secret, or no permission to read it, means "no
  // credentials from there" (logged); an unreachable API server is retryable.
  boost::asio::awaitable<plugin::result<credential_set>> read_service_account_credentials(plugin::run_ref run) {
    credential_set out;
    if (run.namespace_name.empty()) co_return out;
    const std::string sa = run.service_account.empty() ? "default" : run.service_account;
    const std::string ns_path = "/api/v1/namespaces/" + run.namespace_name;
    auto r = co_await host_.kube("GET", ns_path + "/serviceaccounts/" + sa, "", "");
    if (!r) {
      if (r.error().code == plugin::errc::retryable)
        co_return plugin::fail(plugin::errc::retryable, "oci storage: reading service account " + run.namespace_name +
                                                            "/" + sa + ": " + r.error().message);
      co_return out;  // no Kubernetes API in this mode
    }
    if (r->status >= 500)
      co_return plugin::fail(plugin::errc::retryable, "oci storage: reading service account " + run.namespace_name +
                                                          "/" + sa + ": HTTP " + std::to_string(r->status));
    if (r->status != 200) {
      host_.log(plugin::log_level::warn, "service account not readable; pushing without its imagePullSecrets",
                {{"run", run.namespace_name + "/" + run.name}, {"service_account", sa},
                 {"status", std::to_string(r->status)},
                 {"hint", r->status == 403 ? "bind ClusterRole tekton-chains-controller-registry-credentials in namespace " +
                                                 run.namespace_name + " (config/README.md, RBAC)"
                                           : std::string("")}});
      co_return out;
    }
    std::vector<std::string> secrets;
    try {
      auto v = json::parse(r->body);
      if (auto* ips = v.as_object().if_contains("imagePullSecrets"); ips && ips->is_array())
        for (const auto& s : ips->get_array())
          if (auto* n = s.is_object() ? s.get_object().if_contains("name") : nullptr; n && n->is_string())
            secrets.emplace_back(n->get_string());
    } catch (const std::exception&) {
    }
    for (const auto& name : secrets) {
      auto sr = co_await host_.kube("GET", ns_path + "/secrets/" + name, "", "");
      if (!sr) {
        if (sr.error().code == plugin::errc::retryable)
          co_return plugin::fail(plugin::errc::retryable, "oci storage: reading secret " + run.namespace_name + "/" +
                                                              name + ": " + sr.error().message);
        continue;
      }
      if (sr->status >= 500)
        co_return plugin::fail(plugin::errc::retryable, "oci storage: reading secret " + run.namespace_name + "/" +
                                                            name + ": HTTP " + std::to_string(sr->status));
      if (sr->status != 200) {
        host_.log(plugin::log_level::warn, "imagePullSecret not readable; skipped",
                  {{"run", run.namespace_name + "/" + run.name}, {"secret", name},
                   {"status", std::to_string(sr->status)}});
        continue;
      }
      try {
        auto v = json::parse(sr->body);
        auto* data = v.as_object().if_contains("data");
        if (!data || !data->is_object()) continue;
        for (const char* key : {".dockerconfigjson", ".dockercfg"})
          if (auto* d = data->get_object().if_contains(key); d && d->is_string())
            out.add_docker_config(plugin::base64_decode(d->get_string()));
      } catch (const std::exception& e) {
        host_.log(plugin::log_level::warn, "imagePullSecret is not a docker config; skipped",
                  {{"run", run.namespace_name + "/" + run.name}, {"secret", name}, {"error", e.what()}});
      }
    }
    co_return out;
  }

  plugin::host& host_;
  std::optional<image_ref> repository_;
  bool insecure_;
  bool bundles_;  // storage.oci.encoding-format: sigstore-bundle
  bool warned_override_ = false;
  credential_set file_creds_;
  std::size_t chunk_size_;
  registry_cache cache_;  // schemes, challenges, tokens and known blobs of the registries pushed to
  busy_keys busy_tags_;  // "<repo>:<tag>" being written
  std::size_t in_flight_ = 0;  // spawned subject pushes not finished yet
  // Service-account credentials by "<namespace>/<account>", until `expires`; lookups in progress
  // (other stores for the same account wait for them instead of asking the API server again).
  struct cached_credentials {
    std::chrono::steady_clock::time_point expires;
    credential_set creds;
  };
  std::chrono::milliseconds credentials_ttl_;
  std::map<std::string, cached_credentials> sa_cache_;
  busy_keys sa_loading_;
  static constexpr std::size_t max_cached_accounts = 1024;
};

}  // namespace storage_oci

namespace {

}  // namespace

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_oci_storage(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  namespace plugin = chainsd::plugin;
  using storage_oci::config_value;
  std::optional<storage_oci::image_ref> repository;
  if (auto r = config_value(cfg, "storage.oci.repository"); !r.empty()) {
    try {
      repository = storage_oci::parse_reference(r, false);
    } catch (const std::invalid_argument& e) {
      return plugin::fail(plugin::errc::bad_config, std::string("storage.oci.repository: ") + e.what());
    }
    if (!repository->digest.empty())
      return plugin::fail(plugin::errc::bad_config, "storage.oci.repository: \"" + r + "\" must not have a digest");
  }
  // Go's strconv.ParseBool spellings, as the engine's config layer; anything else is false with a
  // warning there and here (upstream ignores it too).
  auto insecure_value = config_value(cfg, "storage.oci.repository.insecure");
  bool insecure = false;
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    if (insecure_value == t) insecure = true;
  bool known = insecure || insecure_value.empty();
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    if (insecure_value == f) known = true;
  if (!known)
    h.log(plugin::log_level::warn, "not a boolean; plain HTTP stays off except for loopback registries",
          {{"key", "storage.oci.repository.insecure"}, {"value", insecure_value}});
  auto format = config_value(cfg, "storage.oci.encoding-format");
  if (!format.empty() && format != "dsse" && format != "sigstore-bundle")
    return plugin::fail(plugin::errc::bad_config,
                        "storage.oci.encoding-format: \"" + format + "\" is not dsse or sigstore-bundle");
  std::size_t chunk = 4u << 20;
  if (auto c = config_value(cfg, "storage.oci.upload-chunk-size"); !c.empty()) {
    try {
      // stoul accepts "-1" (wrapping) and leading blanks: require plain digits.
      if (c.find_first_not_of("0123456789") != std::string::npos) throw std::invalid_argument(c);
      chunk = std::stoul(c);
      if (chunk == 0) throw std::invalid_argument(c);
    } catch (const std::exception&) {
      return plugin::fail(plugin::errc::bad_config,
                          "storage.oci.upload-chunk-size: \"" + c + "\" is not a positive number of bytes");
    }
  }
  // A mounted docker config: the key names a file; else $DOCKER_CONFIG/config.json when present.
  // Read once here through the host (a regular file of at most 1 MiB: the factory may block only
  // briefly); a config change rebuilds the instance.
  storage_oci::credential_set creds;
  std::string path = config_value(cfg, "storage.oci.docker-config");
  bool from_key = !path.empty();
  if (!from_key)
    if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) path = std::string(d) + "/config.json";
  if (!path.empty()) {
    constexpr std::size_t docker_config_limit = 1024 * 1024;
    auto text = h.read_file(path, docker_config_limit, from_key ? "storage.oci.docker-config" : "DOCKER_CONFIG");
    if (!text && (from_key || text.error().code != plugin::errc::not_found))
      return plugin::fail(plugin::errc::bad_config, text.error().message);
    if (text) {
      try {
        creds.add_docker_config(*text);
      } catch (const std::invalid_argument& e) {
        return plugin::fail(plugin::errc::bad_config,
                            std::string(from_key ? "storage.oci.docker-config" : "DOCKER_CONFIG") + ": " + path +
                                ": " + e.what());
      }
    }
  }
  // How long the credentials read from a service account are reused (milliseconds; 0 = read on
  // every store). Not a chains-config key the engine forwards yet: the default, 30 s, applies.
  std::chrono::milliseconds ttl{30'000};
  if (auto t = config_value(cfg, "storage.oci.credentials-cache-ms"); !t.empty()) {
    if (t.find_first_not_of("0123456789") != std::string::npos || t.size() > 9)
      return plugin::fail(plugin::errc::bad_config,
                          "storage.oci.credentials-cache-ms: \"" + t + "\" is not a number of milliseconds");
    ttl = std::chrono::milliseconds(std::stoll(t));
  }
  return std::make_unique<storage_oci::oci_storage>(h, std::move(repository), insecure,
                                                    format == "sigstore-bundle", std::move(creds), chunk, ttl);
}

CHAINSD_STORAGE_PLUGIN("oci", "0.1.0", make_oci_storage)
