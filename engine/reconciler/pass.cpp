#include "reconciler/pass.hpp"

#include "runtime/log.hpp"
#include "runtime/metrics.hpp"
#include "runtime/task_group.hpp"

#include <boost/asio/this_coro.hpp>

#include <utility>

namespace chainsd::reconciler {
namespace {

std::string run_name(const plugin::run_ref& r) { return r.namespace_name + "/" + r.name; }

// One artifact in one backend; records what it returned.
boost::asio::awaitable<void> store_one(plugin::storage* backend, plugin::store_request req, std::string value,
                                       std::string what, std::shared_ptr<run_progress> progress, std::string id,
                                       std::shared_ptr<pass_result> out) {
  auto r = co_await backend->store(std::move(req));
  if (!r) {
    out->failures.push_back({"storage", r.error().code, "storing " + what + " in " + value + ": " + r.error().message});
    co_return;
  }
  ++out->stored_count;
  progress->artifacts[id].stored[value] = std::move(r->annotations);
}

// The slot given back for the duration of one log call. Taken back by awaiting reclaim() (which
// waits for a free slot); when the log call throws (the pass is cancelled) at once instead.
class lent_slot {
 public:
  explicit lent_slot(slot_lender* s) : s_(s && s->lend() ? s : nullptr) {}
  ~lent_slot() {
    if (s_) s_->reclaim_now();
  }
  boost::asio::awaitable<void> reclaim() {
    if (auto* s = std::exchange(s_, nullptr)) co_await s->reclaim();
  }
  lent_slot(const lent_slot&) = delete;
  lent_slot& operator=(const lent_slot&) = delete;

