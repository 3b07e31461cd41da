// Throughput of the kafka storage backend alone, against librdkafka's own producer on the same
// mock cluster in the same run (issue 7). For each value size:
//   (a) a plain librdkafka producer (idempotent, acks=all: the plugin's settings) produces M records
//       as fast as it can and waits for every delivery report;
//   (b) plugins/storage-kafka/storage-kafka.so, loaded through the engine's plugin host, stores M
//       requests with at most N stores waiting at once (as the engine's --max-in-flight bounds the
//       runs in flight), each completing on its acknowledgement, on one io_context thread.
// Both send identical records: key = a run uid, value = the signature (SIZE bytes), and the headers
// the plugin writes (payload = base64 of a 3/4*SIZE payload, signature = the value again, ...).
// Each measurement gets a fresh in-process mock cluster (3 brokers, one topic with 3 partitions and
// 3 replicas), warmed up with one record, so neither side pays for connecting or keeps the other's
// data. Each figure is the median of --repeat measurements, taken alternately.
//
//   kafka_throughput [--messages M] [--sizes BYTES,...] [--in-flight N,...] [--repeat R]
//                    [--set PROPERTY=VALUE]... [--plugin PATH]
//
// --set passes a librdkafka property to both producers (storage.pubsub.kafka.PROPERTY for the
// plugin), e.g. --set linger.ms=0. Prints one JSON line per size and in-flight bound:
//   {"size":1024,"messages":M,"in_flight":N,"record_bytes":...,"librdkafka_msgs_per_s":...,
//    "chainsd_backend_msgs_per_s":...,"ratio":...}      ratio = chainsd / librdkafka
#include "plugin_host/registry.hpp"
#include "runtime/log.hpp"

#include <chainsd/plugin/encoding.hpp>
#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/storage.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace asio = boost::asio;
namespace plugin = chainsd::plugin;
namespace fs = std::filesystem;
using std::chrono::steady_clock;

namespace {

constexpr const char* topic = "bench";

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "kafka_throughput: " << why
            << "\nusage: kafka_throughput [--messages M] [--sizes BYTES,...] [--in-flight N,...] [--repeat R]\n"
               "                        [--set PROPERTY=VALUE]... [--plugin PATH]\n";
  std::exit(2);
}

long positive(const std::string& flag, const std::string& v, long max) {
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < 1 || n > max)
    usage(flag + " wants a whole number from 1 to " + std::to_string(max) + ", got \"" + v + "\"");
  return n;
}

std::vector<long> positives(const std::string& flag, const std::string& list, long max) {
  std::vector<long> out;
  std::size_t pos = 0;
  for (;;) {
    auto comma = list.find(',', pos);
    out.push_back(positive(flag, list.substr(pos, comma == std::string::npos ? comma : comma - pos), max));
    if (comma == std::string::npos) return out;
    pos = comma + 1;
  }
}

struct options {
  long messages = 10'000;
  std::vector<long> sizes{1024, 10 * 1024};
  std::vector<long> in_flight{64, 1000};  // the engine's default --max-in-flight, and a wide bound
  long repeat = 3;
  std::vector<std::pair<std::string, std::string>> properties;
  std::string plugin = STORAGE_KAFKA_SO;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--messages") {
      o.messages = positive(a, value(), 10'000'000);
    } else if (a == "--in-flight") {
      o.in_flight = positives(a, value(), 1'000'000);
    } else if (a == "--sizes") {
      o.sizes = positives(a, value(), 16 * 1024 * 1024);
    } else if (a == "--repeat") {
      o.repeat = positive(a, value(), 100);
    } else if (a == "--set") {
      std::string kv = value();
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) usage("--set wants PROPERTY=VALUE, got \"" + kv + "\"");
      o.properties.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "--plugin") {
      o.plugin = value();
    } else if (a == "--help" || a == "-h") {
      usage("throughput of the kafka storage backend vs a plain librdkafka producer");
    } else {
      usage("unknown argument " + a);
    }
  }
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// A librdkafka mock cluster owned by a client instance that never produces.
class mock_cluster {
 public:
  mock_cluster() {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!owner_) throw std::runtime_error(std::string("rd_kafka_new (mock owner): ") + errstr);
    mc_ = rd_kafka_mock_cluster_new(owner_, 3);
    if (!mc_) throw std::runtime_error("cannot create a librdkafka mock cluster");
    if (auto err = rd_kafka_mock_topic_create(mc_, topic, 3, 3))
      throw std::runtime_error(std::string("mock topic: ") + rd_kafka_err2str(err));
  }
  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;
  ~mock_cluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(owner_);
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(mc_); }

 private:
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

