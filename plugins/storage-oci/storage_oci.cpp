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
#include <chainsd/plugin/task_group.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

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
    // Each request of a push has its own deadline, so the wait is bounded. If this run is
    // cancelled the wait cancels the pushes and throws; they end on their own and close() waits
    // for them, so the instance outlives them.
    auto results = std::make_shared<std::vector<plugin::result<void>>>(jobs->size());
    plugin::task_group group(host_.executor());
    for (std::size_t i = 0; i < jobs->size(); ++i)
      group.spawn(
          push_one(this, flight_token(in_flight_), results, i, std::move((*jobs)[i]), *creds, run_name(req.run)));
    co_await group.wait();
    for (auto& r : *results)
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
  bool uses_unlogged_bundle() const override { return pushes_.cfg.bundles; }

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

  // Counts a spawned push in in_flight_ from the spawn until its frame goes (run or not).
  class flight_token {
   public:
    explicit flight_token(std::size_t& n) : n_(&n) { ++*n_; }
    flight_token(flight_token&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
    flight_token& operator=(flight_token&&) = delete;
    ~flight_token() {
      if (n_) --*n_;
    }

   private:
    std::size_t* n_;
  };

  // One of several concurrent pushes: its result in (*results)[i]; an exception is a permanent
  // failure of that push.
  static boost::asio::awaitable<void> push_one(oci_storage* self, flight_token counted,
                                               std::shared_ptr<std::vector<plugin::result<void>>> results,
                                               std::size_t i, push_job job, credential_set creds, std::string run) {
    (void)counted;
    plugin::result<void> r = plugin::result<void>{};
    try {
      r = co_await push(&self->pushes_, std::move(job), std::move(creds), std::move(run));
    } catch (const std::exception& e) {
      r = plugin::fail(plugin::errc::permanent, std::string("oci storage: push failed: ") + e.what());
    }
    (*results)[i] = std::move(r);
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
