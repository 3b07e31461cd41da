#pragma once
// One stored artifact → one Kafka record. The value and the `payload`/`signature` headers are
// exactly what upstream Tekton Chains sends (gocloud.dev kafkapubsub turns Message.Metadata into
// record headers), so upstream consumers read our records unchanged; the key and the other
// headers are additions (see README.md, "Message format").

#include <chainsd/plugin/storage.hpp>

#include <string>
#include <utility>
#include <vector>

namespace storage_kafka {

struct kafka_record {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;  // in this order on the wire
};

kafka_record make_record(const chainsd::plugin::store_request& req);

}  // namespace storage_kafka
