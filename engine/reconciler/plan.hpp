#pragma once
// Step one of a pass: what to sign for a run. For each enabled artifact type — the TaskRun's or
// PipelineRun's provenance, and for TaskRuns the OCI images they built (with
// artifacts.oci.sign-platform-manifests, also the manifests each index lists, asked of the
// storage that reads indexes) — the payload, made once, as the bytes that will be signed.
// Nothing is signed, logged or stored here.

#include "reconciler/annotations.hpp"
#include "reconciler/plugin_set.hpp"
#include "reconciler/run_meta.hpp"

#include <chainsd/plugin/storage.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

namespace chainsd::reconciler {

struct artifact {
  std::string what;    // for messages: "taskrun provenance", "image registry/x@sha256:..."
  std::string format;  // chains-config format name
  const config::artifact_config* art = nullptr;  // into the plugin set's config snapshot
  plugin::artifact_kind kind = plugin::artifact_kind::taskrun;
  std::string short_key;
  std::string full_key;
  std::string payload;
  std::string image;   // oci only
  bool dsse = true;    // in-toto formats are signed as a DSSE envelope; simplesigning raw
  // Identity across passes (a retry reuses what an earlier pass made for the same artifact).
  std::string id() const { return format + '\n' + full_key; }
};

struct plan {
  plugin::run_ref ref;           // what storage backends are told about the run
  std::vector<artifact> artifacts;
  std::vector<failure> failures;  // payloads that could not be made (the rest is still signed)
  bool upload = false;            // log in the transparency log (transparency.enabled / manual)
};

// `run_json` is the run as the watch delivered it; `children` the PipelineRun's child TaskRuns
// (ignored for TaskRuns). Never throws for plugin or input failures: they land in `failures`.
boost::asio::awaitable<plan> make_plan(std::shared_ptr<plugin_set> set, run_meta meta, std::string run_json,
                                       std::vector<std::string> children);

}  // namespace chainsd::reconciler
