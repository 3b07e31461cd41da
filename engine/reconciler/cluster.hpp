#pragma once
// The API operations the reconciler makes, behind an interface so the state machine can be
// tested without a server. kube_cluster.hpp implements it with kube::client.

#include "kube/watcher.hpp"
#include "reconciler/run_meta.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chainsd::reconciler {

// A run's chains annotations as applied: shared, not copied, between the patch being written and
// the reconciler's memory of what it wrote (the values are tens of KB).
using shared_annotations = std::shared_ptr<const std::map<std::string, std::string>>;

struct patch_outcome {
  bool ok = false;
  bool not_found = false;      // the run is gone: nothing more to do
  // The API server refused the content (400, 413 body too large, 422 Invalid such as annotations
  // over 256 KiB): sending the same patch again cannot help.
  bool rejected = false;
  // 409 on the resourceVersion precondition: the run changed since it was read (another replica
  // may have signed it); read it again before deciding anything.
  bool stale = false;
  unsigned status = 0;         // HTTP status of a failure (0: transport)
  std::string resource_version;  // of the run after the patch
  std::vector<std::string> finalizers;  // of the run after the patch (filled by remove_finalizers)
  bool upstream_finalizer_left = false;  // after apply: one of upstream's finalizers is still there
  std::string error;           // why it failed
};

struct get_outcome {
  bool ok = false;
  bool not_found = false;
  std::string json;   // the run, when ok
  std::string error;  // why it failed
};

class cluster {
 public:
  virtual ~cluster() = default;

  // Server-side apply of `annotations` (every chains.tekton.dev/* annotation chainsd owns on the
  // run, complete: apply semantics drop owned keys that are absent) with field manager
  // tekton-chains-controller, with `run.resource_version` as precondition (→ stale); retried
  // with force on a field manager conflict.
  virtual boost::asio::awaitable<patch_outcome> apply_annotations(run_meta run, shared_annotations annotations) = 0;

  // Removes upstream's finalizers (run_meta.hpp) that server-side apply cannot (another
  // operation owns them): a merge patch of metadata.finalizers = `keep`, with the run's
  // `resource_version` as precondition (a newer run answers 409: read it again and retry).
  virtual boost::asio::awaitable<patch_outcome> remove_finalizers(run_meta run, std::string resource_version,
                                                                  std::vector<std::string> keep) = 0;

  // The run as it is now (a queued run whose document was not kept).
  virtual boost::asio::awaitable<get_outcome> get_run(run_meta run) = 0;

  // The run's child TaskRuns (label tekton.dev/pipelineRun=<name>), raw JSON each; nullopt on
  // an API failure (the caller retries later).
  virtual boost::asio::awaitable<std::optional<std::vector<std::string>>> list_child_taskruns(std::string ns,
                                                                                              std::string pipelinerun) = 0;

  // Every run of `kind` (all namespaces, or `ns`), paged; `each` gets them as ADDED events.
  // False on an API failure (what was handed out stays handed out).
  virtual boost::asio::awaitable<bool> list_runs(run_kind kind, std::string ns,
                                                 std::function<void(kube::watch_event)> each) = 0;

  // A Kubernetes Event on the run (best effort; failures are only logged).
  virtual boost::asio::awaitable<void> record_event(run_meta run, std::string type, std::string reason,
                                                    std::string message) = 0;
};

}  // namespace chainsd::reconciler
