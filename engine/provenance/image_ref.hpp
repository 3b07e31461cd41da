#pragma once
// Image references with go-containerregistry's name.NewDigest semantics, which Chains uses for
// every OCI subject: "busybox@sha256:..." names "index.docker.io/library/busybox", "docker.io"
// is an alias of "index.docker.io", a tag before the digest is dropped, and only sha256 digests
// with 64 lower-case hex characters are accepted.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace chainsd::provenance {

struct digest_ref {
  std::string repository;  // registry + "/" + repository path, e.g. "index.docker.io/library/busybox"
  std::string digest;      // "sha256:<64 hex>"

  std::string name() const { return repository + "@" + digest; }
  std::string hex() const { return digest.substr(7); }
};

// name.NewDigest: returns nullopt with `error` set when the reference is not "<repo>[:tag]@sha256:<hex>".
std::optional<digest_ref> parse_digest_ref(std::string_view text, std::string* error = nullptr);

// name.NewRepository(...).Name(): the normalized repository name, or nullopt.
std::optional<std::string> normalize_repository(std::string_view text, std::string* error = nullptr);

// Chains' artifacts.ParseDigest: "<alg>:<hex>" with sha256/sha384/sha512 (go-digest validation)
// or sha1 (40 lower-case hex). The algorithm is lower-cased and both parts are trimmed.
struct parsed_digest {
  std::string algorithm;
  std::string hex;
};
std::optional<parsed_digest> parse_digest(std::string_view text, std::string* error = nullptr);

}  // namespace chainsd::provenance
