#pragma once
// Everything Chains does for one finished run, short of writing to it: for each enabled artifact
// type (taskrun or pipelinerun provenance, and for TaskRuns the OCI images they built) make the
// payload once, sign it (DSSE/PAE for in-toto formats, raw for simplesigning), and hand it to
// every configured storage backend concurrently. The caller writes the returned annotations and
// the signed/retry state in one patch.

#include "reconciler/plugin_set.hpp"
#include "reconciler/run_meta.hpp"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chainsd::reconciler {

struct sign_outcome {
  std::map<std::string, std::string> annotations;  // from storage backends, to patch on the run
  std::vector<std::string> errors;                 // each names the artifact, step and reason
  std::string error_type;   // first failure's class for metrics: payload_creation, signing, tlog, storage
  bool permanent = false;   // retrying cannot help (e.g. a malformed run)
  int signed_count = 0;
  int stored_count = 0;
  int uploaded_count = 0;   // transparency-log entries made or found (409)
};

// `run_json` is the run as the watch delivered it; `children` the PipelineRun's child TaskRuns
// (ignored for TaskRuns). Never throws for plugin or input failures: they land in `errors`.
boost::asio::awaitable<sign_outcome> sign_run(std::shared_ptr<plugin_set> set, run_meta meta, std::string run_json,
                                              std::vector<std::string> children);

}  // namespace chainsd::reconciler
