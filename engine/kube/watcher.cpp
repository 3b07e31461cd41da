#include "kube/watcher.hpp"

#include "kube/json_scan.hpp"
#include "kube/list_pager.hpp"
#include "runtime/backoff.hpp"
#include "runtime/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <random>

namespace chainsd::kube {
namespace asio = boost::asio;

namespace {
std::string_view header_value(const net::header_list& headers, std::string_view name) {
  auto lower_eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
        return false;
    return true;
  };
  for (const auto& [k, v] : headers)
    if (lower_eq(k, name)) return v;
  return {};
}

// ended_early: the server closed the stream at once with nothing in it (back off before the
// next try); ended: a normal end, e.g. timeoutSeconds elapsed.
enum class outcome { ended, ended_early, gone, stopped };
}

struct watcher::impl {
  impl(client& c, resource r, watcher_options o)
      : cl_(c), res_(std::move(r)), opts_(std::move(o)), timer_(c.get_executor()) {}

  client& cl_;
  resource res_;
  watcher_options opts_;
  asio::steady_timer timer_;
  known_set known_;
  json_scanner scanner_;
  watch_line line_;
  std::string rv_;
  bool synced_ = false;
  bool stopping_ = false;
  bool consumer_failed_ = false;
  bool stream_progress_ = false;  // the current/last stream delivered an event or bookmark
  std::chrono::milliseconds retry_after_{0};  // from a refused watch's Retry-After
  net::response_stream* active_ = nullptr;
  watcher_stats stats_;
  std::minstd_rand rng_{std::random_device{}()};

  std::string what() const {
    std::string w = res_.plural;
    if (!res_.group.empty()) w += "." + res_.group;
    if (!opts_.namespace_name.empty()) w += " in " + opts_.namespace_name;
    return w;
  }

  void deliver(const event_handler& h, event_type t, std::string_view ns, std::string_view name,
               std::string_view uid, std::string_view version, std::string object) {
    ++stats_.events;
    try {
      h(watch_event{t, std::string(ns), std::string(name), std::string(uid), std::string(version),
                    std::move(object)});
    } catch (...) {
      consumer_failed_ = true;  // not ours to retry: run() rethrows it
      throw;
    }
  }

  // An object as seen by a list or an ADDED/MODIFIED event.
  void observe(const event_handler& h, const object_meta& m, std::string_view raw) {
    std::string key = known_set::make_key(m.namespace_name, m.name);
    std::optional<known_set::forgotten> replaced;
    auto t = known_.upsert(key, m.uid, m.resource_version, &replaced);
    if (replaced)
      deliver(h, event_type::deleted, m.namespace_name, m.name, replaced->uid,
              replaced->resource_version, {});
    if (t)
      deliver(h, *t, m.namespace_name, m.name, m.uid, m.resource_version, std::string(raw));
    else
      ++stats_.skipped;
  }

