#pragma once
// chains-config keys → a librdkafka producer configuration. Validation happens here, before any
// thread is started, so every mistake comes back as bad_config naming the key to fix.

#include <chainsd/plugin/host.hpp>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>

namespace storage_kafka {

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

struct settings {
  std::string topic;
  std::string bootstrap_servers;  // normalised: "host:port,host:port"
  conf_ptr conf;                  // ready for rd_kafka_new (owns it until then)
  // librdkafka's own delivery bound (message.timeout.ms as finally configured); a store waits a
  // little longer than this for the report so librdkafka, not our timer, normally decides.
  std::chrono::milliseconds message_timeout{120'000};
};

inline constexpr std::string_view key_prefix = "storage.pubsub.kafka.";

// Reads storage.pubsub.{provider,topic}, storage.pubsub.kafka.bootstrap.servers and every other
// storage.pubsub.kafka.<property> (passed to librdkafka; <property>.file names a file of the
// signing-secrets directory whose content becomes the value). Reads secret files (blocking, once).
chainsd::plugin::result<settings> parse_settings(chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg);

}  // namespace storage_kafka
