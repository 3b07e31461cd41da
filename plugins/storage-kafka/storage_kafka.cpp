// The kafka (pub/sub) storage backend: one long-lived idempotent producer per plugin instance;
// a store completes when the broker acknowledged the record (acks=all) or failed to.
//
// librdkafka runs its own threads (it cannot work without them). They never call into this code:
// delivery reports, errors and logs go to the instance's main queue, whose "became non-empty"
// event librdkafka writes to a pipe; Asio watches the pipe's read end and rd_kafka_poll(…, 0)
// serves the callbacks on the engine's loop thread. Nothing here blocks the loop except
// rd_kafka_destroy (joins librdkafka's threads after the queue was flushed or purged).
#include "delivery_error.hpp"
#include "message.hpp"
#include "settings.hpp"

#include <chainsd/plugin/export.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace storage_kafka {
namespace asio = boost::asio;
namespace plugin = chainsd::plugin;
using std::chrono::steady_clock;

namespace {

// A store waits this much longer than message.timeout.ms, so librdkafka's own verdict (which
// knows whether the record may still be in flight) normally arrives first.
constexpr auto report_grace = std::chrono::seconds(5);
// close() flushes for at most this long before purging what is left.
constexpr auto close_bound = std::chrono::seconds(10);
constexpr auto close_tick = std::chrono::milliseconds(20);

struct pending_delivery {
  asio::steady_timer* waiter = nullptr;  // on the waiting store's coroutine frame
  std::optional<rd_kafka_resp_err_t> outcome;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

}  // namespace

class kafka_storage final : public plugin::storage {
 public:
  bool uses_unlogged_bundle() const override { return false; }
  static plugin::result<std::unique_ptr<plugin::storage>> create(plugin::host& h, settings s) {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
      return plugin::fail(plugin::errc::permanent, std::string("kafka storage: pipe: ") + std::strerror(errno));
    std::unique_ptr<kafka_storage> self(new kafka_storage(h, s, fds[0], fds[1]));
    rd_kafka_conf_t* conf = s.conf.get();
    rd_kafka_conf_set_opaque(conf, self.get());
    rd_kafka_conf_set_dr_msg_cb(conf, &on_delivery);
    rd_kafka_conf_set_error_cb(conf, &on_error);
    rd_kafka_conf_set_log_cb(conf, &on_log);
    self->conf_ = std::move(s.conf);
    if (auto r = self->start_producer(); !r) return r.error();
    h.log(plugin::log_level::info, "kafka producer created",
          {{"topic", self->topic_}, {"bootstrap_servers", self->servers_}, {"key", "storage.pubsub.kafka.bootstrap.servers"}});
    return std::unique_ptr<plugin::storage>(std::move(self));
  }

  kafka_storage(const kafka_storage&) = delete;
  kafka_storage& operator=(const kafka_storage&) = delete;

  // The instance must outlive its store() calls (the engine keeps it until runs using it finish).
  // Without close(), undelivered records are purged, not flushed: a destructor must not wait.
  ~kafka_storage() override {
    *alive_ = false;
    pending_.clear();
    unresolved_ = 0;
    if (rk_) {
      if (auto left = rd_kafka_outq_len(rk_); left > 0)
        host_.log(plugin::log_level::warn, "kafka producer dropped without close(); purging undelivered records",
                  {{"topic", topic_}, {"records", std::to_string(left)}});
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      serve();
    }
    destroy_producer();
    ::close(wake_wr_);
  }

  asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    const std::string who = req.run.namespace_name + "/" + req.run.name;
    if (closed_ || !rk_)
      co_return plugin::fail(plugin::errc::retryable,
                             "kafka storage: producer closed (chains-config changed) while storing for " + who);
    serve();  // reports, errors and logs that arrived while nothing was waiting
    if (fatal_ && !awaiting()) {
      // librdkafka's verdict: this producer instance can never produce again (e.g. its
      // idempotence sequence broke). A fresh one starts a new producer id.
      host_.log(plugin::log_level::warn, "kafka producer rebuilt after a fatal error", {{"topic", topic_}});
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      serve();
      destroy_producer();
      if (auto r = start_producer(); !r) co_return r.error();
      count_rebuild();
    }

    const std::uint64_t id = next_id_++;
    if (auto code = produce(req, id); code != RD_KAFKA_RESP_ERR_NO_ERROR) {
      count("failed");
      co_return delivery_error(code, "kafka storage: cannot queue the record for " + who + " to topic \"" + topic_ + "\"",
                               topic_);
    }

    asio::steady_timer waiter(host_.executor());
    waiter.expires_after(message_timeout_ + report_grace);
    pending_[id].waiter = &waiter;
    ++unresolved_;
    // Drops the entry however this frame ends (also if it is destroyed while suspended), so
    // on_delivery never touches a dead timer.
    struct forget {
      kafka_storage* self;
      std::uint64_t id;
      std::shared_ptr<bool> alive;
      ~forget() {
        if (!*alive) return;
        self->forget_store(id);
        if (!self->awaiting()) self->unwatch();
      }
    } guard{this, id, alive_};
    watch();
    auto [ec] = co_await waiter.async_wait(asio::as_tuple(asio::use_awaitable));

