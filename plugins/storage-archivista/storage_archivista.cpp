// The archivista storage backend: the DSSE envelope of each in-toto attestation POSTed to
// <storage.archivista.url>/upload as upstream Tekton Chains sends it (same bytes, so the same
// gitoid), through the host's HTTP client. The gitoid Archivista answers is logged (upstream
// records nothing on the run either). See README.md.
#include "envelope.hpp"

#include <chainsd/plugin/export.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace storage_archivista {
namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::string_view url_key = "storage.archivista.url";

std::string excerpt(const std::string& body) {
  std::string s = body.substr(0, 200);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

class archivista_storage final : public plugin::storage {
 public:
  bool uses_unlogged_bundle() const override { return false; }
  archivista_storage(plugin::host& h, std::string base) : host_(h), base_(std::move(base)), upload_(base_ + "/upload") {}

  asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    const std::string who = req.run.namespace_name + "/" + req.run.name + " (" + req.short_key + ")";
    auto body = upload_body(req.signature);
    if (!body)
      co_return plugin::fail(plugin::errc::bad_config,
                             "archivista storage: " + who + ": " + body.error().message +
                                 "; remove archivista from artifacts." +
                                 (req.kind == plugin::artifact_kind::oci ? "oci" : "taskrun/pipelinerun") +
                                 ".storage or use an in-toto format");
    const std::string expected = gitoid_sha256(*body);
    plugin::http_request r;
    r.method = "POST";
    r.url = upload_;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = std::move(*body);
    r.timeout = 30s;
    r.replayable = true;  // content-addressed: the same bytes store the same object
    auto resp = co_await host_.http(std::move(r));
    if (!resp) {
      count("failed");
      const auto& m = resp.error().message;
      co_return plugin::fail(plugin::errc::retryable, "archivista storage: uploading " + who +
                                                          (m.find(upload_) == std::string::npos ? " to " + upload_ : "") +
                                                          ": " + m);
    }
    if (resp->status != 200) {
      count("failed");
      co_return classify(*resp, who);
    }
    std::string gitoid;
    boost::system::error_code ec;
    auto v = boost::json::parse(resp->body, ec);
    if (!ec && v.is_object())
      if (auto* g = v.get_object().if_contains("gitoid"); g && g->is_string()) gitoid = std::string(g->get_string());
    if (gitoid.empty()) {
      count("failed");
      co_return plugin::fail(plugin::errc::retryable,
                             "archivista storage: " + upload_ + " answered 200 without a gitoid: " + excerpt(resp->body));
    }
    count("stored");
    if (gitoid != expected)
      host_.log(plugin::log_level::warn, "archivista stored the envelope under another gitoid than its bytes give",
                {{"run", who}, {"gitoid", gitoid}, {"expected", expected}});
    host_.log(plugin::log_level::info, "stored in archivista",
              {{"run", who}, {"gitoid", gitoid}, {"download", base_ + "/download/" + gitoid}});
    co_return plugin::store_result{};
  }

 private:
  plugin::error classify(const plugin::http_response& r, const std::string& who) const {
    const std::string what = "archivista storage: uploading " + who + " to " + upload_ + " answered HTTP " +
                             std::to_string(r.status) + ": " + excerpt(r.body);
    if (r.status == 401 || r.status == 403) return plugin::fail(plugin::errc::unauthenticated, what);
    if (r.status == 404 || r.status == 405)
      return plugin::fail(plugin::errc::bad_config, what + "; is " + std::string(url_key) + " (" + base_ +
                                                        ") an Archivista server?");
    // Archivista answers 500 for every failure (its database away as much as an envelope it cannot
    // parse): retried, within the engine's bound.
    if (r.status == 408 || r.status == 429 || r.status >= 500) return plugin::fail(plugin::errc::retryable, what);
    return plugin::fail(plugin::errc::permanent, what);
  }

  void count(const char* result) {
    host_.count("chainsd_plugin_archivista_uploads_total", "Envelopes the archivista storage backend uploaded, by outcome",
                {{"result", result}});
  }

  plugin::host& host_;
  std::string base_;
  std::string upload_;
};

}  // namespace storage_archivista

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_archivista_storage(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  namespace plugin = chainsd::plugin;
  const std::string key(storage_archivista::url_key);
  std::string url;
  if (auto it = cfg.find(key); it != cfg.end()) url = it->second;
  while (!url.empty() && (url.back() == ' ' || url.back() == '/')) url.pop_back();
  while (!url.empty() && url.front() == ' ') url.erase(0, 1);
  if (url.empty()) return plugin::fail(plugin::errc::bad_config, key + " is not set: the archivista storage backend needs the server's URL");
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    return plugin::fail(plugin::errc::bad_config, key + ": \"" + url + "\" is not an http(s) URL");
  if (url.find_first_of("?# ") != std::string::npos)
    return plugin::fail(plugin::errc::bad_config, key + ": \"" + url + "\" must be a base URL (no query, fragment or spaces)");
  h.log(plugin::log_level::info, "archivista storage ready", {{"url", url}});
  return std::make_unique<storage_archivista::archivista_storage>(h, std::move(url));
}

CHAINSD_STORAGE_PLUGIN("archivista", "0.1.0", make_archivista_storage)
