#include "config/config_store.hpp"

#include "runtime/log.hpp"
#include "runtime/metrics.hpp"

namespace chainsd::config {

config_store::config_store(metrics::registry* m) : metrics_(m ? m : &metrics::global()) {
  auto initial = std::make_shared<config>(default_config());
  initial->version = 1;
  current_ = std::move(initial);
  metrics_->get_gauge("chainsd_config_version", "version of the chains-config snapshot in force").set(1);
  // Created at start so the rejection counter is visible (as 0) before anything goes wrong.
  metrics_->get_counter("chainsd_config_rejected_total", "chains-config updates rejected as invalid");
  warnings_gauge().set(0);
}

metrics::gauge& config_store::warnings_gauge() {
  return metrics_->get_gauge("chainsd_config_warnings",
                             "warnings about the chains-config last read (unknown keys, ignored values, storage "
                             "backends configured but selected by no artifacts.*.storage)");
}

std::shared_ptr<const config> config_store::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

update_result config_store::update(const data_map& data, const plugin_names& extra) {
  auto parsed = parse(data, extra);
  update_result out;
  out.warnings = parsed.warnings;
  warnings_gauge().set(static_cast<double>(parsed.warnings.size()));
  for (const auto& w : parsed.warnings) log::warn("chains-config: " + w, {{"configmap", "tekton-chains/chains-config"}});

  std::lock_guard lock(mutex_);
  if (!parsed.ok()) {
    out.error = parsed.error_text();
    out.version = current_->version;
    metrics_->get_counter("chainsd_config_rejected_total", "chains-config updates rejected as invalid").inc();
    auto version = std::to_string(current_->version);
    log::error("chains-config rejected; previous config stays in force",
               {{"configmap", "tekton-chains/chains-config"}, {"error", out.error}, {"version", version}});
    return out;
  }
  auto next = std::make_shared<config>(std::move(*parsed.value));
  next->version = current_->version + 1;
  out.accepted = true;
  out.version = next->version;
  current_ = std::move(next);
  metrics_->get_gauge("chainsd_config_version", "version of the chains-config snapshot in force")
      .set(static_cast<double>(out.version));
  log::info("chains-config accepted", {{"configmap", "tekton-chains/chains-config"},
                                       {"version", std::to_string(out.version)}});
  return out;
}

}  // namespace chainsd::config