 private:
  slot_lender* s_;
};

}  // namespace

boost::asio::awaitable<pass_result> sign_log_store(std::shared_ptr<plugin_set> set, plan p,
                                                   std::shared_ptr<run_progress> progress, slot_lender* slots) {
  // Shared with the store tasks, which may outlive this frame when the pass is cancelled.
  auto shared = std::make_shared<pass_result>();
  auto& out = *shared;
  out.failures = std::move(p.failures);
  const auto& cfg = *set->cfg;
  if (progress->config_version != cfg.version) {
    progress->artifacts.clear();
    progress->config_version = cfg.version;
  }
  const std::string run = run_name(p.ref);
  const std::string kind_lower = p.ref.kind == "TaskRun" ? "taskrun" : "pipelinerun";
  auto ex = co_await boost::asio::this_coro::executor;

  for (auto& a : p.artifacts) {
    const std::string id = a.id();
    // One copy of the payload, in the progress (kept for a retry); the plan's is released.
    const std::string& payload = [&]() -> const std::string& {
      auto& prog = progress->artifacts[id];
      if (prog.payload != a.payload) prog = artifact_progress{std::move(a.payload), {}, {}, {}};
      std::string().swap(a.payload);
      return prog.payload;
    }();
    const std::string what = a.what + " of " + run;

    // sign
    if (!progress->artifacts[id].signature) {
      auto sit = set->signers.find(a.art->signer);
      if (sit == set->signers.end()) {
        auto eit = set->signer_errors.find(a.art->signer);
        // A signer that could not be built is a config problem; "not found" here means the plugin
        // is not installed (not a key that may still appear: that is sign()'s not_found, which parks).
        const auto code = eit != set->signer_errors.end() && eit->second.code != plugin::errc::not_found
                              ? eit->second.code
                              : plugin::errc::bad_config;
        out.failures.push_back({"signing", code,
                                "signing " + what + ": signer " + a.art->signer + " is unavailable: " +
                                    (eit != set->signer_errors.end() ? eit->second.message : "not configured")});
        continue;
      }
      auto sig = co_await signing::sign_artifact(*sit->second, payload, a.dsse);
      if (!sig) {
        out.failures.push_back(
            {"signing", sig.error().code, "signing " + what + " with " + a.art->signer + ": " + sig.error().message});
        continue;
      }
      ++out.signed_count;
      progress->artifacts[id].signature = std::move(*sig);
    } else {
      ++out.reused_count;
    }
    const auto& sig = *progress->artifacts[id].signature;

    // log (and timestamp): Rekor v1 or v2, RFC 3161, as the config asks (engine/tlog/logger.hpp)
    const bool log_step = p.upload || (set->tlog && set->tlog->wants(false));
    if (log_step && !progress->artifacts[id].entry) {
      const std::string url = set->tlog ? set->tlog->log_url() : cfg.transparency.url;
      const std::string where = "uploading " + what + " to " + (url.empty() ? "the timestamp authority" : url);
      if (!set->tlog) {
        out.failures.push_back(
            {"tlog", plugin::errc::bad_config,
             where + ": " + (set->tlog_error.empty() ? "no transparency log client" : set->tlog_error)});
        continue;
      }
      tlog::log_request req;
      if (a.dsse) {
        req.envelope_json = sig.envelope;
      } else {
        req.payload = payload;
        req.signature = sig.signature;
      }
      req.public_key_pem = sig.public_key_pem;
      req.cert_pem = sig.cert_pem;
      req.key_hint = sig.key_id;
      req.upload = p.upload;
      req.signer_key = std::string(a.kind == plugin::artifact_kind::oci ? "artifacts.oci" : "artifacts." + kind_lower) +
                       ".signer";
      std::optional<failure> failed;
      lent_slot lent(slots);
      try {
        tlog::log_result entry = co_await set->tlog->log(std::move(req));
        co_await lent.reclaim();
        if (entry.log_version != 0)
          log::info("uploaded to transparency log", {{"run", run}, {"uid", p.ref.uid}, {"artifact", a.what},
                                                     {"log_index", std::to_string(entry.log_index)}});
        if (entry.log_version != 0) {
          ++out.uploaded_count;
          metrics::global()
              .get_counter("watcher_" + kind_lower + "_payload_uploaded_total", "Total number of uploaded payloads")
              .inc();
        }
        progress->artifacts[id].entry = std::move(entry);
      } catch (const tlog::tlog_error& e) {
        failed = failure{"tlog",
                         e.bad_config()  ? plugin::errc::bad_config
                         : e.permanent() ? plugin::errc::permanent
                                         : plugin::errc::retryable,
                         where + ": " + e.what()};
      } catch (const boost::system::system_error& e) {
        if (e.code() == boost::asio::error::operation_aborted) throw;  // the pass is cancelled
        failed = failure{"tlog", plugin::errc::retryable, where + ": " + e.what()};
      }
      co_await lent.reclaim();
      if (failed) {
        // Stored artifacts would lack their log entry; the retry stores them with it.
        out.failures.push_back(std::move(*failed));
        continue;
      }
    } else if (log_step) {
      ++out.reused_count;
    }

    // store, everywhere not yet done, concurrently
    const auto* entry = progress->artifacts[id].entry ? &*progress->artifacts[id].entry : nullptr;
    plugin::store_request base;
    base.kind = a.kind;
    base.run = p.ref;
    base.short_key = a.short_key;
    base.full_key = a.full_key;
    base.payload_format = a.format;
    base.payload = payload;
    base.signature = sig.stored_signature();
    base.cert_pem = sig.cert_pem;
    base.chain_pem = sig.chain_pem;
    base.public_key_pem = sig.public_key_pem;
    base.image = a.image;
    if (entry) {
      base.rekor_entry_json = entry->entry_json;
      base.sigstore_bundle_json = entry->bundle_json;
      base.log_entry = entry->entry;
    }
    std::vector<std::pair<const std::string*, plugin::storage*>> targets;
    bool wants_bundle = false;
    for (const auto& value : a.art->storage) {
      if (value.empty()) continue;
      if (progress->artifacts[id].stored.count(value)) {
        ++out.reused_count;
        continue;
      }
      auto name = storage_plugin_name(value, cfg);
      auto it = set->storages.find(name);
      if (it == set->storages.end()) {
        auto eit = set->storage_errors.find(name);
        out.failures.push_back(
            {"storage", eit != set->storage_errors.end() ? eit->second.code : plugin::errc::bad_config,
             "storing " + what + ": storage " + value + " is unavailable: " +
                 (eit != set->storage_errors.end() ? eit->second.message : "not configured")});
        continue;
      }
      targets.emplace_back(&value, it->second.get());
      wants_bundle = wants_bundle || it->second->uses_unlogged_bundle();
    }
    // Not logged nor timestamped: the signature alone, for the backends that store bundles.
    if (base.sigstore_bundle_json.empty() && wants_bundle)
      base.sigstore_bundle_json = tlog::sigstore_bundle_unlogged(
          {sig.envelope, a.payload, sig.signature}, {sig.cert_pem, sig.key_id});
    runtime::task_group group(ex);
    for (const auto& [value, storage] : targets)
      group.spawn(store_one(storage, base, *value, what, progress, id, shared));
    co_await group.wait();
  }

  // The run's annotations from every artifact stored so far, in plan order (a later one wins).
  for (const auto& a : p.artifacts) {
    auto it = progress->artifacts.find(a.id());
    if (it == progress->artifacts.end()) continue;
    for (const auto& value : a.art->storage) {
      auto s = it->second.stored.find(value);
      if (s == it->second.stored.end()) continue;
      for (const auto& [k, v] : s->second) out.annotations[k] = v;
    }
    if (it->second.entry && !it->second.entry->annotation.empty())
      out.annotations[std::string(transparency_annotation)] = it->second.entry->annotation;
  }
  co_return std::move(out);
}

}  // namespace chainsd::reconciler
