// The docdb storage backend: each signed artifact upserted as upstream's document (document.hpp)
// into a MongoDB collection (storage.docdb.url = mongo://DB/COLLECTION?id_field=name), over
// OP_MSG on streams the host opens. The connection string comes from a file (watched: read again
// at most once a second when a store needs it, and a changed string means new connections), a
// config key or MONGO_SERVER_URL, with upstream's precedence (settings.hpp). See README.md.
#include "connection.hpp"
#include "document.hpp"
#include "server_error.hpp"
#include "settings.hpp"

#include <chainsd/plugin/export.hpp>

#include <cstdlib>

namespace storage_docdb {
namespace plugin = chainsd::plugin;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::size_t max_url_file = 64 * 1024;
constexpr std::size_t max_idle = 4;
constexpr auto recheck_every = 1s;

class docdb_storage final : public plugin::storage {
 public:
  bool uses_unlogged_bundle() const override { return false; }
  docdb_storage(plugin::host& h, collection_url coll, server_url_source src)
      : host_(h), coll_(std::move(coll)), src_(std::move(src)) {}

  // Reads and parses the connection string (from the file when there is one); false with the error kept.
  bool refresh(bool force) {
    if (!force && (src_.file.empty() || steady::now() - checked_ < recheck_every)) return !addr_error_;
    checked_ = steady::now();
    std::string text = src_.value;
    std::string from = src_.key;
    if (!src_.file.empty()) {
      from = src_.key + " (file " + src_.file + ")";
      auto f = host_.read_file(src_.file, max_url_file, src_.key);
      if (!f) {
        addr_error_ = plugin::fail(plugin::errc::bad_config,
                                   f.error().code == plugin::errc::not_found
                                       ? src_.key + ": " + src_.file + " does not exist (it should hold the MongoDB connection string)"
                                       : f.error().message);
        return false;
      }
      text = trim_file_text(*f);
      if (text == text_ && !addr_error_) return true;
    }
    auto a = parse_server_url(text, from);
    if (!a) {
      addr_error_ = a.error();
      return false;
    }
    const bool changed = generation_ > 0;
    text_ = std::move(text);
    addr_ = std::move(*a);
    addr_error_.reset();
    idle_.clear();
    ++generation_;
    if (!addr_.ignored_options.empty()) {
      std::string names;
      for (const auto& n : addr_.ignored_options) names += (names.empty() ? "" : ",") + n;
      host_.log(plugin::log_level::debug, "docdb: connection-string options not used by chainsd", {{"options", names}});
    }
    host_.log(plugin::log_level::info, changed ? "docdb: the MongoDB connection string changed, reconnecting" : "docdb storage ready",
              {{"collection", coll_.text}, {"server", addr_.redacted}, {"from", from}});
    return true;
  }

  asio::awaitable<plugin::result<plugin::store_result>> store(plugin::store_request req) override {
    const std::string who = req.run.namespace_name + "/" + req.run.name + " (" + req.short_key + ")";
    if (!refresh(false)) co_return *addr_error_;
    signed_artifact art{req.short_key, std::move(req.payload), std::move(req.signature), std::move(req.cert_pem),
                        std::move(req.chain_pem)};
    auto doc = signed_document(coll_, art, new_revision());
    if (!doc) co_return plugin::fail(doc.error().code, "docdb storage: " + who + ": " + doc.error().message);
    const std::string cmd = upsert_command(coll_, art.name, *doc);
    const server_address addr = addr_;
    const std::uint64_t gen = generation_;
    const std::string what = "docdb storage: storing " + who + " in " + coll_.text + " at " + addr.redacted;
    // The upsert replaces the whole document by _id: sending it twice is harmless, so a kept-alive
    // connection that fails is replaced by a fresh one once.
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<connection> c;
      if (attempt == 0 && !idle_.empty() && gen == generation_) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
      const bool reused = c != nullptr;
      if (!c) {
        auto o = co_await open_connection(host_, addr);
        if (!o) {
          count("failed");
          co_return plugin::fail(o.error().code, what + ": " + o.error().message);
        }
        c = std::move(*o);
      }
      auto reply = co_await c->run(cmd);
      if (!reply) {
        if (reused && reply.error().code == plugin::errc::retryable) continue;
        count("failed");
        co_return plugin::fail(reply.error().code, what + ": " + reply.error().message);
      }
      if (auto e = reply_error(*reply, what)) {
        count("failed");
        co_return *e;  // the connection is dropped: a node that stepped down is asked again afresh
      }
      const bson::value* n = reply->find("n");
      if (!n || !n->is_number() || n->as_double() != 1) {
        count("failed");
        co_return plugin::fail(plugin::errc::retryable, what + ": the server matched or upserted no document");
      }
      if (gen == generation_ && idle_.size() < max_idle) idle_.push_back(std::move(c));  // re-checked after the awaits
      count("stored");
      host_.log(plugin::log_level::debug, "stored in docdb", {{"run", who}, {"collection", coll_.text}});
      co_return plugin::store_result{};
    }
  }

  const std::optional<plugin::error>& error() const { return addr_error_; }

  asio::awaitable<void> close() override {
    idle_.clear();
    co_return;
  }

 private:
  void count(const char* result) {
    host_.count("chainsd_plugin_docdb_writes_total", "Documents the docdb storage backend upserted, by outcome",
                {{"result", result}});
  }

  plugin::host& host_;
  collection_url coll_;
  server_url_source src_;
  std::string text_;
  server_address addr_;
  std::optional<plugin::error> addr_error_;
  std::uint64_t generation_ = 0;
  steady::time_point checked_{};
  std::vector<std::unique_ptr<connection>> idle_;
};

}  // namespace storage_docdb

chainsd::plugin::result<std::unique_ptr<chainsd::plugin::storage>> make_docdb_storage(chainsd::plugin::host& h,
                                                                                      const chainsd::plugin::config_map& cfg) {
  namespace plugin = chainsd::plugin;
  using namespace storage_docdb;
  std::string url;
  if (auto it = cfg.find(url_key); it != cfg.end()) url = it->second;
  auto coll = parse_collection_url(url);
  if (!coll) return coll.error();
  std::optional<std::string> env;
  if (const char* e = std::getenv(std::string(server_url_env).c_str())) env = e;
  auto src = pick_server_url(cfg, env);
  if (!src) return src.error();
  const bool from_file = !src->file.empty();
  auto s = std::make_unique<docdb_storage>(h, std::move(*coll), std::move(*src));
  // A bad string in a config value or the environment is the config's fault now; a file that is
  // missing or wrong may be fixed while we run, so it is reported by each store until it is.
  if (!s->refresh(true)) {
    if (!from_file) return *s->error();
    h.log(plugin::log_level::warn, "docdb: the MongoDB connection string is not usable yet", {{"reason", s->error()->message}});
  }
  return std::unique_ptr<plugin::storage>(std::move(s));
}

CHAINSD_STORAGE_PLUGIN("docdb", "1.0.0", make_docdb_storage)
