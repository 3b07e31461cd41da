#pragma once
// A session with one repository of one registry (Docker Registry HTTP API v2 / OCI distribution):
// ping and authentication (anonymous, Basic, Docker token auth from `WWW-Authenticate: Bearer`),
// blob existence, cross-repository mount, monolithic or chunked upload, manifest GET and PUT.
// Requests go through host::http() (the engine's pooled client: keep-alive, TLS verification).
//
// Ownership: the session references the host and the scheme cache; both outlive it. One session
// per store call and repository: tokens are not kept between runs. Not thread-safe (the loop's).
// Errors carry the class the engine acts on: retryable (transport, 5xx, 429), unauthenticated
// (401/403 after authenticating), permanent (other statuses), each naming the registry and repo.

#include "credentials.hpp"

#include <chainsd/plugin/host.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace storage_oci {

namespace plugin = chainsd::plugin;

struct session_options {
  bool allow_http = false;                 // try plain HTTP when HTTPS fails (insecure / loopback)
  std::size_t chunk_size = 0;              // blobs larger than this go up in PATCH chunks; 0 = never
  std::chrono::milliseconds timeout{30'000};  // per request
  bool pull_only = false;                  // reading only: ask token servers for pull, not push
};

class registry_session {
 public:
  // `mount_from`: a repository of the same registry whose blobs may be mounted (empty = none).
  // `schemes`: registry → "https"/"http" learnt by earlier pings of this plugin instance.
  registry_session(plugin::host& h, std::string registry, std::string repository, std::string mount_from,
                   std::optional<basic_credentials> creds, session_options opts,
                   std::map<std::string, std::string>& schemes);

  // Pings /v2/ and obtains a token when the registry asks for one. Call first.
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
  // Makes sure the blob is in the repository: HEAD, else mount, else upload.
  boost::asio::awaitable<plugin::result<void>> ensure_blob(std::string digest, std::string content);
  // Returns the OCI-Subject response header ("" when the registry did not process a subject).
  boost::asio::awaitable<plugin::result<std::string>> put_manifest(std::string reference, std::string media_type,
                                                                   std::string body);

  std::string where() const { return registry_ + "/" + repository_; }
  std::size_t uploads() const { return uploads_; }

 private:
  boost::asio::awaitable<plugin::result<plugin::http_response>> send(std::string method, std::string url,
                                                                     plugin::header_list headers, std::string body);
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
  std::map<std::string, std::string>& schemes_;
  std::string scheme_ = "https";
  std::string authorization_;  // header value once authenticated ("" = anonymous)
  std::size_t uploads_ = 0;
};

// Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`): the scheme lower-cased
// under key "", then each parameter.
std::map<std::string, std::string> parse_challenge(std::string_view header);

}  // namespace storage_oci
