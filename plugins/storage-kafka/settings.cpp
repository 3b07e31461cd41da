#include "settings.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

namespace storage_kafka {
namespace plugin = chainsd::plugin;

namespace {

constexpr std::string_view topic_key = "storage.pubsub.topic";
constexpr std::string_view provider_key = "storage.pubsub.provider";
constexpr std::string_view servers_key = "storage.pubsub.kafka.bootstrap.servers";

// Properties that carry secrets: accepted only as <property>.file so the value never sits in a
// ConfigMap (readable by anyone who can read chains-config, and echoed by `kubectl get -o yaml`).
constexpr std::array<std::string_view, 6> secret_properties{
    "sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
    "sasl.oauthbearer.client.secret", "ssl_key"};

// Properties whose value is ours: "stored" must mean "acknowledged by all in-sync replicas,
// written once". Letting users weaken them would silently break that promise.
constexpr std::array<std::string_view, 4> fixed_properties{"enable.idempotence", "acks",
                                                           "request.required.acks", "bootstrap.servers"};

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

plugin::error bad(std::string msg) { return plugin::fail(plugin::errc::bad_config, std::move(msg)); }

// "a:9092, b:9092" → "a:9092,b:9092"; upstream took the value as ONE address.
plugin::result<std::string> normalise_servers(std::string_view value) {
  std::string out;
  std::size_t pos = 0;
  while (pos <= value.size()) {
    auto comma = value.find(',', pos);
    auto item = trim(value.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (item.empty())
      return bad(std::string(servers_key) + ": empty entry in \"" + std::string(value) +
                 "\" (expected a comma-separated list of host:port)");
    if (item.find_first_of(" \t") != std::string::npos)
      return bad(std::string(servers_key) + ": \"" + item + "\" contains spaces (expected host:port)");
    out += (out.empty() ? "" : ",") + item;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

struct property {
  std::string name;
  std::string value;
  std::string key;  // the chains-config key it came from, for error messages
  bool secret = false;
};

plugin::result<void> set(rd_kafka_conf_t* conf, const property& p) {
  char errstr[512] = {0};
  switch (rd_kafka_conf_set(conf, p.name.c_str(), p.value.c_str(), errstr, sizeof errstr)) {
    case RD_KAFKA_CONF_OK: return {};
    case RD_KAFKA_CONF_UNKNOWN:
      return bad(p.key + ": \"" + p.name + "\" is not a librdkafka property (" + errstr + ")");
    default:
      // librdkafka's message quotes the value; keep secrets out of logs.
      return bad(p.key + ": invalid value for \"" + p.name + "\"" +
                 (p.secret ? std::string(" (value read from a secret file, not shown)") : ": " + std::string(errstr)));
  }
}

}  // namespace

plugin::result<settings> parse_settings(plugin::host& h, const plugin::config_map& cfg) {
  settings s;
  if (auto it = cfg.find(provider_key); it != cfg.end() && !trim(it->second).empty() && trim(it->second) != "kafka")
    return bad(std::string(provider_key) + ": \"" + it->second + "\" is not served by the kafka plugin");

  if (auto it = cfg.find(topic_key); it != cfg.end()) s.topic = trim(it->second);
  if (s.topic.empty()) {
    std::string msg = std::string(topic_key) + " is not set: the kafka (pubsub) storage backend needs a topic";
    // Upstream's own documentation misspelled this key once; point at any look-alike.
    for (const auto& [k, v] : cfg)
      if (k != topic_key && k.size() > 6 && k.ends_with(".topic") && k.starts_with("storage."))
        msg += " (found \"" + k + "\": a misspelling of " + std::string(topic_key) + "?)";
    return bad(std::move(msg));
  }

  auto servers = cfg.find(servers_key);
  if (servers == cfg.end() || trim(servers->second).empty())
    return bad(std::string(servers_key) + " is not set: the kafka storage backend needs the brokers to connect to");
  auto normalised = normalise_servers(servers->second);
  if (!normalised) return normalised.error();
  s.bootstrap_servers = *normalised;

  // Ours first, so the user's properties (applied after) win where they are allowed to.
  std::vector<property> props{
      {"bootstrap.servers", s.bootstrap_servers, std::string(servers_key), false},
      {"enable.idempotence", "true", "(chainsd default)", false},
      {"acks", "all", "(chainsd default)", false},
      {"client.id", "chainsd", "(chainsd default)", false},
      // Kafka's Java producer default (delivery.timeout.ms). A shorter bound turns a broker
      // restart or a short cluster outage into failed stores: the engine then signs the run
      // again (a second Rekor entry, a second record if the first one was in flight), instead of
      // librdkafka retrying the same record under the same idempotence sequence.
      {"message.timeout.ms", "120000", "(chainsd default)", false},
      // After an outage librdkafka retries a broker connection with a backoff growing to this
      // bound (librdkafka: 10 s). Every run storing to Kafka waits meanwhile; one producer
      // reconnecting once a second costs the brokers nothing.
      {"reconnect.backoff.max.ms", "1000", "(chainsd default)", false},
      // Logs and errors come out of rd_kafka_poll on the loop thread, not from librdkafka's threads.
      {"log.queue", "true", "(chainsd default)", false},
  };
  for (const auto& [key, value] : cfg) {
    if (!key.starts_with(key_prefix) || key == servers_key) continue;
    std::string name = key.substr(key_prefix.size());
    bool from_file = name.size() > 5 && name.ends_with(".file");
    if (from_file) name.resize(name.size() - 5);
    if (std::find(fixed_properties.begin(), fixed_properties.end(), name) != fixed_properties.end())
      return bad(key + ": \"" + name + "\" is set by chainsd (idempotent producer, acks=all" +
                 (name == "bootstrap.servers" ? std::string(", servers from ") + std::string(servers_key) : "") +
                 ") and cannot be overridden");
    if (name.starts_with("log.queue") || name.ends_with("_cb"))
      return bad(key + ": \"" + name + "\" cannot be set from chains-config");
    bool secret = std::find(secret_properties.begin(), secret_properties.end(), name) != secret_properties.end();
    if (secret && !from_file)
      return bad(key + ": secrets are not read from the ConfigMap; put the value in a file of the signing-secrets "
                 "secret and set " + key + ".file to that file's name");
    std::string v = value;
    if (from_file) {
      auto content = h.read_secret(trim(value));
      if (!content)
        return bad(key + ": cannot read secret file \"" + trim(value) + "\" from " + h.secrets_dir() + ": " +
                   content.error().message);
      v = *content;
      // Files written by `kubectl create secret --from-file` or an editor often end in a newline.
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
      secret = true;
    }
    props.push_back({std::move(name), std::move(v), key, secret});
  }

  s.conf.reset(rd_kafka_conf_new());
  for (const auto& p : props)
    if (auto r = set(s.conf.get(), p); !r) return r.error();

  char buf[64];
  size_t n = sizeof buf;
  if (rd_kafka_conf_get(s.conf.get(), "message.timeout.ms", buf, &n) == RD_KAFKA_CONF_OK) {
    long ms = std::strtol(buf, nullptr, 10);
    if (ms > 0) s.message_timeout = std::chrono::milliseconds(ms);
  }
  return s;
}

}  // namespace storage_kafka
