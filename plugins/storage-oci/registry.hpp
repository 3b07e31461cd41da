#pragma once
// A session with one repository of one registry (Docker Registry HTTP API v2 / OCI distribution):
// ping and authentication (anonymous, Basic, Docker token auth from `WWW-Authenticate: Bearer`),
// blob existence, cross-repository mount, monolithic or chunked upload, manifest GET and PUT.
// Requests go through host::http() (the engine's pooled client: keep-alive, TLS verification).
//
// Ownership: the session references the host and the plugin instance's registry_cache; both
// outlive it. One session per push and repository; what can be shared between pushes (the scheme
// and challenge a registry answered its ping with, Bearer tokens until they expire, digests of
// blobs known to be in a repository) lives in the cache. Not thread-safe (the loop's).
// Errors carry the class the engine acts on: retryable (transport, 5xx, 429), unauthenticated
// (401/403 after authenticating), permanent (other statuses), each naming the registry and repo.

#include "credentials.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace storage_oci {

namespace plugin = chainsd::plugin;

struct session_options {
  bool allow_http = false;                 // try plain HTTP when HTTPS fails (insecure / loopback)
  std::size_t chunk_size = 0;              // blobs larger than this go up in PATCH chunks; 0 = never
  std::chrono::milliseconds timeout{30'000};  // per request
  bool pull_only = false;                  // reading only: ask token servers for pull, not push
};

// What a plugin instance learns about registries, shared by its sessions (one event loop).
struct registry_cache {
  // Per registry host[:port]: the scheme that answered GET /v2/ with 200 or 401, and the
  // WWW-Authenticate challenge of a 401 ("" = anonymous). Kept for the instance's lifetime; a 401
  // to a request made with it re-discovers (ping again) and retries that request once.
  struct host_state {
    std::string scheme;
    std::string challenge;
  };
  std::map<std::string, host_state> hosts;
  // Bearer tokens by realm, service, scopes and credentials, until shortly before they expire.
  struct token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, token> tokens;
  // "registry/repository@digest" of blobs pushed, mounted or seen (HEAD 200) in this process:
  // not asked again. Bounded; forgotten for a repository when it reports a manifest blob unknown.
  std::set<std::string> known_blobs;
  static constexpr std::size_t max_known_blobs = 4096;
  static constexpr std::size_t max_tokens = 256;
  void remember_blob(const std::string& key) {
    if (known_blobs.size() >= max_known_blobs) known_blobs.clear();
    known_blobs.insert(key);
  }
  void forget_blobs(const std::string& registry_repository) {
    auto prefix = registry_repository + "@";
    for (auto it = known_blobs.lower_bound(prefix); it != known_blobs.end() && it->rfind(prefix, 0) == 0;)
      it = known_blobs.erase(it);
  }
};

// Blobs at most this size (and not above the chunk size) that are not known to be in the
// repository are uploaded without a HEAD first: the signature and attestation layers and their
// config are new with every signature, and re-uploading an existing small blob is harmless.
inline constexpr std::size_t blind_upload_max = 1u << 20;

class registry_session {
 public:
  // `mount_from`: a repository of the same registry whose blobs may be mounted (empty = none).
  // `cache`: what earlier sessions of this plugin instance learnt (see registry_cache).
  registry_session(plugin::host& h, std::string registry, std::string repository, std::string mount_from,
                   std::optional<basic_credentials> creds, session_options opts, registry_cache& cache);

  // Authenticates as the registry asked last time (no request for anonymous and Basic, a cached
  // or new token for Bearer); pings /v2/ first when the registry is not known yet. Call first.
  boost::asio::awaitable<plugin::result<void>> authenticate();
  struct manifest_doc {
    std::string body;
    std::string media_type;  // the document's mediaType, else the response's Content-Type
  };
  // The manifest at a tag or digest; nullopt when it does not exist. `accept`: media types.
  boost::asio::awaitable<plugin::result<std::optional<manifest_doc>>> get_manifest(std::string reference,
                                                                                  std::string accept);
  // The OCI 1.1 referrers index of a digest; nullopt when the registry has no referrers API.
  boost::asio::awaitable<plugin::result<std::optional<std::string>>> referrers(std::string digest);
  // Makes sure the blob is in the repository: known → nothing; small and no mount source →
  // upload directly; else HEAD, then mount, else upload.
  boost::asio::awaitable<plugin::result<void>> ensure_blob(std::string digest, std::string content);
  // Returns the OCI-Subject response header ("" when the registry did not process a subject).
  boost::asio::awaitable<plugin::result<std::string>> put_manifest(std::string reference, std::string media_type,
                                                                   std::string body);

  std::string where() const { return registry_ + "/" + repository_; }
  std::size_t uploads() const { return uploads_; }
  // Forgets the blobs known in this repository (after the registry reported one unknown).
  void forget_known_blobs() { cache_.forget_blobs(where()); }
  // Whether ensure_blob skipped a blob because it was known (then a failed manifest PUT is worth
  // retrying after forget_known_blobs()).
  bool skipped_known_blobs() const { return skipped_known_; }

 private:
  boost::asio::awaitable<plugin::result<plugin::http_response>> send(std::string method, std::string url,
                                                                     plugin::header_list headers, std::string body);
  boost::asio::awaitable<plugin::result<plugin::http_response>> send_once(const std::string& method,
                                                                          const std::string& url,
                                                                          const plugin::header_list& headers,
                                                                          std::string body);
  boost::asio::awaitable<plugin::result<void>> discover();
  boost::asio::awaitable<plugin::result<void>> use_challenge(std::string challenge);
  boost::asio::awaitable<plugin::result<void>> fetch_token(std::string challenge);
  boost::asio::awaitable<plugin::result<void>> upload(std::string digest, std::string content);
  plugin::error status_error(std::string_view what, const plugin::http_response& r) const;
  std::string base() const { return scheme_ + "://" + registry_ + "/v2/" + repository_; }
  std::string absolute(std::string_view location) const;

  plugin::host& host_;
  std::string registry_;
  std::string repository_;
  std::string mount_from_;
  std::optional<basic_credentials> creds_;
  session_options opts_;
  registry_cache& cache_;
  std::string scheme_ = "https";
  std::string authorization_;  // header value once authenticated ("" = anonymous)
  std::string token_key_;      // the tokens entry authorization_ came from ("" = none)
  bool from_cache_ = false;    // authenticated from the cache, without a ping in this session
  bool skipped_known_ = false;
  std::size_t uploads_ = 0;
};

// Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`): the scheme lower-cased
// under key "", then each parameter.
std::map<std::string, std::string> parse_challenge(std::string_view header);

}  // namespace storage_oci