  asio::awaitable<void> relist(event_handler h) {
    for (int attempt = 0;; ++attempt) {
      known_.begin_sweep();
      std::string cont, list_rv;
      bool restart = false;
      unsigned limit = opts_.page_size;
      int failed_pages = 0;
      for (;;) {
        list_options lo{opts_.label_selector, opts_.field_selector, limit, cont, {}};
        std::optional<list_page> page;
        std::string failure;
        try {
          page = co_await read_list_page(cl_, res_, opts_.namespace_name, std::move(lo), limits(),
                                         on_list_item(h), on_oversize());
        } catch (const net::http_error& e) {
          if (consumer_failed_ || e.error_code() == asio::error::operation_aborted) throw;
          failure = e.what();
        }
        if (stopping_) co_return;
        if (page && page->how == list_page::end::refused && page->refused.gone() && !cont.empty() && attempt < 3) {
          // The continue token expired between pages: start over from a fresh snapshot.
          log::info("list continue token expired; listing again", {{"resource", what()}});
          restart = true;
          break;
        }
        if (page && page->how == list_page::end::complete) {
          // Grow back towards page_size once pages are comfortably under the byte budget (the
          // big objects that made it shrink may have been a few).
          if (limit < opts_.page_size && page->bytes * 4 < opts_.max_page_bytes) limit = std::min(opts_.page_size, limit * 2);
          failed_pages = 0;
          list_rv = std::move(page->meta.resource_version);
          cont = std::move(page->meta.continue_token);
          if (cont.empty()) break;
          continue;
        }
        // Refused, failed or too big: the same continue token again, with a smaller page. A
        // status that no page size cures (403, 404, 400...) or too many failures end the list.
        const unsigned status = page && page->how == list_page::end::refused ? page->refused.status : 0;
        const bool size_may_cure = status == 0 || status == 413 || status == 429 || status >= 500;
        if (!size_may_cure || ++failed_pages > 8) {
          if (page && status) throw kube_error(page->refused.error(), "list " + what());
          throw std::runtime_error("list " + what() + ": " + (failure.empty() ? "page too big" : failure));
        }
        const unsigned next = status == 429 ? limit : smaller_limit(limit, page ? *page : list_page{}, opts_.max_page_bytes);
        if (next != limit) ++stats_.smaller_pages;
        log::warn("list page failed; asking again", {{"resource", what()}, {"limit", std::to_string(limit)},
                  {"next_limit", std::to_string(next)},
                  {"error", status ? page->refused.error().message + " (" + std::to_string(status) + ")"
                               : failure.empty() ? "page over " + std::to_string(opts_.max_page_bytes) + " bytes" : failure}});
        limit = next;
        auto delay = page && page->retry_after.count() >= 0 ? page->retry_after : std::chrono::milliseconds(0);
        if (status == 429 || status >= 500 || !failure.empty())
          delay = std::max(delay, std::chrono::milliseconds(100 << std::min(failed_pages, 6)));
        if (delay.count() > 0 && !co_await pause(delay)) co_return;
      }
      if (restart) continue;
      for (auto& f : known_.end_sweep()) {
        auto [ns, name] = known_set::split_key(f.key);
        deliver(h, event_type::deleted, ns, name, f.uid, f.resource_version, {});
      }
      rv_ = std::move(list_rv);
      ++stats_.lists;
      co_return;
    }
  }

  page_limits limits() const {
    page_limits l;
    l.max_page_bytes = opts_.max_page_bytes;
    l.max_item_bytes = opts_.max_list_item_bytes;
    l.idle_timeout = cl_.options().request_timeout;
    return l;
  }

  list_splitter::item_fn on_list_item(const event_handler& h) {
    return [this, &h](const object_meta& m, std::string_view raw) { observe(h, m, raw); };
  }

  list_splitter::oversize_fn on_oversize() {
    return [this](const object_meta& m, std::size_t bytes) {
      ++stats_.oversize;
      log::error("listed object too big; skipped",
                 {{"resource", what()}, {"namespace", m.namespace_name}, {"name", m.name},
                  {"bytes", std::to_string(bytes)}, {"limit_bytes", std::to_string(opts_.max_list_item_bytes)},
                  {"key", "--max-list-item-mb"}});
    };
  }

  // Returns true when the stream asks for a relist.
  bool handle_line(const event_handler& h, std::string_view text, std::size_t readable_after, bool& progress) {
    if (!scanner_.parse_event(text, line_, readable_after)) return false;
    switch (line_.type) {
      case raw_event_type::bookmark:
        ++stats_.bookmarks;
        if (!line_.meta.resource_version.empty()) rv_ = line_.meta.resource_version;
        progress = true;
        return false;
      case raw_event_type::error:
        if (line_.status.code == 410) return true;
        throw kube_error(line_.status, "watch " + what());
      case raw_event_type::added:
      case raw_event_type::modified:
        observe(h, line_.meta, line_.object);
        break;
      case raw_event_type::deleted: {
        std::string key = known_set::make_key(line_.meta.namespace_name, line_.meta.name);
        if (known_.erase(key))
          deliver(h, event_type::deleted, line_.meta.namespace_name, line_.meta.name, line_.meta.uid,
                  line_.meta.resource_version, std::string(line_.object));
        else
          ++stats_.skipped;
        break;
      }
      case raw_event_type::unknown:
        log::warn("unknown watch event type ignored", {{"resource", what()}});
        return false;
    }
    if (!line_.meta.resource_version.empty()) rv_ = line_.meta.resource_version;
    progress = true;
    return false;
  }

