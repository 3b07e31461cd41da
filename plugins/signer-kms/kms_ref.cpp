#include "kms_ref.hpp"

#include "pkcs11_uri.hpp"

#include <regex>

namespace signer_kms {

const char* to_string(provider p) noexcept {
  switch (p) {
    case provider::hashivault: return "hashivault";
    case provider::awskms: return "awskms";
    case provider::gcpkms: return "gcpkms";
    case provider::azurekms: return "azurekms";
    case provider::pkcs11: return "pkcs11";
  }
  return "?";
}

namespace {

parse_outcome bad(std::string_view text, const char* form) {
  return {std::nullopt, "signers.kms.kmsref: invalid value \"" + std::string(text) + "\", wanted " + form};
}

// As sigstore's awskms client: a key id (UUID, or a multi-region mrk- id), a key ARN, an alias
// name or an alias ARN, after an optional endpoint (host[:port]).
const std::string aws_uuid = "m?r?k?-?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}";
const std::string aws_arn = "arn:(?:aws|aws-us-gov|aws-cn):kms:([a-z0-9-]+):[0-9]{12}:";

parse_outcome parse_aws(std::string_view text) {
  static const std::regex key_id("^awskms://([^/]*)/(" + aws_uuid + ")$");
  static const std::regex key_arn("^awskms://([^/]*)/(" + aws_arn + "key/" + aws_uuid + ")$");
  static const std::regex alias_name("^awskms://([^/]*)/(alias/.*)$");
  static const std::regex alias_arn("^awskms://([^/]*)/(" + aws_arn + "alias/.*)$");
  const std::string s(text);
  std::smatch m;
  kms_ref r;
  r.kind = provider::awskms;
  if (std::regex_match(s, m, key_arn) || std::regex_match(s, m, alias_arn)) {
    r.endpoint = m[1];
    r.key = m[2];
    r.region = m[3];
  } else if (std::regex_match(s, m, key_id) || std::regex_match(s, m, alias_name)) {
    r.endpoint = m[1];
    r.key = m[2];
  } else {
    return bad(text, "awskms://[ENDPOINT]/KEY-ID, awskms://[ENDPOINT]/alias/NAME or awskms://[ENDPOINT]/ARN");
  }
  return {r, {}};
}

}  // namespace

parse_outcome parse_kms_ref(std::string_view text) {
  const std::string s(text);
  std::smatch m;
  if (s.rfind("hashivault://", 0) == 0) {
    static const std::regex re(R"(^hashivault://(\w(([\w\-.]+)?\w)?)$)");
    if (!std::regex_match(s, m, re)) return bad(text, "hashivault://KEY (letters, digits, _ - .)");
    return {kms_ref{provider::hashivault, m[1], {}, {}, {}}, {}};
  }
  if (s.rfind("awskms://", 0) == 0) return parse_aws(text);
  if (s.rfind("gcpkms://", 0) == 0) {
    static const std::regex re(
        "^gcpkms://(projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+)(?:/(?:cryptoKeyVersions|versions)/([^/]+))?$");
    if (!std::regex_match(s, m, re))
      return bad(text, "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/N]");
    return {kms_ref{provider::gcpkms, m[1], {}, {}, m[2]}, {}};
  }
  if (s.rfind("azurekms://", 0) == 0) {
    static const std::regex re("^azurekms://([^/]+)/([^/]+)(?:/([a-z0-9]*))?$");  // sigstore's grammar
    if (!std::regex_match(s, m, re)) return bad(text, "azurekms://VAULT-HOST/KEY[/VERSION]");
    return {kms_ref{provider::azurekms, m[2], m[1], {}, m[3]}, {}};
  }
  if (s.rfind("pkcs11:", 0) == 0) {
    auto u = parse_pkcs11_uri(text);
    if (!u.uri) return {std::nullopt, u.error};
    return {kms_ref{provider::pkcs11, s, {}, {}, {}}, {}};
  }
  return bad(text, "a reference starting with hashivault://, awskms://, gcpkms://, azurekms:// or pkcs11:");
}

}  // namespace signer_kms
