#include "bundle.hpp"

#include "layout.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace storage_oci {
namespace json = boost::json;
using chainsd::plugin::base64_decode;
using chainsd::plugin::base64_encode;

namespace {

std::string der_of_cert(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) throw std::invalid_argument("certificate is not PEM");
  unsigned char* der = nullptr;
  int n = i2d_X509(cert.get(), &der);
  if (n <= 0) throw std::invalid_argument("certificate cannot be encoded");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

std::string der_of_public_key(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  if (!key) throw std::invalid_argument("public key is not PEM");
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key.get(), &der);
  if (n <= 0) throw std::invalid_argument("public key cannot be encoded");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

std::string hex_to_bytes(std::string_view hex) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("not hex");
  };
  if (hex.size() % 2) throw std::invalid_argument("odd hex length");
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(nib(hex[i]) << 4 | nib(hex[i + 1]));
  return out;
}

// protojson writes int64 as a decimal string.
json::value int64_string(const json::value& v) {
  if (v.is_int64()) return json::value(std::to_string(v.get_int64()));
  if (v.is_uint64()) return json::value(std::to_string(v.get_uint64()));
  return v;
}

json::object verification_material(std::string_view cert_pem, std::string_view public_key_pem,
                                   std::string_view rekor_entry_json) {
  json::object vm;
  if (!cert_pem.empty()) {
    vm["certificate"] = json::object{{"rawBytes", base64_encode(der_of_cert(cert_pem))}};
  } else if (!public_key_pem.empty()) {
    auto digest = sha256_digest(der_of_public_key(public_key_pem));  // "sha256:<hex>"
    vm["publicKey"] = json::object{{"hint", base64_encode(hex_to_bytes(digest.substr(7)))}};
  } else {
    throw std::invalid_argument("neither a certificate nor a public key to put in the bundle");
  }
  if (auto t = tlog_entry(rekor_entry_json); !t.empty()) vm["tlogEntries"] = json::array{std::move(t)};
  return vm;
}

std::string bundle_json(json::object envelope, std::string_view cert_pem, std::string_view public_key_pem,
                        std::string_view rekor_entry_json) {
  json::object b;
  b["mediaType"] = bundle_type;
  b["verificationMaterial"] = verification_material(cert_pem, public_key_pem, rekor_entry_json);
  b["dsseEnvelope"] = std::move(envelope);
  return json::serialize(b);
}

}  // namespace

json::object tlog_entry(std::string_view rekor_entry_json) {
  json::value v;
  const json::object* e = rekor_entry_object(rekor_entry_json, v);
  if (!e) return {};
  auto* body = e->if_contains("body");
  auto* time = e->if_contains("integratedTime");
  auto* index = e->if_contains("logIndex");
  auto* log_id = e->if_contains("logID");
  if (!body || !body->is_string() || !time || !index || !log_id || !log_id->is_string()) return {};
  json::object t;
  t["logIndex"] = int64_string(*index);
  try {
    t["logId"] = json::object{{"keyId", base64_encode(hex_to_bytes(log_id->get_string()))}};
    // kindVersion comes from the entry body itself ({"apiVersion","kind",...}).
    auto decoded = json::parse(base64_decode(body->get_string()));
    auto& d = decoded.as_object();
    t["kindVersion"] = json::object{{"kind", d.at("kind")}, {"version", d.at("apiVersion")}};
  } catch (const std::exception&) {
    return {};
  }
  t["integratedTime"] = int64_string(*time);
  if (auto* ver = e->if_contains("verification"); ver && ver->is_object()) {
    if (auto* set = ver->get_object().if_contains("signedEntryTimestamp"); set && set->is_string())
      t["inclusionPromise"] = json::object{{"signedEntryTimestamp", *set}};
    if (auto* p = ver->get_object().if_contains("inclusionProof"); p && p->is_object()) {
      const auto& proof = p->get_object();
      json::object ip;
      try {
        ip["logIndex"] = int64_string(proof.at("logIndex"));
        ip["rootHash"] = base64_encode(hex_to_bytes(proof.at("rootHash").as_string()));
        ip["treeSize"] = int64_string(proof.at("treeSize"));
        json::array hashes;
        if (auto* hs = proof.if_contains("hashes"); hs && hs->is_array())
          for (const auto& h : hs->get_array()) hashes.push_back(json::value(base64_encode(hex_to_bytes(h.as_string()))));
        ip["hashes"] = std::move(hashes);
        if (auto* cp = proof.if_contains("checkpoint"); cp && cp->is_string())
          ip["checkpoint"] = json::object{{"envelope", *cp}};
        t["inclusionProof"] = std::move(ip);
      } catch (const std::exception&) {
        // An entry without a usable proof still carries its promise (SET).
      }
    }
  }
  t["canonicalizedBody"] = *body;
  return t;
}

