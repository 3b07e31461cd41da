// One source, several deliberately good or broken plugins, chosen with -DVARIANT_*.
#include <chainsd/plugin/export.hpp>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

namespace test_plugin {

class echo_signer final : public chainsd::plugin::signer {
 public:
  explicit echo_signer(std::string prefix) : prefix_(std::move(prefix)) {}
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::signature_result>> sign(std::string message) override {
    co_return chainsd::plugin::signature_result{prefix_ + message, {}, {}};
  }
  std::string public_key_pem() const override { return "test-key"; }

 private:
  std::string prefix_;
};

class note_storage final : public chainsd::plugin::storage {
 public:
  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::store_result>> store(
      chainsd::plugin::store_request req) override {
    chainsd::plugin::store_result r;
    r.annotations["test/stored-" + req.short_key] = req.payload;
    if (!req.sigstore_bundle_json.empty()) r.annotations["test/bundle-" + req.short_key] = req.sigstore_bundle_json;
    co_return r;
  }
};

}  // namespace test_plugin

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::signer>> make_signer(
    chainsd::plugin::host&, const chainsd::plugin::config_map& cfg) {
#ifdef VARIANT_THROWING
  throw std::runtime_error("factory exploded");
#endif
  auto it = cfg.find("test.prefix");
  if (it != cfg.end() && it->second == "bad")
    return chainsd::plugin::fail(chainsd::plugin::errc::bad_config, "test.prefix: \"bad\" is not allowed");
  return std::make_unique<test_plugin::echo_signer>(it == cfg.end() ? "sig:" : it->second);
}

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_storage(
    chainsd::plugin::host&, const chainsd::plugin::config_map&) {
  return std::make_unique<test_plugin::note_storage>();
}

#if defined(VARIANT_BAD_MAGIC) || defined(VARIANT_WRONG_BUILD_ID) || defined(VARIANT_V1_DESCRIPTOR) || \
    defined(VARIANT_MISSING_FACTORY)
// Refused plugins must never be loaded: this would say so if dlopen ran the static initializers.
namespace {
struct static_init_marker {
  static_init_marker() { ::setenv("CHAINSD_TEST_STATIC_INIT_RAN", __FILE__, 1); }
} marker;
}  // namespace
#endif

#if defined(VARIANT_BAD_MAGIC)
extern "C" BOOST_SYMBOL_EXPORT const chainsd_plugin_descriptor_t chainsd_plugin_descriptor;
const chainsd_plugin_descriptor_t chainsd_plugin_descriptor = {0xdeadbeef, CHAINSD_PLUGIN_DESCRIPTOR_VERSION, sizeof(chainsd_plugin_descriptor_t), 0, "signer", "bad-magic", "1", CHAINSD_PLUGIN_BUILD_ID};
BOOST_DLL_ALIAS(make_signer, chainsd_plugin_factory)
#elif defined(VARIANT_WRONG_BUILD_ID)
extern "C" BOOST_SYMBOL_EXPORT const chainsd_plugin_descriptor_t chainsd_plugin_descriptor;
const chainsd_plugin_descriptor_t chainsd_plugin_descriptor = {CHAINSD_PLUGIN_MAGIC, CHAINSD_PLUGIN_DESCRIPTOR_VERSION, sizeof(chainsd_plugin_descriptor_t), 0, "signer", "old-build", "1", "0123456789abcdef0123456789abcdef"};
BOOST_DLL_ALIAS(make_signer, chainsd_plugin_factory)
#elif defined(VARIANT_V1_DESCRIPTOR)
// The version-1 layout: pointers, so the strings were readable only after dlopen.
struct v1_descriptor {
  std::uint32_t magic, descriptor_version;
  const char *kind, *name, *version, *build_id;
};
extern "C" BOOST_SYMBOL_EXPORT const v1_descriptor chainsd_plugin_descriptor;
const v1_descriptor chainsd_plugin_descriptor = {CHAINSD_PLUGIN_MAGIC, 1, "signer", "v1", "1", CHAINSD_PLUGIN_BUILD_ID};
BOOST_DLL_ALIAS(make_signer, chainsd_plugin_factory)
#elif defined(VARIANT_MISSING_FACTORY)
extern "C" BOOST_SYMBOL_EXPORT const chainsd_plugin_descriptor_t chainsd_plugin_descriptor;
const chainsd_plugin_descriptor_t chainsd_plugin_descriptor = {CHAINSD_PLUGIN_MAGIC, CHAINSD_PLUGIN_DESCRIPTOR_VERSION, sizeof(chainsd_plugin_descriptor_t), 0, "signer", "no-factory", "1", CHAINSD_PLUGIN_BUILD_ID};
#elif defined(VARIANT_NOT_A_PLUGIN)
extern "C" BOOST_SYMBOL_EXPORT int some_other_library_function() { return 1; }
#elif defined(VARIANT_STORAGE)
CHAINSD_STORAGE_PLUGIN("note", "1.0.0", make_storage)
#elif defined(VARIANT_THROWING)
CHAINSD_SIGNER_PLUGIN("throwing", "0.0.1", make_signer)
#else
// VARIANT_GOOD and VARIANT_DUPLICATE: both claim signer "echo".
CHAINSD_SIGNER_PLUGIN("echo", "1.2.3", make_signer)
#endif
