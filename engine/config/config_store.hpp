#pragma once
// Holds the chains-config snapshot in force. Work takes the snapshot current when it starts
// (`current()`) and keeps it until done, so a reload never changes a run half-way. `update()`
// validates a whole new ConfigMap: valid data replaces the snapshot (version + 1); invalid data
// is rejected, logged with the key to fix, counted in chainsd_config_rejected_total, and the
// previous snapshot stays in force.
//
// Ownership: snapshots are immutable and shared; holders keep them alive. Thread-safety: update()
// and current() may be called from any thread (a mutex guards the pointer swap).

#include <memory>
#include <mutex>

#include "config/config.hpp"

namespace chainsd::metrics {
class registry;
class gauge;
}

namespace chainsd::config {

struct update_result {
  bool accepted = false;
  std::uint64_t version = 0;          // the version in force after the call
  std::string error;                  // why the data was rejected (empty when accepted)
  std::vector<std::string> warnings;  // unknown keys and ignored values
};

class config_store {
 public:
  // Starts with the defaults as version 1. Metrics go to `metrics` (the process registry when null).
  explicit config_store(metrics::registry* metrics = nullptr);

  std::shared_ptr<const config> current() const;
  // `extra`: installed third-party plugin names, valid as storage / signer values.
  update_result update(const data_map& data, const plugin_names& extra = {});

 private:
  metrics::gauge& warnings_gauge();
  mutable std::mutex mutex_;
  std::shared_ptr<const config> current_;
  metrics::registry* metrics_;
};

}  // namespace chainsd::config
