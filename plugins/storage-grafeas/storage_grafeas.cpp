// The grafeas storage backend: upstream's notes and occurrences (see grafeas_json.hpp) written
// to Container Analysis through its REST API (grafeas.v1 over JSON) with the host's HTTP client,
// authenticated with google-auth's cached tokens (scope cloud-platform, as upstream). A note that
// exists already (409 ALREADY_EXISTS) is not an error. See README.md.
#include "credentials.hpp"
#include "grafeas_json.hpp"
#include "token_source.hpp"

#include <chainsd/plugin/export.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <set>

namespace storage_grafeas {
namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::string_view project_key = "storage.grafeas.projectid";
constexpr std::string_view scope = "https://www.googleapis.com/auth/cloud-platform";

struct settings {
  options opt;
  std::string endpoint;
  google_auth::credentials creds;
};

class grafeas_storage final : public plugin::storage {
 public:
  bool uses_unlogged_bundle() const override { return false; }
  grafeas_storage(plugin::host& h, settings s)
      : host_(h), s_(std::move(s)), tokens_(h, s_.creds, std::string(scope), "grafeas storage", std::string(project_key)) {}

  asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    const std::string who = req.run.namespace_name + "/" + req.run.name + " (" + req.short_key + ")";
    auto p = make_plan(s_.opt, req);
    if (!p) co_return plugin::fail(p.error().code, "grafeas storage: " + who + ": " + p.error().message);
    if (!notes_.count(p->note_name)) {
      const std::string url = base() + "/notes?noteId=" + google_auth::url_encode(p->n.id);
      auto r = co_await call(url, p->n.body, "creating note " + p->note_name);
      if (!r) co_return r.error();
      if (r->status != 200 && r->status != 409) co_return classify(*r, "creating note " + p->note_name, url);
      notes_.insert(p->note_name);  // created, or there already (AlreadyExists is not an error)
    }
    std::string names;
    for (std::size_t i = 0; i < p->occurrences.size(); ++i) {
      const std::string what = "creating the occurrence of " + p->note_name + " for " + p->resource_uris[i];
      auto r = co_await call(base() + "/occurrences", p->occurrences[i], what);
      if (!r) co_return r.error();
      if (r->status != 200) co_return classify(*r, what, base() + "/occurrences");
      boost::system::error_code ec;
      auto v = boost::json::parse(r->body, ec);
      if (!ec && v.is_object())
        if (auto* n = v.get_object().if_contains("name"); n && n->is_string())
          names += (names.empty() ? "" : ",") + std::string(n->get_string());
      count("occurrences");
    }
    host_.log(plugin::log_level::info, p->occurrences.empty() ? "no grafeas occurrence (no subject)" : "stored in grafeas",
              {{"run", who}, {"note", p->note_name}, {"occurrences", names}});
    co_return plugin::store_result{};
  }

 private:
  std::string base() const { return s_.endpoint + "/v1/projects/" + s_.opt.project; }

  // POSTs `body` (a refused token is replaced once, by the token source).
  asio::awaitable<plugin::result<plugin::http_response>> call(std::string url, std::string body, std::string what) {
    plugin::http_request req;
    req.method = "POST";
    req.url = std::move(url);
    req.headers = {{"Content-Type", "application/json"}};
    req.body = std::move(body);
    req.timeout = 30s;
    co_return co_await tokens_.send(std::move(req), std::move(what));
  }

  plugin::error classify(const plugin::http_response& r, const std::string& what, const std::string& url) {
    count("failed");
    const std::string msg = "grafeas storage: " + what + " (" + url + ") answered HTTP " + std::to_string(r.status) +
                            ": " + google_auth::error_text(r.body);
    if (r.status == 401 || r.status == 403)
      return plugin::fail(plugin::errc::unauthenticated,
                          msg + "; grant " + tokens_.principal() +
                              " roles/containeranalysis.notes.editor and roles/containeranalysis.occurrences.editor in "
                              "project \"" + s_.opt.project + "\" (" + std::string(project_key) + ")");
    if (r.status == 404)
      return plugin::fail(plugin::errc::bad_config, msg + "; check " + std::string(project_key) + " (\"" + s_.opt.project + "\")");
    if (r.status == 408 || r.status == 429 || r.status >= 500) return plugin::fail(plugin::errc::retryable, msg);
    return plugin::fail(plugin::errc::permanent, msg);
  }

  void count(const char* what) {
    host_.count("chainsd_plugin_grafeas_writes_total", "Occurrences the grafeas storage backend created, and failures",
                {{"result", what}});
  }

  plugin::host& host_;
  settings s_;
  google_auth::token_source tokens_;
  std::set<std::string> notes_;  // notes known to exist: created once per instance, not per store
};

}  // namespace storage_grafeas

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_grafeas_storage(
    chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg) {
  namespace plugin = chainsd::plugin;
  auto get = [&cfg](std::string_view k, std::string def = {}) {
    auto it = cfg.find(k);
    std::string v = it == cfg.end() ? std::string() : it->second;
    while (!v.empty() && (v.back() == ' ' || v.back() == '\n')) v.pop_back();
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    return v.empty() ? def : v;
  };
  storage_grafeas::settings s;
  s.opt.project = get(storage_grafeas::project_key);
  if (s.opt.project.empty())
    return plugin::fail(plugin::errc::bad_config, std::string(storage_grafeas::project_key) +
                                                      " is not set: the grafeas storage backend needs the project to write notes and occurrences to");
  if (s.opt.project.find_first_of("/?# ") != std::string::npos)
    return plugin::fail(plugin::errc::bad_config, std::string(storage_grafeas::project_key) + ": \"" + s.opt.project +
                                                      "\" is not a project id");
  s.opt.note_id = get("storage.grafeas.noteid");
  if (s.opt.note_id.find_first_of("/?# ") != std::string::npos)
    return plugin::fail(plugin::errc::bad_config, "storage.grafeas.noteid: \"" + s.opt.note_id + "\" is not a note id");
  s.opt.note_hint = get("storage.grafeas.notehint", "This attestation note was generated by Tekton Chains");
  s.opt.key_id = get("signers.kms.kmsref");
  s.endpoint = google_auth::process_env("CHAINSD_CONTAINERANALYSIS_ENDPOINT");
  if (s.endpoint.empty()) s.endpoint = "https://containeranalysis.googleapis.com";
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  auto c = google_auth::load_credentials(google_auth::process_env);
  if (!c) return c.error();
  s.creds = std::move(*c);
  h.log(plugin::log_level::info, "grafeas storage ready", {{"project", s.opt.project}, {"endpoint", s.endpoint}});
  return std::make_unique<storage_grafeas::grafeas_storage>(h, std::move(s));
}

CHAINSD_STORAGE_PLUGIN("grafeas", "0.1.0", make_grafeas_storage)
