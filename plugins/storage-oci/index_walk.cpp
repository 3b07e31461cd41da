#include "index_walk.hpp"

#include <optional>
#include <set>

namespace storage_oci {

namespace {

// The entries of the manifest `digest` when it is an index, nullopt for an image manifest.
// `session` is borrowed: the caller awaits this directly.
boost::asio::awaitable<plugin::result<std::optional<std::vector<index_entry>>>> read_index(registry_session* session,
                                                                                          std::string digest) {
  auto m = co_await session->get_manifest(digest, std::string(any_manifest));
  if (!m) co_return m.error();
  if (!*m) co_return plugin::fail(plugin::errc::permanent, "manifest " + digest + " does not exist");
  // A registry (or a proxy) answering other bytes must not make us sign what it chose.
  if (auto got = sha256_digest((*m)->body); got != digest)
    co_return plugin::fail(plugin::errc::permanent,
                           "the registry answered manifest " + digest + " with a document of digest " + got);
  if (!is_index_type((*m)->media_type)) co_return std::optional<std::vector<index_entry>>();
  try {
    co_return std::optional<std::vector<index_entry>>(index_entries((*m)->body));
  } catch (const std::invalid_argument& e) {
    co_return plugin::fail(plugin::errc::permanent, "index " + digest + ": " + e.what());
  }
}

}  // namespace

boost::asio::awaitable<plugin::result<std::vector<std::string>>> index_manifests(pushes* p, image_ref ref,
                                                                                 credential_set creds,
                                                                                 std::string rn) {
  plugin::host& host = p->host;
  session_options opts;
  opts.allow_http = p->cfg.allow_http(ref.registry);
  opts.pull_only = true;
  registry_session session(host, ref.registry, ref.repository, "", creds.find(ref.registry), opts, p->cache);
  auto failed = [&](const plugin::error& e) {
    host.count("chainsd_plugin_oci_index_reads_total", "Images read to list the manifests of an index, by outcome",
               {{"result", plugin::to_string(e.code)}});
    return plugin::fail(e.code, "oci storage: listing the manifests of " + ref.str() + " (" + rn + ") in " +
                                    session.where() + ": " + e.message);
  };
  auto auth = co_await session.authenticate();
  if (!auth) co_return failed(auth.error());

  auto root = co_await read_index(&session, ref.digest);
  if (!root) co_return failed(root.error());
  std::vector<std::string> out;
  if (!*root) {
    host.count("chainsd_plugin_oci_index_reads_total", "Images read to list the manifests of an index, by outcome",
               {{"result", "manifest"}});
    co_return out;
  }
  // Bounds against a hostile or broken registry (digests make cycles impossible, not size).
  constexpr std::size_t max_depth = 8, max_manifests = 1000;
  struct frame {
    std::vector<index_entry> entries;
    std::size_t next = 0;
  };
  std::vector<frame> stack{frame{std::move(**root)}};
  std::set<std::string> seen{ref.digest};
  while (!stack.empty()) {
    if (stack.back().next == stack.back().entries.size()) {
      stack.pop_back();
      continue;
    }
    index_entry entry = stack.back().entries[stack.back().next++];
    if (!is_sha256_digest(entry.digest)) {
      host.log(plugin::log_level::warn, "manifest of an index not signed: only sha256 digests are supported",
               {{"run", rn}, {"image", ref.str()}, {"digest", entry.digest}});
      continue;
    }
    if (!seen.insert(entry.digest).second) continue;
    out.push_back(entry.digest);
    if (out.size() > max_manifests)
      co_return failed(plugin::fail(plugin::errc::permanent,
                                    "the index lists more than " + std::to_string(max_manifests) + " manifests"));
    if (!entry.index) continue;
    if (stack.size() >= max_depth)
      co_return failed(plugin::fail(plugin::errc::permanent,
                                    "indexes nested deeper than " + std::to_string(max_depth) + " levels"));
    auto nested = co_await read_index(&session, entry.digest);
    if (!nested) co_return failed(nested.error());
    if (*nested) stack.push_back(frame{std::move(**nested)});
  }
  host.log(plugin::log_level::info, "image index read",
           {{"run", rn}, {"image", ref.str()}, {"manifests", std::to_string(out.size())}});
  host.count("chainsd_plugin_oci_index_reads_total", "Images read to list the manifests of an index, by outcome",
             {{"result", "index"}});
  co_return out;
}

}  // namespace storage_oci