  asio::awaitable<outcome> watch_once(event_handler h) {
    watch_request w;
    w.namespace_name = opts_.namespace_name;
    w.label_selector = opts_.label_selector;
    w.field_selector = opts_.field_selector;
    w.resource_version = rv_;
    if (opts_.timeout_seconds > 0) {
      std::uniform_int_distribution<int> d(opts_.timeout_seconds, 2 * opts_.timeout_seconds - 1);
      w.timeout_seconds = d(rng_);
    }
    ++stats_.watches;
    stream_progress_ = false;
    const auto opened = std::chrono::steady_clock::now();
    std::unique_ptr<net::response_stream> stream = co_await cl_.open_watch(res_, std::move(w));
    if (stopping_) co_return outcome::stopped;
    struct active_guard {
      impl* self;
      ~active_guard() { self->active_ = nullptr; }
    } guard{this};
    active_ = stream.get();

    std::string buf;
    if (stream->status() != 200) {
      // The body is a Status; read a bounded amount of it.
      while (buf.size() < 65536) {
        std::size_t n = co_await stream->read_some(buf, cl_.options().request_timeout);
        if (n == 0) break;
      }
      api_status st = decode_status(stream->status(), buf);
      if (st.code == 410 || stream->status() == 410) co_return outcome::gone;
      // Priority and fairness may refuse watches too; wait as long as the server asks.
      if (auto ra = parse_retry_after(header_value(stream->headers(), "Retry-After")); ra.count() > 0)
        retry_after_ = std::min(ra, opts_.backoff_max);
      throw kube_error(st, "watch " + what());
    }

    bool& progress = stream_progress_;
    std::size_t scan_from = 0;
    std::size_t skipping = 0;  // bytes of an oversize event dropped so far (0: none being dropped)
    std::string oversize_head;
    for (;;) {
      std::size_t n = co_await stream->read_some(buf, opts_.idle_timeout);
      if (stopping_) co_return outcome::stopped;
      if (n == 0)
        co_return progress || std::chrono::steady_clock::now() - opened >= std::chrono::seconds(1)
            ? outcome::ended
            : outcome::ended_early;
      if (skipping) {
        // Dropping an event over max_event_bytes up to its newline: skipped, never a stall.
        const std::size_t nl = buf.find('\n');
        skipping += nl == std::string::npos ? buf.size() : nl + 1;
        buf.erase(0, nl == std::string::npos ? buf.size() : nl + 1);
        scan_from = 0;
        if (nl == std::string::npos) continue;
        skipped_event(oversize_head, skipping);
        skipping = 0;
      }
      std::size_t start = 0;
      // Room for the parser's padding after the last byte: events are parsed where they lie.
      if (buf.capacity() < buf.size() + json_scanner::parse_padding) buf.reserve(buf.size() + json_scanner::parse_padding);
      for (;;) {
        std::size_t nl = buf.find('\n', scan_from);
        if (nl == std::string::npos) break;
        if (handle_line(h, std::string_view(buf).substr(start, nl - start), buf.capacity() - nl, progress))
          co_return outcome::gone;
        start = scan_from = nl + 1;
      }
      if (start > 0) buf.erase(0, start);
      scan_from = buf.size();
      if (buf.size() > opts_.max_event_bytes) {
        oversize_head = buf.substr(0, 64 * 1024);
        skipping = buf.size();
        buf.clear();
        buf.shrink_to_fit();
        scan_from = 0;
      }
    }
  }

