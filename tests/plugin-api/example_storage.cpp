// A third-party storage plugin, built outside the chainsd tree against the installed plugin-api
// only:  g++ -std=c++20 -shared -fPIC $(pkg-config --cflags chainsd-plugin-api) example_storage.cpp
// It records, on the run, which artifacts it saw (a stand-in for an audit log or a database).
#include <chainsd/plugin/encoding.hpp>
#include <chainsd/plugin/export.hpp>

namespace example {

class audit_storage final : public chainsd::plugin::storage {
 public:
  explicit audit_storage(chainsd::plugin::host& h) : host_(h) {}

  boost::asio::awaitable<chainsd::plugin::result<chainsd::plugin::store_result>> store(
      chainsd::plugin::store_request req) override {
    host_.log(chainsd::plugin::log_level::info, "example storage stored an artifact",
              {{"run", req.run.namespace_name + "/" + req.run.name}, {"key", req.short_key}});
    host_.count("chainsd_plugin_example_stored_total", "Artifacts the example plugin saw", {{"format", req.payload_format}});
    chainsd::plugin::store_result r;
    r.annotations["chains.tekton.dev/example-" + req.short_key] = std::to_string(req.payload.size());
    co_return r;
  }

 private:
  chainsd::plugin::host& host_;
};

}  // namespace example

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_example_storage(
    chainsd::plugin::host& h, const chainsd::plugin::config_map&) {
  return std::make_unique<example::audit_storage>(h);
}

CHAINSD_STORAGE_PLUGIN("example", "1.0.0", make_example_storage)
