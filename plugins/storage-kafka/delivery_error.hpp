#pragma once
// librdkafka error codes → the plugin boundary's error classes. Anything the broker or the
// network may get over (timeouts, leader changes, brokers down, purges on shutdown) is retryable:
// the run's retry state machine tries again later. What a retry cannot fix is permanent, or
// bad_config / unauthenticated when the fix is in chains-config or the credentials.

#include <chainsd/plugin/errors.hpp>

#include <librdkafka/rdkafka.h>

#include <string>

namespace storage_kafka {

chainsd::plugin::errc classify(rd_kafka_resp_err_t err);

// "<what>: <librdkafka's text> (<code name>)", plus the config key to fix when there is one.
chainsd::plugin::error delivery_error(rd_kafka_resp_err_t err, const std::string& what, const std::string& topic);

}  // namespace storage_kafka
