#include "jobs.hpp"

#include "referrer.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <map>

namespace storage_oci {

std::string run_name(const plugin::run_ref& run) { return run.namespace_name + "/" + run.name; }

namespace {

// The engine's bundle as a referrer layer (no cosign annotations).
plugin::result<layer> bundle_layer(const plugin::store_request& req, const std::string& what) {
  if (req.sigstore_bundle_json.empty())
    return plugin::fail(plugin::errc::permanent, "oci storage: no Sigstore bundle for " + what + " (" +
                                                     run_name(req.run) + "): the engine did not provide one");
  layer l = make_layer(std::string(bundle_type), req.sigstore_bundle_json, "", "", "", "");
  l.annotations.clear();
  return l;
}

plugin::result<std::vector<push_job>> signature_job(const plugin::store_request& req, bool bundles) {
  std::string image = req.image.empty() ? simplesigning_image(req.payload) : req.image;
  push_job job;
  try {
    job.subject = parse_reference(image, true);
  } catch (const std::invalid_argument& e) {
    return plugin::fail(plugin::errc::permanent,
                        "oci storage: image of " + run_name(req.run) + " is not a digest reference: " + e.what());
  }
  job.suffix = "sig";
  if (bundles) {
    job.referrer = true;
    job.predicate_type = cosign_sign_predicate;
    job.bundle_content = message_content;  // the engine's bundle of a simplesigning signature
    auto l = bundle_layer(req, image);
    if (!l) return l.error();
    job.content = std::move(*l);
  } else {
    job.content = make_layer(std::string(simplesigning_type), req.payload, plugin::base64_encode(req.signature),
                             req.cert_pem, req.chain_pem, rekor_bundle_json(req.log_entry));
  }
  std::vector<push_job> out;
  out.push_back(std::move(job));
  return out;
}

plugin::result<std::vector<push_job>> attestation_jobs(const plugin::store_request& req, bool bundles) {
  std::vector<push_job> out;
  // Upstream derives the subjects from the statement; the engine may also name them.
  auto subjects = req.subject_images.empty() ? statement_image_subjects(req.payload) : req.subject_images;
  if (subjects.empty()) return out;
  std::map<std::string, std::string> extra;
  // `cosign attest` records the predicate type so verifiers can filter without parsing.
  const auto pt = statement_predicate_type(req.payload);
  if (!pt.empty()) extra["predicateType"] = pt;
  layer att;
  if (bundles) {
    if (pt.empty())
      return plugin::fail(plugin::errc::permanent, "oci storage: the statement of " + run_name(req.run) +
                                                       " has no predicateType, required for sigstore bundles");
    auto l = bundle_layer(req, "the attestation");
    if (!l) return l.error();
    att = std::move(*l);
  } else {
    att = make_layer(std::string(dsse_type), req.signature, "", req.cert_pem, req.chain_pem,
                     rekor_bundle_json(req.log_entry), extra);
  }
  for (const auto& s : subjects) {
    push_job job;
    try {
      job.subject = parse_reference(s, true);
    } catch (const std::invalid_argument& e) {
      return plugin::fail(plugin::errc::permanent,
                          "oci storage: subject of " + run_name(req.run) + " is not an image digest: " + e.what());
    }
    job.suffix = "att";
    job.content = att;
    job.referrer = bundles;
    job.predicate_type = pt;
    if (bundles) job.bundle_content = dsse_content;
    out.push_back(std::move(job));
  }
  return out;
}

}  // namespace

plugin::result<std::vector<push_job>> push_jobs(const plugin::store_request& req, bool bundles) {
  if (req.kind == plugin::artifact_kind::oci || req.payload_format == "simplesigning")
    return signature_job(req, bundles);
  return attestation_jobs(req, bundles);
}

}  // namespace storage_oci
