#pragma once
// The reconciler's metrics: upstream's per-kind counters (watcher_taskrun_* and
// watcher_pipelinerun_*, the names Tekton Chains exports, so dashboards keep working) and
// chainsd's own gauges and histograms.

#include "reconciler/run_meta.hpp"
#include "runtime/metrics.hpp"

#include <string>
#include <string_view>

namespace chainsd::reconciler {

struct kind_metrics {
  metrics::counter* sign_created;
  metrics::counter* payload_stored;
  metrics::counter* marked_signed;
  metrics::counter* marked_failed;
  std::string failures_name;  // watcher_<kind>_signing_failures_total{error_type}
};

struct run_metrics {
  run_metrics();
  kind_metrics& of(run_kind k) { return k == run_kind::task_run ? taskrun : pipelinerun; }
  void failure(run_kind k, const std::string& error_type);

  kind_metrics taskrun, pipelinerun;
  metrics::gauge* queue_depth;
  metrics::gauge* in_flight;
  metrics::gauge* parked;
  metrics::gauge* progress_bytes;
  metrics::histogram* latency;
  metrics::counter* reused_steps;    // sign/log/store steps a retry did not redo
  metrics::counter* timed_out;       // passes cut at their deadline
  metrics::counter* progress_dropped;  // retries that will start afresh (over the memory bound)
};

}  // namespace chainsd::reconciler
