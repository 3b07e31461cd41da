#include "provenance/detail.hpp"

namespace chainsd::provenance::detail {

child_index::child_index(const run_view& pr, const std::vector<run_view>& children) {
  for (const auto& c : children)
    if (auto task = c.label("tekton.dev/pipelineTask")) by_task_[*task].push_back(&c);
  if (pr.status_pipeline_spec) {
    for (const auto& t : pr.status_pipeline_spec->tasks) tasks_.push_back(&t);
    regular_ = tasks_.size();
    for (const auto& t : pr.status_pipeline_spec->finally) tasks_.push_back(&t);
  }
}

const std::vector<const run_view*>& child_index::for_task(const std::string& task) const {
  static const std::vector<const run_view*> none;
  auto it = by_task_.find(task);
  return it == by_task_.end() ? none : it->second;
}

std::vector<const run_view*> child_index::executed() const {
  std::vector<const run_view*> out;
  for (const auto* t : tasks_)
    for (const auto* c : for_task(t->name))
      if (c->completion_time) out.push_back(c);
  return out;
}

}  // namespace chainsd::provenance::detail
