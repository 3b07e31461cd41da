// The oci storage backend: image signatures and in-toto attestations in the image's registry with
// cosign's tag layout (sha256-<hex>.sig / .att), readable by `cosign verify` and
// `cosign verify-attestation`, or as Sigstore bundle referrers. Writes nothing on the run (empty
// annotations). The plugin: requests → push jobs (jobs.cpp), credentials, concurrent pushes.
#include "account_credentials.hpp"
#include "index_walk.hpp"
#include "jobs.hpp"
#include "push.hpp"
#include "settings.hpp"

#include <chainsd/plugin/export.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>

namespace storage_oci {

class oci_storage final : public plugin::storage {
 public:
  oci_storage(plugin::host& h, settings s)
      : host_(h), accounts_(h, s.credentials_ttl), pushes_(h, std::move(s)) {}

  boost::asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    auto jobs = push_jobs(req, pushes_.cfg.bundles);
    if (!jobs) co_return jobs.error();
    if (jobs->empty()) {
      host_.log(plugin::log_level::info, "no image subject to attest; nothing stored in a registry",
                {{"run", run_name(req.run)}, {"uid", req.run.uid}});
      co_return plugin::store_result{};
    }
    auto creds = co_await run_credentials(req.run);
    if (!creds) co_return creds.error();
    if (jobs->size() == 1) {
      auto r = co_await push(&pushes_, std::move(jobs->front()), *creds, run_name(req.run));
      if (!r) co_return r.error();
      co_return plugin::store_result{};
    }
    // Several image subjects: push them concurrently (the host's client pools the connections).
    struct join_state {
      std::size_t remaining = 0;
      std::vector<plugin::result<void>> results;
      boost::asio::steady_timer done;
      explicit join_state(boost::asio::any_io_executor ex) : done(ex, boost::asio::steady_timer::time_point::max()) {}
    };
    auto state = std::make_shared<join_state>(host_.executor());
    state->remaining = jobs->size();
    state->results.resize(jobs->size());
    for (std::size_t i = 0; i < jobs->size(); ++i) {
      auto finished = [this, state, i](std::exception_ptr e, plugin::result<void> r) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            r = plugin::fail(plugin::errc::permanent, std::string("oci storage: push failed: ") + ex.what());
          } catch (...) {
            r = plugin::fail(plugin::errc::permanent, "oci storage: push failed with an unknown exception");
          }
        }
        --in_flight_;
        state->results[i] = std::move(r);
        if (--state->remaining == 0) state->done.cancel();
      };
      ++in_flight_;
      boost::asio::co_spawn(host_.executor(), push(&pushes_, std::move((*jobs)[i]), *creds, run_name(req.run)),
                            std::move(finished));
    }
    // Each request of a push has its own deadline, so this wait is bounded. If this run is
    // cancelled the wait throws and the pushes finish on their own: close() waits for them, so
    // the instance outlives them.
    while (state->remaining > 0) {
      auto waited = co_await state->done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      (void)waited;
    }
    for (auto& r : state->results)
      if (!r) co_return r.error();
    co_return plugin::store_result{};
  }

  // Pushes spawned for several subjects may outlive a cancelled store(): wait for them.
  boost::asio::awaitable<void> close() override {
    boost::asio::steady_timer poll(host_.executor());
    while (in_flight_ > 0) {
      poll.expires_after(std::chrono::milliseconds(50));
      auto waited = co_await poll.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      (void)waited;
    }
  }

  bool reads_image_indexes() const override { return true; }

  // From the image's repository, with the run's credentials (index_walk.hpp).
  boost::asio::awaitable<plugin::result<std::vector<std::string>>> index_manifests(plugin::run_ref run,
                                                                                   std::string image) override {
    const std::string rn = run_name(run);
    image_ref ref;
    try {
      ref = parse_reference(image, true);
    } catch (const std::invalid_argument& e) {
      co_return plugin::fail(plugin::errc::permanent, "oci storage: image of " + rn + " is not a digest reference: " + e.what());
    }
    auto creds = co_await run_credentials(std::move(run));
    if (!creds) co_return creds.error();
    auto r = co_await storage_oci::index_manifests(&pushes_, std::move(ref), std::move(*creds), rn);
    co_return r;
  }

 private:
  // The run's service-account credentials first, then the mounted docker config's.
  boost::asio::awaitable<plugin::result<credential_set>> run_credentials(plugin::run_ref run) {
    auto creds = co_await accounts_.get(std::move(run));
    if (creds) creds->merge(pushes_.cfg.file_creds);
    co_return creds;
  }

  static boost::asio::awaitable<plugin::result<void>> push(pushes* p, push_job job, credential_set creds,
                                                           std::string run) {
    if (job.referrer) {
      auto r = co_await push_referrer(p, std::move(job), std::move(creds), std::move(run));
      co_return r;
    }
    auto r = co_await push_tag(p, std::move(job), std::move(creds), std::move(run));
    co_return r;
  }

  plugin::host& host_;
  account_credentials accounts_;
  pushes pushes_;
  std::size_t in_flight_ = 0;  // spawned subject pushes not finished yet
};

}  // namespace storage_oci

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_oci_storage(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  auto s = storage_oci::parse_settings(h, cfg);
  if (!s) return s.error();
  return std::make_unique<storage_oci::oci_storage>(h, std::move(*s));
}

CHAINSD_STORAGE_PLUGIN("oci", "0.1.0", make_oci_storage)
