#include "reconciler/run_metrics.hpp"

namespace chainsd::reconciler {
namespace {

kind_metrics make_kind_metrics(std::string_view k) {
  auto& r = metrics::global();
  std::string p = "watcher_" + std::string(k) + "_";
  // Counted by the pass's log step; made here so that it is served (at 0) before the first upload.
  r.get_counter(p + "payload_uploaded_total", "Total number of uploaded payloads");
  return {&r.get_counter(p + "sign_created_total", "Total number of signed messages"),
          &r.get_counter(p + "payload_stored_total", "Total number of stored payloads"),
          &r.get_counter(p + "marked_signed_total", "Total number of objects marked as signed"),
          &r.get_counter(p + "marked_failed_total", "Total number of objects marked as failed after retries"),
          p + "signing_failures_total"};
}

}  // namespace

run_metrics::run_metrics() : taskrun(make_kind_metrics("taskrun")), pipelinerun(make_kind_metrics("pipelinerun")) {
  auto& r = metrics::global();
  queue_depth = &r.get_gauge("chainsd_queue_depth", "Runs waiting to be processed");
  in_flight = &r.get_gauge("chainsd_runs_in_flight", "Runs being signed now");
  parked = &r.get_gauge("chainsd_runs_parked", "Runs waiting for their TaskRuns or for a signing key");
  progress_bytes = &r.get_gauge("chainsd_retry_progress_bytes",
                                "Signatures, log entries and stores kept for runs that will retry");
  latency = &r.get_histogram("chainsd_reconcile_duration_seconds", "Time to sign, store and patch one run",
                             {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  reused_steps = &r.get_counter("chainsd_retry_reused_steps_total",
                                "Sign, log and store steps a retry reused instead of doing again");
  timed_out = &r.get_counter("chainsd_pass_timeouts_total", "Passes cut at their deadline (--pass-timeout)");
  progress_dropped = &r.get_counter("chainsd_retry_progress_dropped_total",
                                    "Retries that start afresh because the progress memory bound was reached");
}

void run_metrics::failure(run_kind k, const std::string& error_type) {
  metrics::global()
      .get_counter(of(k).failures_name, "Total number of signing failures", {{"error_type", error_type}})
      .inc();
}

}  // namespace chainsd::reconciler
