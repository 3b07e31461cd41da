#pragma once
// reconciler::cluster on the Kubernetes API (kube::client).

#include "kube/client.hpp"
#include "kube/json_scan.hpp"
#include "reconciler/cluster.hpp"

namespace chainsd::reconciler {

inline constexpr const char* field_manager = "tekton-chains-controller";

class kube_cluster final : public cluster {
 public:
  explicit kube_cluster(kube::client& c) : client_(c) {}

  boost::asio::awaitable<get_outcome> get_run(run_meta run) override;
  boost::asio::awaitable<patch_outcome> remove_finalizers(run_meta run, std::string resource_version,
                                                          std::vector<std::string> keep) override;
  boost::asio::awaitable<patch_outcome> apply_annotations(run_meta run, shared_annotations annotations) override;
  boost::asio::awaitable<std::optional<std::vector<std::string>>> list_child_taskruns(std::string ns,
                                                                                      std::string pipelinerun) override;
  boost::asio::awaitable<bool> list_runs(run_kind kind, std::string ns,
                                         std::function<void(kube::watch_event)> each) override;
  boost::asio::awaitable<void> record_event(run_meta run, std::string type, std::string reason,
                                            std::string message) override;

 private:
  kube::client& client_;
  kube::json_scanner scanner_;  // reused: a scanner owns parser buffers
};

// The server-side apply body for a run's chains annotations (JSON, which is YAML).
std::string annotation_apply_body(const run_meta& run, const std::map<std::string, std::string>& annotations);

}  // namespace chainsd::reconciler
