#pragma once
// Sigstore's client trust files, as cosign v3 takes them (--signing-config, --trusted-root):
// signing_config.v0.2.json names the services to use (Rekor logs with their API version, RFC 3161
// timestamp authorities, Fulcio), trusted_root.json the keys and certificates their answers are
// verified with (protobuf-specs sigstore_trustroot.proto, protobuf JSON). Pure: parsing and
// service selection; the caller reads the files.

#include <cstdint>
#include <ctime>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog {

// A malformed file or an unsatisfiable selection; the message names the field.
class trust_config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct validity {
  std::time_t start = 0;
  std::optional<std::time_t> end;
  bool contains(std::time_t t) const { return t >= start && (!end || t <= *end); }
};

struct service {
  std::string url;
  unsigned major_api_version = 0;
  validity valid_for;
  std::string operator_name;
};

struct service_selection {
  enum class selector { all, any, exact } kind = selector::any;
  unsigned count = 0;
};

struct signing_config {
  std::vector<service> ca_urls, oidc_urls, rekor_tlog_urls, tsa_urls;
  service_selection rekor_tlog_config, tsa_config;
};

// Throws trust_config_error. Accepts media type ...signingconfig.v0.2+json only (v0.1 has no
// API versions, which choosing between Rekor v1 and v2 needs).
signing_config parse_signing_config(std::string_view json);

// The services to use, as protobuf-specs prescribes: valid at `now`, of the highest API version
// in `supported`, newest start first, at most one per operator, as many as `sel` asks (ANY: one;
// EXACT: count; ALL: every operator). Empty when none is valid; throws trust_config_error when
// EXACT asks for more than there are.
std::vector<service> select_services(const std::vector<service>& list, const std::set<unsigned>& supported,
                                     const service_selection& sel, std::time_t now);

struct tlog_instance {
  std::string base_url;
  std::string public_key_pem;  // from publicKey.rawBytes (SubjectPublicKeyInfo DER)
  std::string key_details;
  validity valid_for;
  std::string log_id;             // raw bytes; may be empty
  std::string checkpoint_key_id;  // raw bytes; may be empty
  std::string operator_name;
};

struct certificate_authority {
  std::string uri;
  std::string chain_pem;  // certChain.certificates as PEM, in order (leaf first, anchor last)
  validity valid_for;
  std::string operator_name;
};

struct trusted_root {
  std::vector<tlog_instance> tlogs;
  std::vector<certificate_authority> certificate_authorities;
  std::vector<certificate_authority> timestamp_authorities;
};

// Throws trust_config_error.
trusted_root parse_trusted_root(std::string_view json);

// The log instance for `url` (scheme, host and path; trailing slashes ignored), or null.
const tlog_instance* find_tlog(const trusted_root& root, std::string_view url);

// RFC 3339 (protobuf JSON Timestamp) to Unix seconds. Throws trust_config_error.
std::time_t parse_rfc3339(std::string_view text);

}  // namespace chainsd::tlog