    if (!*guard.alive)
      co_return plugin::fail(plugin::errc::retryable, "kafka storage: producer destroyed while storing for " + who);
    auto it = pending_.find(id);
    if (it == pending_.end() || !it->second.outcome) {
      count("unconfirmed");
      if (ec == asio::error::operation_aborted)
        co_return plugin::fail(plugin::errc::retryable,
                               "kafka storage: cancelled while waiting for the broker's acknowledgement for " + who +
                                   " (the record may still be delivered)");
      co_return plugin::fail(plugin::errc::retryable,
                             "kafka storage: no delivery report within " +
                                 std::to_string((message_timeout_ + report_grace).count()) + " ms for " + who +
                                 " from " + servers_ + " (the record may still be delivered)");
    }
    const auto err = *it->second.outcome;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      count("failed");
      co_return delivery_error(err, "kafka storage: topic \"" + topic_ + "\" did not take the record for " + who, topic_);
    }
    count("delivered");
    host_.log(plugin::log_level::debug, "kafka record delivered",
              {{"run", who}, {"uid", req.run.uid}, {"topic", topic_},
               {"partition", std::to_string(it->second.partition)}, {"offset", std::to_string(it->second.offset)}});
    co_return plugin::store_result{};
  }

  asio::awaitable<void> close() override {
    if (closed_) co_return;
    closed_ = true;
    if (!rk_) co_return;
    auto alive = alive_;
    const auto deadline = steady_clock::now() + std::min<steady_clock::duration>(close_bound, message_timeout_ + report_grace);
    asio::steady_timer tick(host_.executor());
    for (;;) {
      // With a zero timeout flush does not block: it sends lingering batches now and serves
      // the reports that are already in.
      rd_kafka_flush(rk_, 0);
      if (rd_kafka_outq_len(rk_) == 0 || steady_clock::now() >= deadline) break;
      tick.expires_after(close_tick);
      auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!*alive || !rk_) co_return;
      if (ec) break;  // cancelled: stop flushing, purge below
    }
    if (auto left = rd_kafka_outq_len(rk_); left > 0) {
      host_.log(plugin::log_level::warn, "kafka producer close: flush timed out; purging undelivered records",
                {{"topic", topic_}, {"records", std::to_string(left)}});
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    }
    serve();  // purge reports wake the stores still waiting (retryable)
    destroy_producer();
    host_.log(plugin::log_level::info, "kafka producer closed", {{"topic", topic_}});
  }

 private:
  kafka_storage(plugin::host& h, const settings& s, int wake_rd, int wake_wr)
      : host_(h),
        topic_(s.topic),
        servers_(s.bootstrap_servers),
        message_timeout_(s.message_timeout),
        wake_(h.executor(), wake_rd),
        wake_wr_(wake_wr) {}

  // A producer from a copy of the configuration (callbacks and opaque included), so it can be
  // built again after a fatal error.
  plugin::result<void> start_producer() {
    rd_kafka_conf_t* conf = rd_kafka_conf_dup(conf_.get());
    char errstr[512] = {0};
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
      rd_kafka_conf_destroy(conf);  // rd_kafka_new takes ownership only on success
      return plugin::fail(plugin::errc::bad_config,
                          std::string("storage.pubsub.kafka.*: librdkafka refused the producer configuration: ") + errstr);
    }
    rk_ = rk;
    fatal_ = false;
    rd_kafka_set_log_queue(rk_, nullptr);  // log.queue=true: logs join the main queue
    main_q_ = rd_kafka_queue_get_main(rk_);
    rd_kafka_queue_io_event_enable(main_q_, wake_wr_, "1", 1);
    return {};
  }

  // Queues the record of `req`. librdkafka copies what it keeps (RD_KAFKA_MSG_F_COPY), so the
  // record built here dies before the store starts waiting instead of living on in every waiting
  // store's frame (a third copy of value and signature while librdkafka holds its own).
  rd_kafka_resp_err_t produce(const plugin::store_request& req, std::uint64_t id) {
    auto rec = make_record(req);
    std::vector<rd_kafka_vu_t> vus(5 + rec.headers.size());
    std::size_t n = 0;
    vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vus[n++].u.cstr = topic_.c_str();
    vus[n].vtype = RD_KAFKA_VTYPE_KEY;
    vus[n].u.mem.ptr = rec.key.data();
    vus[n++].u.mem.size = rec.key.size();
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[n].u.mem.ptr = rec.value.data();
    vus[n++].u.mem.size = rec.value.size();
    vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vus[n++].u.ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
    for (const auto& [name, value] : rec.headers) {
      vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
      vus[n].u.header.name = name.c_str();
      vus[n].u.header.val = value.data();
      vus[n++].u.header.size = static_cast<ssize_t>(value.size());
    }
    rd_kafka_error_t* e = rd_kafka_produceva(rk_, vus.data(), n);
    if (!e) return RD_KAFKA_RESP_ERR_NO_ERROR;
    auto code = rd_kafka_error_code(e);
    rd_kafka_error_destroy(e);
    return code;
  }

  static kafka_storage* self_of(const rd_kafka_t* rk) { return static_cast<kafka_storage*>(rd_kafka_opaque(rk)); }

  // All three run inside rd_kafka_poll/flush, i.e. on the loop thread.
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<kafka_storage*>(opaque);
    auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
    auto it = self->pending_.find(id);
    if (it == self->pending_.end()) {
      // The store gave up (deadline or cancellation) before the verdict: say what happened.
      self->host_.log(plugin::log_level::warn, "kafka delivery report for a store that no longer waits",
                      {{"topic", self->topic_}, {"error", m->err ? rd_kafka_err2name(m->err) : "none"}});
      return;
    }
    if (!it->second.outcome) --self->unresolved_;
    it->second.outcome = m->err;
    it->second.partition = m->partition;
    it->second.offset = m->offset;
    if (it->second.waiter) it->second.waiter->cancel();
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<kafka_storage*>(opaque);
    std::string text = reason ? reason : "";
    auto level = plugin::log_level::warn;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512] = {0};
      auto orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
      text = std::string(rd_kafka_err2name(orig)) + ": " + buf;
      level = plugin::log_level::error;
      self->fatal_ = true;
    }
    self->host_.log(level, err == RD_KAFKA_RESP_ERR__FATAL ? "kafka producer failed fatally; the next store rebuilds it"
                                                           : "kafka producer error",
                    {{"topic", self->topic_}, {"error", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))},
                     {"reason", text}});
  }

  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    auto* self = self_of(rk);
    if (!self) return;
    // syslog levels: 0..3 error, 4 warning, 5..6 notice/info, 7 debug.
    auto l = level <= 3 ? plugin::log_level::error
             : level == 4 ? plugin::log_level::warn
             : level <= 6 ? plugin::log_level::info
                          : plugin::log_level::debug;
    self->host_.log(l, "librdkafka", {{"facility", fac ? fac : ""}, {"message", buf ? buf : ""}});
  }

  void serve() {
    if (!rk_) return;
    while (rd_kafka_poll(rk_, 0) > 0) {
    }
  }

  // Watches the pipe while stores wait. Idle, it is not watched, so an idle producer does not keep
  // io_context::run() from returning; what arrives meanwhile is served by the next store().
  void watch() {
    if (watching_ || !rk_) return;
    watching_ = true;
    auto on_ready = [this, alive = alive_](boost::system::error_code ec) {
      if (!*alive) return;
      watching_ = false;
      if (!ec) {
        char buf[256];
        while (::read(wake_.native_handle(), buf, sizeof buf) > 0) {
        }
        serve();
      }
      // Also after a cancel by unwatch(): a store may have started waiting since.
      if (awaiting()) watch();
    };
    wake_.async_wait(asio::posix::stream_descriptor::wait_read, std::move(on_ready));
  }

  // A waiting store without its verdict yet (resumed stores leave their entry until they run).
  // A count, not a scan of pending_: it is asked once per finished store, and thousands of stores
  // may wait at once (a scan made N concurrent stores cost O(N^2)).
  bool awaiting() const { return unresolved_ > 0; }

  void forget_store(std::uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    if (!it->second.outcome) --unresolved_;
    pending_.erase(it);
  }

  // Nothing waits: stop watching, so io_context::run() can return in tests and at shutdown.
  void unwatch() {
    boost::system::error_code ignored;
    if (watching_) wake_.cancel(ignored);
  }

  void destroy_producer() {
    if (!rk_) return;
    rd_kafka_queue_io_event_enable(main_q_, -1, nullptr, 0);
    rd_kafka_queue_destroy(main_q_);
    main_q_ = nullptr;
    boost::system::error_code ignored;
    wake_.cancel(ignored);
    rd_kafka_t* rk = rk_;
    rk_ = nullptr;
    rd_kafka_destroy(rk);
  }

  void count(const char* result) {
    host_.count("chainsd_plugin_kafka_records_total", "Records the kafka storage backend produced, by outcome",
                {{"result", result}});
  }

  void count_rebuild() {
    host_.count("chainsd_plugin_kafka_producer_rebuilds_total",
                "Producers the kafka storage backend rebuilt after a librdkafka fatal error", {});
  }

  plugin::host& host_;
  conf_ptr conf_;  // the configuration every producer of this instance is built from
  std::string topic_;
  std::string servers_;
  std::chrono::milliseconds message_timeout_;
  asio::posix::stream_descriptor wake_;  // read end of the pipe librdkafka writes to
  int wake_wr_ = -1;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* main_q_ = nullptr;
  bool watching_ = false;
  bool closed_ = false;
  bool fatal_ = false;  // librdkafka reported a fatal error: rebuild before the next produce
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, pending_delivery> pending_;
  std::size_t unresolved_ = 0;  // entries of pending_ without an outcome
};

}  // namespace storage_kafka

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_kafka_storage(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  auto s = storage_kafka::parse_settings(h, cfg);
  if (!s) return s.error();
  return storage_kafka::kafka_storage::create(h, std::move(*s));
}

CHAINSD_STORAGE_PLUGIN("kafka", "0.1.0", make_kafka_storage)
