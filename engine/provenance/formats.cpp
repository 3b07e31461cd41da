#include "provenance/formats.hpp"

#include "provenance/artifacts.hpp"
#include "provenance/detail.hpp"
#include "provenance/encoding.hpp"

namespace chainsd::provenance {

std::optional<format> parse_format(std::string_view name) {
  if (name == config::format_in_toto || name == config::format_slsa_v1) return format::slsa_v1;
  if (name == config::format_slsa_v2alpha3) return format::slsa_v2alpha3;
  if (name == config::format_slsa_v2alpha4) return format::slsa_v2alpha4;
  if (name == config::format_simplesigning) return format::simplesigning;
  return std::nullopt;
}

std::string_view format_name(format f) {
  switch (f) {
    case format::slsa_v1: return config::format_slsa_v1;
    case format::slsa_v2alpha3: return config::format_slsa_v2alpha3;
    case format::slsa_v2alpha4: return config::format_slsa_v2alpha4;
    case format::simplesigning: return config::format_simplesigning;
  }
  return {};
}

std::string make_payload(format f, const run_view& run, const std::vector<run_view>& children,
                         const config::config& cfg) {
  const bool deep = cfg.pipelinerun.deep_inspection;
  detail::document_arena arena;
  switch (f) {
    case format::slsa_v1: return detail::make_slsa_v1(run, children, cfg.builder_id, deep);
    case format::slsa_v2alpha3: return detail::make_slsa_v2(false, run, children, cfg.builder_id, cfg.build_type, deep);
    case format::slsa_v2alpha4: return detail::make_slsa_v2(true, run, children, cfg.builder_id, cfg.build_type, deep);
    case format::simplesigning:
      throw input_error("simplesigning payloads are made per image: use extract_images and make_simplesigning_payload");
  }
  return {};
}

std::vector<digest_ref> extract_images(const run_view& run) {
  // OCIArtifact.ExtractObjects reads only TaskRun results (PipelineRuns do not support OCI).
  if (run.kind != run_kind::task_run) return {};
  return extract_oci_images(run.results);
}

std::string make_simplesigning_payload(const digest_ref& image) {
  std::string out = R"({"critical":{"identity":{"docker-reference":)";
  append_go_json_string(out, image.repository);
  out += R"(},"image":{"docker-manifest-digest":)";
  append_go_json_string(out, image.digest);
  out += R"(},"type":"cosign container image signature"},"optional":null})";
  return out;
}

}  // namespace chainsd::provenance