  // An event over max_event_bytes was dropped: say which object it was (from the metadata in its
  // first 64 KiB, where the API server writes it) and move the resume point past it.
  void skipped_event(std::string_view head, std::size_t bytes) {
    ++stats_.oversize;
    const auto md = head.find("\"metadata\":{");
    auto field = [&](std::string_view key) -> std::string {
      if (md == std::string_view::npos) return {};
      const std::string pat = "\"" + std::string(key) + "\":\"";
      const auto p = head.find(pat, md);
      if (p == std::string_view::npos) return {};
      const auto b = p + pat.size();
      const auto e = head.find('"', b);
      return e == std::string_view::npos ? std::string() : std::string(head.substr(b, e - b));
    };
    auto rv = field("resourceVersion");
    log::error("watch event too big; skipped",
               {{"resource", what()}, {"namespace", field("namespace")}, {"name", field("name")},
                {"resource_version", rv}, {"bytes", std::to_string(bytes)},
                {"limit_bytes", std::to_string(opts_.max_event_bytes)}});
    if (!rv.empty()) rv_ = std::move(rv);
  }

  // Backoff pause that stop() can interrupt. Returns false when interrupted.
  asio::awaitable<bool> pause(std::chrono::milliseconds d) {
    timer_.expires_after(d);
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec && !stopping_;
  }
};

watcher::watcher(client& c, resource r, watcher_options o)
    : impl_(std::make_unique<impl>(c, std::move(r), std::move(o))) {}
watcher::~watcher() = default;

bool watcher::synced() const { return impl_->synced_; }
const std::string& watcher::resource_version() const { return impl_->rv_; }
std::size_t watcher::known_objects() const { return impl_->known_.size(); }
const watcher_stats& watcher::stats() const { return impl_->stats_; }

void watcher::stop() {
  impl_->stopping_ = true;
  impl_->timer_.cancel();
  if (impl_->active_) impl_->active_->close();
}

asio::awaitable<void> watcher::run(event_handler on_event, synced_handler on_synced) {
  impl& im = *impl_;
  // We look at the cancellation state ourselves so that cancellation ends run() normally.
  co_await asio::this_coro::throw_if_cancelled(false);
  im.stopping_ = false;
  im.consumer_failed_ = false;
  runtime::backoff bo(im.opts_.backoff_initial, im.opts_.backoff_max);
  // A watcher run again after stop() resumes from where it was (a 410 then relists and
  // reconciles); only the first run lists unconditionally.
  bool need_list = !im.synced_ || im.rv_.empty();
  int gone_in_a_row = 0;
  while (!im.stopping_) {
    std::string failure;
    std::optional<std::chrono::milliseconds> delay;
    im.stream_progress_ = false;
    try {
      if (need_list) {
        co_await im.relist(on_event);
        if (im.stopping_) break;
        need_list = false;
        if (!im.synced_) {
          im.synced_ = true;
          log::info("watch synced", {{"resource", im.what()},
                                     {"objects", std::to_string(im.known_.size())},
                                     {"resource_version", im.rv_}});
          if (on_synced) on_synced();
        }
      }
      outcome o = co_await im.watch_once(on_event);
      switch (o) {
        case outcome::stopped:
          break;
        case outcome::gone:
          ++im.stats_.gone;
          need_list = true;
          log::info("watch expired (410); relisting",
                    {{"resource", im.what()}, {"resource_version", im.rv_}});
          // A server that keeps answering 410 to a fresh list's version must not be hammered.
          if (++gone_in_a_row > 1) delay = bo.next();
          break;
        case outcome::ended:
          gone_in_a_row = 0;
          bo.reset();
          break;
        case outcome::ended_early:
          gone_in_a_row = 0;
          delay = bo.next();
          break;
      }
    } catch (const std::exception& e) {
      if (im.consumer_failed_) throw;
      failure = e.what();
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (im.stopping_ || cs.cancelled() != asio::cancellation_type::none) break;
    if (!failure.empty()) {
      ++im.stats_.failures;
      // A stream that worked for a while and then broke is not a failing server: reconnect
      // quickly (still jittered) instead of growing the backoff on every drop.
      if (im.stream_progress_) bo.reset();
      delay = std::max(bo.next(), im.retry_after_);
      im.retry_after_ = std::chrono::milliseconds(0);
      log::warn("watch failed; retrying",
                {{"resource", im.what()}, {"error", failure},
                 {"resource_version", im.rv_}, {"delay_ms", std::to_string(delay->count())}});
    }
    if (delay && !co_await im.pause(*delay)) break;
  }
  im.active_ = nullptr;
}

}  // namespace chainsd::kube