// One stored artifact of SIZE bytes, as the engine hands it to storage backends.
plugin::store_request request_of(long size, long i) {
  plugin::store_request req;
  req.kind = plugin::artifact_kind::taskrun;
  std::string n = std::to_string(i < 0 ? 999'999'999'999L : i);
  std::string uid = "00000000-0000-4000-8000-" + std::string(n.size() < 12 ? 12 - n.size() : 0, '0') + n;
  req.run = {"tekton.dev/v1", "TaskRun", "bench", "tr-" + n, uid, "default"};
  req.short_key = "taskrun-" + req.run.uid;
  req.full_key = req.short_key;
  req.payload_format = "in-toto";
  req.payload.assign(static_cast<std::size_t>(size) * 3 / 4, 'p');
  req.signature.assign(static_cast<std::size_t>(size), 's');
  return req;
}

// The record the plugin makes of a request (plugins/storage-kafka/message.cpp), for the baseline.
std::vector<std::pair<std::string, std::string>> headers_of(const plugin::store_request& r) {
  return {{"payload", plugin::base64_encode(r.payload)},
          {"signature", r.signature},
          {"payload-format", r.payload_format},
          {"artifact", "taskrun"},
          {"storage-key", r.full_key},
          {"run-kind", r.run.kind},
          {"run-namespace", r.run.namespace_name},
          {"run-name", r.run.name},
          {"run-uid", r.run.uid}};
}

std::size_t record_bytes(const plugin::store_request& r) {
  std::size_t n = r.run.uid.size() + r.signature.size();
  for (const auto& [k, v] : headers_of(r)) n += k.size() + v.size();
  return n;
}

// ---- (a) plain librdkafka producer ----

struct baseline_state {
  long delivered = 0;
  long failed = 0;
  rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void on_baseline_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* s = static_cast<baseline_state*>(opaque);
  if (m->err) {
    if (!s->failed++) s->first_error = m->err;
  } else {
    ++s->delivered;
  }
}

rd_kafka_t* baseline_producer(const std::string& servers, const options& o, baseline_state* s) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The plugin's fixed settings and defaults (plugins/storage-kafka/settings.cpp), then --set.
  std::vector<std::pair<std::string, std::string>> props{
      {"bootstrap.servers", servers}, {"enable.idempotence", "true"}, {"acks", "all"},
      {"client.id", "chainsd-bench"}, {"message.timeout.ms", "120000"}};
  props.insert(props.end(), o.properties.begin(), o.properties.end());
  for (const auto& [k, v] : props)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error("librdkafka property " + k + ": " + errstr);
    }
  rd_kafka_conf_set_dr_msg_cb(conf, &on_baseline_delivery);
  rd_kafka_conf_set_opaque(conf, s);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) throw std::runtime_error(std::string("rd_kafka_new: ") + errstr);
  return rk;
}

void produce(rd_kafka_t* rk, const plugin::store_request& r) {
  auto headers = headers_of(r);
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& [k, v] : headers)
    rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(), static_cast<ssize_t>(v.size()));
  for (;;) {
    auto err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(r.run.uid.data(), r.run.uid.size()),
                                 RD_KAFKA_V_VALUE(const_cast<char*>(r.signature.data()), r.signature.size()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // librdkafka owns hdrs now
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_headers_destroy(hdrs);
      throw std::runtime_error(std::string("produce: ") + rd_kafka_err2name(err));
    }
    rd_kafka_poll(rk, 10);  // local queue full: serve delivery reports, then try again
  }
}

