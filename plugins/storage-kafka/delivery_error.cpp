#include "delivery_error.hpp"

namespace storage_kafka {
namespace plugin = chainsd::plugin;

plugin::errc classify(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return plugin::errc::unauthenticated;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:  // invalid topic name
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return plugin::errc::bad_config;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
      return plugin::errc::permanent;
    default:
      // Timeouts (_MSG_TIMED_OUT, _TIMED_OUT, REQUEST_TIMED_OUT), _TRANSPORT, _ALL_BROKERS_DOWN,
      // NOT_ENOUGH_REPLICAS, leader changes, _QUEUE_FULL, _PURGE_QUEUE/_PURGE_INFLIGHT, and
      // UNKNOWN_TOPIC_OR_PART from the broker (the topic may be being created), and _FATAL
      // (the plugin rebuilds a producer that failed fatally before its next record).
      return plugin::errc::retryable;
  }
}

plugin::error delivery_error(rd_kafka_resp_err_t err, const std::string& what, const std::string& topic) {
  std::string msg = what + ": " + rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")";
  auto c = classify(err);
  if (err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION ||
      err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    msg += "; check storage.pubsub.topic (\"" + topic + "\")";
  else if (c == plugin::errc::unauthenticated)
    msg += "; check the storage.pubsub.kafka.sasl.* / ssl.* settings and the broker's ACLs for topic \"" + topic + "\"";
  return plugin::fail(c, std::move(msg));
}

}  // namespace storage_kafka
