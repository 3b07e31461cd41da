// The tekton storage backend: payload, signature, certificate and chain as base64 annotations on
// the run, with upstream's names (chains.tekton.dev/{payload,signature,cert,chain}-<short key>).
// It returns the annotations instead of patching: the engine writes them in its one patch per run.
#include <chainsd/plugin/encoding.hpp>
#include <chainsd/plugin/export.hpp>

namespace storage_tekton {
namespace plugin = chainsd::plugin;

class tekton_storage final : public plugin::storage {
 public:
  bool uses_unlogged_bundle() const override { return false; }
  boost::asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    if (req.short_key.empty())
      co_return plugin::fail(plugin::errc::permanent, "tekton storage: empty storage key for " +
                                                          req.run.namespace_name + "/" + req.run.name);
    const std::string prefix = "chains.tekton.dev/";
    plugin::store_result r;
    // Upstream writes all four, empty cert/chain included (base64 of nothing is "").
    r.annotations[prefix + "payload-" + req.short_key] = plugin::base64_encode(req.payload);
    r.annotations[prefix + "signature-" + req.short_key] = plugin::base64_encode(req.signature);
    r.annotations[prefix + "cert-" + req.short_key] = plugin::base64_encode(req.cert_pem);
    r.annotations[prefix + "chain-" + req.short_key] = plugin::base64_encode(req.chain_pem);
    co_return r;
  }
};

}  // namespace storage_tekton

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_tekton_storage(
    chainsd::plugin::host&, const chainsd::plugin::config_map&) {
  return std::make_unique<storage_tekton::tekton_storage>();
}

CHAINSD_STORAGE_PLUGIN("tekton", "0.1.0", make_tekton_storage)