double librdkafka_rate(const options& o, long size) {
  const long messages = o.messages;
  mock_cluster mc;
  baseline_state s;
  rd_kafka_t* rk = baseline_producer(mc.bootstrap(), o, &s);
  produce(rk, request_of(size, -1));  // warm-up: connections, metadata, producer id
  rd_kafka_flush(rk, 30'000);
  if (s.delivered != 1) throw std::runtime_error("librdkafka baseline: the warm-up record was not delivered");
  s.delivered = 0;
  // Requests are built outside the timed loop on both sides.
  std::vector<plugin::store_request> reqs;
  reqs.reserve(static_cast<std::size_t>(messages));
  for (long i = 0; i < messages; ++i) reqs.push_back(request_of(size, i));
  const auto start = steady_clock::now();
  for (const auto& r : reqs) {
    produce(rk, r);
    rd_kafka_poll(rk, 0);
  }
  while (s.delivered + s.failed < messages) rd_kafka_poll(rk, 100);
  const double secs = std::chrono::duration<double>(steady_clock::now() - start).count();
  rd_kafka_destroy(rk);
  if (s.failed)
    throw std::runtime_error("librdkafka baseline: " + std::to_string(s.failed) + " records failed, first: " +
                             rd_kafka_err2name(s.first_error));
  return static_cast<double>(messages) / secs;
}

// ---- (b) the storage plugin through the engine's plugin host ----

// The engine's host reduced to what the kafka plugin uses: an executor, logs (warnings and errors
// to stderr), counters (ignored), secrets (none).
struct bench_host final : plugin::host {
  asio::io_context ctx;
  asio::any_io_executor executor() override { return ctx.get_executor(); }
  void log(plugin::log_level level, std::string_view msg, std::initializer_list<plugin::log_field> fields) override {
    if (level < plugin::log_level::warn) return;
    std::cerr << "storage-kafka: " << msg;
    for (const auto& [k, v] : fields) std::cerr << ' ' << k << '=' << v;
    std::cerr << '\n';
  }
  void count(std::string_view, std::string_view, std::initializer_list<std::pair<std::string_view, std::string_view>>,
             double) override {}
  asio::awaitable<plugin::result<plugin::http_response>> http(plugin::http_request) override {
    co_return plugin::fail(plugin::errc::permanent, "no http in the kafka benchmark");
  }
  asio::awaitable<plugin::result<plugin::http_response>> kube(std::string, std::string, std::string,
                                                              std::string) override {
    co_return plugin::fail(plugin::errc::permanent, "no kube in the kafka benchmark");
  }
  plugin::result<std::string> read_secret(std::string_view name) override {
    return plugin::fail(plugin::errc::not_found, std::string(name) + ": no secrets in the kafka benchmark");
  }
  std::string secrets_dir() override { return "/nonexistent"; }
};

// The loader accepts plugins only from a directory nobody else can write to: a private copy.
chainsd::plugin_host::registry load_plugin(const std::string& so, fs::path& dir) {
  if (!fs::is_regular_file(so)) usage("--plugin: no such file " + so);
  dir = fs::temp_directory_path() / ("chainsd-kafka-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  auto dst = dir / fs::path(so).filename();
  fs::copy_file(so, dst, fs::copy_options::overwrite_existing);
  ::chmod(dst.c_str(), 0644);
  chainsd::plugin_host::registry reg(chainsd::plugin_host::scan_plugins(dir));
  if (!reg.find("storage", "kafka")) {
    std::string why = "not a storage plugin named kafka";
    for (const auto& r : reg.rejected()) why = r.reason;
    throw std::runtime_error("cannot load " + so + ": " + why);
  }
  return reg;
}

struct drive_state {
  long next = 0;
  long total = 0;
  long ok = 0;
  long failed = 0;
  std::string first_error;
  const std::vector<plugin::store_request>* reqs = nullptr;
};

// One of --in-flight workers: stores the next request until none is left.
asio::awaitable<void> worker(plugin::storage* st, drive_state* s) {
  while (s->next < s->total) {
    plugin::store_request req = (*s->reqs)[static_cast<std::size_t>(s->next++)];
    auto r = co_await st->store(std::move(req));
    if (r) {
      ++s->ok;
    } else if (!s->failed++) {
      s->first_error = r.error().message;
    }
  }
}

void run_until_done(bench_host& h, asio::awaitable<void> a) {
  std::exception_ptr failure;
  asio::co_spawn(h.ctx, std::move(a), [&failure](std::exception_ptr e) {
    if (e && !failure) failure = e;
  });
  h.ctx.restart();
  h.ctx.run();
  if (failure) std::rethrow_exception(failure);
}

double backend_rate(const chainsd::plugin_host::registry& reg, const options& o, long size, long in_flight) {
  const long messages = o.messages;
  mock_cluster mc;
  bench_host h;
  plugin::config_map cfg{{"storage.pubsub.provider", "kafka"},
                         {"storage.pubsub.topic", topic},
                         {"storage.pubsub.kafka.bootstrap.servers", mc.bootstrap()},
                         {"artifacts.taskrun.storage", "kafka"}};
  for (const auto& [k, v] : o.properties) cfg["storage.pubsub.kafka." + k] = v;
  auto st = reg.make_storage("kafka", h, cfg);
  if (!st) throw std::runtime_error("storage-kafka refused the configuration: " + st.error().message);

  std::vector<plugin::store_request> warm{request_of(size, -1)};
  drive_state s{0, 1, 0, 0, {}, &warm};
  run_until_done(h, worker(st->get(), &s));
  if (s.ok != 1) throw std::runtime_error("storage-kafka: the warm-up record was not stored: " + s.first_error);

  std::vector<plugin::store_request> reqs;
  reqs.reserve(static_cast<std::size_t>(messages));
  for (long i = 0; i < messages; ++i) reqs.push_back(request_of(size, i));
  s = drive_state{0, messages, 0, 0, {}, &reqs};
  std::exception_ptr failure;
  const auto start = steady_clock::now();
  for (long w = 0; w < in_flight && w < messages; ++w)
    asio::co_spawn(h.ctx, worker(st->get(), &s), [&failure](std::exception_ptr e) {
      if (e && !failure) failure = e;
    });
  h.ctx.restart();
  h.ctx.run();
  const double secs = std::chrono::duration<double>(steady_clock::now() - start).count();
  if (failure) std::rethrow_exception(failure);
  run_until_done(h, (*st)->close());
  if (s.failed)
    throw std::runtime_error("storage-kafka: " + std::to_string(s.failed) + " stores failed, first: " + s.first_error);
  return static_cast<double>(messages) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  chainsd::log::set_level(chainsd::log::level::warn);  // stdout is the report
  fs::path dir;
  try {
    auto reg = load_plugin(o.plugin, dir);
    for (long size : o.sizes) {
      std::vector<double> base;
      std::vector<std::vector<double>> ours(o.in_flight.size());
      for (long r = 0; r < o.repeat; ++r) {
        base.push_back(librdkafka_rate(o, size));
        for (std::size_t f = 0; f < o.in_flight.size(); ++f) ours[f].push_back(backend_rate(reg, o, size, o.in_flight[f]));
      }
      const double b = median(base);
      for (std::size_t f = 0; f < o.in_flight.size(); ++f) {
        const double c = median(ours[f]);
        std::printf(
            "{\"size\":%ld,\"messages\":%ld,\"in_flight\":%ld,\"record_bytes\":%zu,\"librdkafka_msgs_per_s\":%.0f,"
            "\"chainsd_backend_msgs_per_s\":%.0f,\"ratio\":%.3f,\"repeat\":%ld,\"librdkafka\":\"%s\"}\n",
            size, o.messages, o.in_flight[f], record_bytes(request_of(size, 0)), b, c, c / b, o.repeat,
            rd_kafka_version_str());
      }
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::cerr << "kafka_throughput: " << e.what() << "\n";
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
    return 1;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
