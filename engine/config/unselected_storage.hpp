#pragma once
// Storage backends that are configured but not used: `storage.pubsub.topic` set while no
// `artifacts.*.storage` names kafka (or pubsub) sends nothing, silently, which is what a user
// following upstream's Kafka instructions gets. One warning per such backend, naming the keys that
// are set and the key to add.

#include "config/config.hpp"

namespace chainsd::config {

void warn_unselected_storage(const data_map& data, const config& cfg, parse_result& result);

}  // namespace chainsd::config
