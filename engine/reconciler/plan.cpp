#include "reconciler/plan.hpp"

#include "provenance/formats.hpp"

#include <optional>
#include <set>

namespace chainsd::reconciler {
namespace {

// The service account is what storage backends read registry credentials from (as upstream).
plugin::run_ref make_ref(const run_meta& m, const provenance::run_view* v) {
  return {m.api_version, std::string(m.kind_name()), m.namespace_name, m.name, m.uid,
          v ? v->service_account : std::string()};
}

void add_failure(plan& p, plugin::errc cls, std::string msg) {
  p.failures.push_back({"payload_creation", cls, std::move(msg)});
}

}  // namespace

boost::asio::awaitable<plan> make_plan(std::shared_ptr<plugin_set> set, run_meta meta, std::string run_json,
                                       std::vector<std::string> children) {
  plan out;
  const auto& cfg = *set->cfg;
  const bool is_taskrun = meta.kind == run_kind::task_run;
  const auto& run_art = is_taskrun ? cfg.taskrun : cfg.pipelinerun;
  const std::string run_key = std::string(meta.kind_lower());

  std::optional<provenance::run_view> view;
  try {
    view = provenance::parse_run(run_json, meta.key(),
                                 is_taskrun ? provenance::run_kind::task_run : provenance::run_kind::pipeline_run,
                                 false);
  } catch (const std::exception& e) {
    out.ref = make_ref(meta, nullptr);
    add_failure(out, plugin::errc::permanent, run_key + " " + meta.key() + ": " + e.what());
    co_return out;
  }
  out.ref = make_ref(meta, &*view);

  if (run_art.enabled()) {
    try {
      std::vector<provenance::run_view> kids;
      for (std::size_t i = 0; i < children.size(); ++i)
        kids.push_back(provenance::parse_run(children[i], meta.namespace_name + "/child-" + std::to_string(i),
                                             provenance::run_kind::task_run));
      auto f = provenance::parse_format(run_art.format);
      if (!f) throw std::runtime_error("unknown format \"" + run_art.format + "\"");
      artifact a{run_key + " provenance", run_art.format, &run_art,
                 is_taskrun ? plugin::artifact_kind::taskrun : plugin::artifact_kind::pipelinerun,
                 run_key + "-" + meta.uid,
                 "tekton.dev-v1-" + std::string(meta.kind_name()) + "-" + meta.uid,
                 provenance::make_payload(*f, *view, kids, cfg), "", *f != provenance::format::simplesigning};
      out.artifacts.push_back(std::move(a));
    } catch (const std::exception& e) {
      add_failure(out, plugin::errc::permanent,
                  "creating " + run_art.format + " payload for " + run_key + " " + meta.key() + ": " + e.what());
    }
  }
  if (is_taskrun && cfg.oci.enabled()) {
    std::vector<provenance::image_subject> images;
    try {
      images = provenance::extract_images(*view);
    } catch (const std::exception& e) {
      add_failure(out, plugin::errc::permanent, "extracting images of taskrun " + meta.key() + ": " + e.what());
    }
    auto add_image = [&cfg, &out](const provenance::image_subject& img, std::string what) {
      artifact a{std::move(what), cfg.oci.format, &cfg.oci, plugin::artifact_kind::oci, img.hex().substr(0, 12),
                 img.name(), provenance::make_simplesigning_payload(img), img.name(), false};
      out.artifacts.push_back(std::move(a));
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
        add_failure(out, plugin::errc::bad_config, what + ": " + set->index_error);  // index_error names the key
        continue;
      }
      auto listed = co_await set->index_reader->index_manifests(out.ref, img.name());
      if (!listed) {
        add_failure(out, listed.error().code,
                    what + " (artifacts.oci.sign-platform-manifests): " + listed.error().message);
        continue;
      }
      for (const auto& digest : *listed) {
        std::string error;
        auto child = provenance::parse_digest_ref(img.repository + "@" + digest, &error);
        if (!child) {
          add_failure(out, plugin::errc::permanent,
                      what + " (artifacts.oci.sign-platform-manifests): \"" + digest +
                          "\" is not a manifest digest: " + error);
          continue;
        }
        if (!seen.insert(child->name()).second) continue;  // the run reported it too
        add_image(*child, "image " + child->name() + " (listed by index " + img.name() + ")");
      }
    }
  }

  // Upstream's shouldUploadTlog: "manual" uploads only runs that ask for it and have no entry yet.
  out.upload = cfg.transparency.enabled;
  if (out.upload && cfg.transparency.verify_annotation) {
    const auto* ask = meta.annotation(transparency_upload_annotation);
    out.upload = ask && *ask == "true" && !meta.annotation(transparency_annotation);
  }
  co_return out;
}

}  // namespace chainsd::reconciler