std::string signature_bundle(std::string_view payload, std::string_view raw_signature, std::string_view cert_pem,
                             std::string_view public_key_pem, std::string_view rekor_entry_json) {
  json::object env;
  env["payload"] = base64_encode(payload);
  env["payloadType"] = simplesigning_type;
  env["signatures"] = json::array{json::object{{"sig", base64_encode(raw_signature)}}};
  return bundle_json(std::move(env), cert_pem, public_key_pem, rekor_entry_json);
}

std::string attestation_bundle(std::string_view envelope_json, std::string_view cert_pem,
                               std::string_view public_key_pem, std::string_view rekor_entry_json) {
  json::value v;
  try {
    v = json::parse(envelope_json);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("DSSE envelope is not JSON: ") + e.what());
  }
  if (!v.is_object()) throw std::invalid_argument("DSSE envelope is not a JSON object");
  const auto& in = v.get_object();
  auto* payload = in.if_contains("payload");
  auto* type = in.if_contains("payloadType");
  auto* sigs = in.if_contains("signatures");
  if (!payload || !payload->is_string() || !type || !type->is_string() || !sigs || !sigs->is_array())
    throw std::invalid_argument("DSSE envelope lacks payload, payloadType or signatures");
  json::object env;
  env["payload"] = *payload;
  env["payloadType"] = *type;
  json::array out_sigs;
  for (const auto& s : sigs->get_array()) {
    if (!s.is_object()) continue;
    json::object o;
    if (auto* sig = s.get_object().if_contains("sig")) o["sig"] = *sig;
    if (auto* kid = s.get_object().if_contains("keyid"); kid && kid->is_string() && !kid->get_string().empty())
      o["keyid"] = *kid;
    out_sigs.push_back(std::move(o));
  }
  env["signatures"] = std::move(out_sigs);
  return bundle_json(std::move(env), cert_pem, public_key_pem, rekor_entry_json);
}

std::string referrer_manifest(const json::object& subject, std::string_view layer_digest, std::size_t layer_size,
                              std::string_view predicate_type, std::string_view created) {
  json::object m;
  m["schemaVersion"] = 2;
  m["mediaType"] = oci_manifest_type;
  json::object cfg;
  cfg["mediaType"] = empty_config_type;
  cfg["size"] = 2;
  cfg["digest"] = sha256_digest("{}");
  cfg["artifactType"] = bundle_type;
  m["config"] = std::move(cfg);
  json::object layer;
  layer["mediaType"] = bundle_type;
  layer["size"] = layer_size;
  layer["digest"] = layer_digest;
  m["layers"] = json::array{std::move(layer)};
  // Go marshals map keys sorted.
  m["annotations"] = json::object{{"dev.sigstore.bundle.content", "dsse-envelope"},
                                  {"dev.sigstore.bundle.predicateType", predicate_type},
                                  {"org.opencontainers.image.created", created}};
  m["subject"] = subject;
  m["artifactType"] = bundle_type;
  return json::serialize(m);
}

}  // namespace storage_oci
