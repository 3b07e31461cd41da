#include "reconciler/sign_run.hpp"

#include "provenance/formats.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics.hpp"
#include "runtime/task_group.hpp"
#include "signing/dsse.hpp"
#include "tlog/bundle.hpp"
#include "tlog/client.hpp"

#include <boost/asio/this_coro.hpp>

#include <set>

namespace chainsd::reconciler {
namespace {

struct signable {
  std::string what;          // for messages: "taskrun provenance", "image index.docker.io/x@sha256:..."
  std::string format;        // chains-config format name
  const config::artifact_config* art;
  plugin::artifact_kind kind;
  std::string short_key;
  std::string full_key;
  std::string payload;
  std::string image;         // oci only
  bool wrap = true;          // DSSE for in-toto formats
};

void fail(sign_outcome& out, std::string type, std::string msg, bool permanent = false) {
  if (out.error_type.empty()) out.error_type = std::move(type);
  if (permanent) out.permanent = true;
  out.errors.push_back(std::move(msg));
}

// The key id of the last public key seen: parsing the PEM for every signature is measurable.
std::string cached_key_id(const std::string& pem) {
  thread_local std::string last_pem, last_id;
  if (pem != last_pem) {
    last_id = signing::ssh_key_id(pem);
    last_pem = pem;
  }
  return last_id;
}

// The service account is what storage backends read registry credentials from (as upstream).
plugin::run_ref make_ref(const run_meta& m, const provenance::run_view& v) {
  return {m.api_version, std::string(m.kind_name()), m.namespace_name, m.name, m.uid, v.service_account};
}

}  // namespace

boost::asio::awaitable<sign_outcome> sign_run(std::shared_ptr<plugin_set> set, run_meta meta, std::string run_json,
                                              std::vector<std::string> children) {
  sign_outcome out;
  const auto& cfg = *set->cfg;
  const bool is_taskrun = meta.kind == run_kind::task_run;
  const auto& run_art = is_taskrun ? cfg.taskrun : cfg.pipelinerun;
  const std::string run_key = std::string(meta.kind_lower());

  std::vector<signable> work;
  std::optional<provenance::run_view> view;
  try {
    view = provenance::parse_run(run_json, meta.key(),
                                 is_taskrun ? provenance::run_kind::task_run : provenance::run_kind::pipeline_run,
                                 false);
  } catch (const std::exception& e) {
    fail(out, "payload_creation", run_key + " " + meta.key() + ": " + e.what(), true);
    co_return out;
  }

  if (run_art.enabled()) {
    try {
      std::vector<provenance::run_view> kids;
      for (std::size_t i = 0; i < children.size(); ++i)
        kids.push_back(provenance::parse_run(children[i], meta.namespace_name + "/child-" + std::to_string(i),
                                             provenance::run_kind::task_run));
      auto f = provenance::parse_format(run_art.format);
      if (!f) throw std::runtime_error("unknown format \"" + run_art.format + "\"");
      signable s{run_key + " provenance", run_art.format, &run_art,
                 is_taskrun ? plugin::artifact_kind::taskrun : plugin::artifact_kind::pipelinerun,
                 run_key + "-" + meta.uid,
                 "tekton.dev-v1-" + std::string(meta.kind_name()) + "-" + meta.uid,
                 provenance::make_payload(*f, *view, kids, cfg), "", *f != provenance::format::simplesigning};
      work.push_back(std::move(s));
    } catch (const std::exception& e) {
      fail(out, "payload_creation",
           "creating " + run_art.format + " payload for " + run_key + " " + meta.key() + ": " + e.what(), true);
    }
  }
  if (is_taskrun && cfg.oci.enabled()) {
    std::vector<provenance::image_subject> images;
    try {
      images = provenance::extract_images(*view);
    } catch (const std::exception& e) {
      fail(out, "payload_creation", "extracting images of taskrun " + meta.key() + ": " + e.what(), true);
    }
    auto add_image = [&cfg, &work](const provenance::image_subject& img, std::string what) {
      signable s{std::move(what), cfg.oci.format, &cfg.oci, plugin::artifact_kind::oci, img.hex().substr(0, 12),
                 img.name(), provenance::make_simplesigning_payload(img), img.name(), false};
      work.push_back(std::move(s));
    };
    std::set<std::string> seen;
    for (const auto& img : images) seen.insert(img.name());
    for (const auto& img : images) {
      add_image(img, "image " + img.name());
      if (!cfg.oci.sign_platform_manifests) continue;
      // As `cosign sign --recursive`: every manifest an index lists gets its own signature, stored
      // where the index's goes. Attestations stay as they are (their subjects are what the run
      // reported, as `cosign attest` attaches only to the digest it is given).
      const std::string what = "listing the manifests of image index " + img.name() + " of " + meta.key();
      if (!set->index_reader) {
        fail(out, "payload_creation", what + ": " + set->index_error);  // index_error names the key
        continue;
      }
      auto listed = co_await set->index_reader->index_manifests(make_ref(meta, *view), img.name());
      if (!listed) {
        fail(out, "payload_creation", what + " (artifacts.oci.sign-platform-manifests): " + listed.error().message);
        continue;
      }
      for (const auto& digest : *listed) {
        std::string error;
        auto child = provenance::parse_digest_ref(img.repository + "@" + digest, &error);
        if (!child) {
          fail(out, "payload_creation", what + " (artifacts.oci.sign-platform-manifests): \"" + digest +
                                            "\" is not a manifest digest: " + error);
          continue;
        }
        if (!seen.insert(child->name()).second) continue;  // the run reported it too
        add_image(*child, "image " + child->name() + " (listed by index " + img.name() + ")");
      }
    }
  }

  // Upstream's shouldUploadTlog: "manual" uploads only runs that ask for it and have no entry yet.
  bool upload = cfg.transparency.enabled;
  if (upload && cfg.transparency.verify_annotation) {
    const auto* ask = meta.annotation(transparency_upload_annotation);
    upload = ask && *ask == "true" && !meta.annotation(transparency_annotation);
  }

  auto ex = co_await boost::asio::this_coro::executor;
  for (auto& s : work) {
    auto sit = set->signers.find(s.art->signer);
    if (sit == set->signers.end()) {
      auto eit = set->signer_errors.find(s.art->signer);
      fail(out, "signing", "signing " + s.what + " of " + meta.key() + ": signer " + s.art->signer + " is unavailable: " +
                               (eit != set->signer_errors.end() ? eit->second : "not configured"));
      continue;
    }
    auto& signer = *sit->second;
    std::string message = s.wrap ? signing::pae(signing::in_toto_payload_type, s.payload) : s.payload;
    auto sig = co_await signer.sign(std::move(message));
    if (!sig) {
      fail(out, "signing", "signing " + s.what + " of " + meta.key() + " with " + s.art->signer + ": " + sig.error().message);
      continue;
    }
    ++out.signed_count;
    // Read after signing: a keyless signer may have switched to a new key for this signature.
    std::string pub = signer.public_key_pem();
    std::string signature = sig->signature;
    if (s.wrap) {
      std::string key_id;
      try {
        key_id = cached_key_id(pub);
      } catch (const std::exception& e) {
        // Upstream fails too when it cannot derive the SSH key id.
        fail(out, "signing", "signing " + s.what + " of " + meta.key() + ": key id: " + e.what());
        continue;
      }
      signature = signing::envelope_json(signing::in_toto_payload_type, s.payload, key_id, sig->signature);
    }

    std::string rekor_entry;
    std::string bundle;
    if (upload) {
      std::string what = "uploading " + s.what + " of " + meta.key() + " to " + cfg.transparency.url;
      if (!set->tlog) {
        fail(out, "tlog", what + ": " + (set->tlog_error.empty() ? "no transparency log client" : set->tlog_error));
        continue;
      }
      // The verifier Rekor checks the signature with: the Fulcio certificate when there is one.
      const std::string& verifier = sig->cert_pem.empty() ? pub : sig->cert_pem;
      bool uploaded = false;
      bool permanent = false;
      std::string error;
      try {
        // in-toto statements go in as their DSSE envelope, simplesigning as a signed hash.
        tlog::proposal prop = s.wrap ? tlog::dsse_proposal(signature, verifier)
                                     : tlog::hashedrekord_proposal(s.payload, sig->signature, verifier);
        tlog::log_entry entry = co_await set->tlog->upload(std::move(prop));
        out.annotations[std::string(transparency_annotation)] = set->tlog->entry_url(entry.log_index);
        // Offline-verifiable form of the same signature, for storage backends and users.
        tlog::bundle_signer who{sig->cert_pem, s.wrap ? cached_key_id(pub) : std::string()};
        bundle = s.wrap ? tlog::sigstore_bundle_dsse(entry, signature, who)
                        : tlog::sigstore_bundle_message_signature(entry, s.payload, sig->signature, who);
        rekor_entry = std::move(entry.json);
        uploaded = true;
        log::info("uploaded to transparency log", {{"run", meta.key()}, {"uid", meta.uid}, {"artifact", s.what},
                                                   {"log_index", std::to_string(entry.log_index)}});
      } catch (const tlog::tlog_error& e) {
        error = e.what();
        permanent = e.permanent();
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!uploaded) {
        // Stored artifacts would lack their log entry; the run's retry stores them with it.
        fail(out, "tlog", what + ": " + error, permanent);
        continue;
      }
      ++out.uploaded_count;
      metrics::global()
          .get_counter("watcher_" + run_key + "_payload_uploaded_total", "Total number of uploaded payloads")
          .inc();
    }

    plugin::store_request base;
    base.kind = s.kind;
    base.run = make_ref(meta, *view);
    base.short_key = s.short_key;
    base.full_key = s.full_key;
    base.payload_format = s.format;
    base.payload = s.payload;
    base.signature = std::move(signature);
    base.cert_pem = sig->cert_pem;
    base.chain_pem = sig->chain_pem;
    base.public_key_pem = pub;
    base.image = s.image;
    base.rekor_entry_json = std::move(rekor_entry);
    base.sigstore_bundle_json = std::move(bundle);

    runtime::task_group group(ex);
    for (const auto& value : s.art->storage) {
      if (value.empty()) continue;
      auto name = storage_plugin_name(value, cfg);
      auto it = set->storages.find(name);
      if (it == set->storages.end()) {
        auto eit = set->storage_errors.find(name);
        fail(out, "storage", "storing " + s.what + " of " + meta.key() + ": storage " + value + " is unavailable: " +
                                 (eit != set->storage_errors.end() ? eit->second : "not configured"));
        continue;
      }
      auto* backend = it->second.get();
      auto store_one = [](plugin::storage* b, plugin::store_request req, std::string value, std::string what,
                          sign_outcome* o) -> boost::asio::awaitable<void> {
        auto r = co_await b->store(std::move(req));
        if (!r) {
          fail(*o, "storage", "storing " + what + " in " + value + ": " + r.error().message);
          co_return;
        }
        ++o->stored_count;
        for (auto& [k, v] : r->annotations) o->annotations[k] = std::move(v);
      };
      group.spawn(store_one(backend, base, value, s.what + " of " + meta.key(), &out));
    }
    co_await group.wait();
  }
  co_return out;
}

}  // namespace chainsd::reconciler
