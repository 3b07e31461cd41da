#include "fulcio_api.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cctype>

namespace signer_x509 {
namespace json = boost::json;
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string string_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<std::chrono::system_clock::time_point> time_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_number()) return std::nullopt;
  boost::system::error_code ec;
  auto secs = v->to_number<double>(ec);
  if (ec) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::seconds(static_cast<long long>(secs)));
}

}  // namespace

token_claims parse_token(std::string_view jwt_in) {
  std::string jwt = trim(jwt_in);
  auto d1 = jwt.find('.');
  auto d2 = d1 == std::string::npos ? d1 : jwt.find('.', d1 + 1);
  if (d2 == std::string::npos) throw token_error("the identity token is not a JWT (header.payload.signature)");
  std::string payload = jwt.substr(d1 + 1, d2 - d1 - 1);
  for (auto& c : payload) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  std::string decoded;
  try {
    decoded = chainsd::plugin::base64_decode(payload);
  } catch (const std::exception&) {
    throw token_error("the identity token's payload is not base64url");
  }
  boost::system::error_code ec;
  json::value doc = json::parse(decoded, ec);
  if (ec || !doc.is_object()) throw token_error("the identity token's payload is not a JSON object");
  const auto& o = doc.get_object();
  token_claims c;
  c.issuer = string_field(o, "iss");
  c.subject = string_field(o, "sub");
  c.email = string_field(o, "email");
  if (auto* v = o.if_contains("email_verified")) c.email_verified = v->is_bool() ? v->get_bool() : (v->is_string() && v->get_string() == "true");
  if (auto* k = o.if_contains("kubernetes.io"); k && k->is_object()) {
    c.k8s_namespace = string_field(k->get_object(), "namespace");
    if (auto* sa = k->get_object().if_contains("serviceaccount"); sa && sa->is_object())
      c.k8s_service_account = string_field(sa->get_object(), "name");
  }
  c.issued_at = time_field(o, "iat");
  c.expires_at = time_field(o, "exp");
  if (c.issuer.empty()) throw token_error("the identity token has no issuer (iss)");
  if (c.subject.empty() && c.email.empty()) throw token_error("the identity token has no subject (sub)");
  return c;
}

std::string proof_subject(const token_claims& c) {
  if (!c.email.empty()) {
    if (!c.email_verified) throw token_error("the identity token's email " + c.email + " is not verified by its issuer");
    return c.email;
  }
  return c.subject;
}

expected_identity identity_for(const token_claims& c) {
  expected_identity id;
  id.issuer = c.issuer;
  if (!c.email.empty()) id.email = c.email;
  else if (!c.k8s_namespace.empty() && !c.k8s_service_account.empty())
    id.uri = "https://kubernetes.io/namespaces/" + c.k8s_namespace + "/serviceaccounts/" + c.k8s_service_account;
  // Other issuers (SPIFFE, CI systems, URI subjects) map to SANs we do not predict: any SAN will do.
  return id;
}

std::string v1_request_json(std::string_view public_key_pem, std::string_view proof) {
  json::object req{{"publicKey", json::object{{"content", chainsd::plugin::base64_encode(public_key_pem)},
                                              {"algorithm", "ecdsa"}}},
                   {"signedEmailAddress", chainsd::plugin::base64_encode(proof)}};
  return json::serialize(req);
}

std::string v2_request_json(std::string_view token, std::string_view csr_pem) {
  json::object req{{"credentials", json::object{{"oidcIdentityToken", trim(token)}}},
                   {"certificateSigningRequest", chainsd::plugin::base64_encode(csr_pem)}};
  return json::serialize(req);
}

std::vector<std::string> parse_v1_response(std::string_view body) {
  auto certs = split_pem_certs(body);
  if (certs.empty()) throw cert_error("the response holds no PEM certificate: " + excerpt(body));
  return certs;
}

std::vector<std::string> parse_v2_response(std::string_view body) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) throw cert_error("the response is not JSON: " + excerpt(body));
  const json::value* sc = doc.get_object().if_contains("signedCertificateEmbeddedSct");
  if (!sc) sc = doc.get_object().if_contains("signedCertificateDetachedSct");
  if (!sc || !sc->is_object()) throw cert_error("the response has no signedCertificateEmbeddedSct/DetachedSct: " + excerpt(body));
  const json::value* chain = sc->get_object().if_contains("chain");
  const json::value* list = chain && chain->is_object() ? chain->get_object().if_contains("certificates") : nullptr;
  if (!list || !list->is_array()) throw cert_error("the response has no chain.certificates");
  std::vector<std::string> out;
  for (const auto& v : list->get_array()) {
    if (!v.is_string()) throw cert_error("chain.certificates holds a non-string");
    auto one = split_pem_certs(v.get_string());
    if (one.size() != 1) throw cert_error("chain.certificates holds an entry that is not one PEM certificate");
    out.push_back(std::move(one.front()));
  }
  if (out.empty()) throw cert_error("chain.certificates is empty");
  return out;
}

std::string token_request_json(long expiration_seconds) {
  json::object req{{"apiVersion", "authentication.k8s.io/v1"},
                   {"kind", "TokenRequest"},
                   {"spec", json::object{{"audiences", json::array{"sigstore"}}, {"expirationSeconds", expiration_seconds}}}};
  return json::serialize(req);
}

std::string parse_token_request_response(std::string_view body) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (!ec && doc.is_object())
    if (auto* st = doc.get_object().if_contains("status"); st && st->is_object())
      if (auto t = string_field(st->get_object(), "token"); !t.empty()) return t;
  throw token_error("the TokenRequest answer has no status.token");
}

std::string excerpt(std::string_view body) {
  std::string s = trim(body.substr(0, 300));
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s.empty() ? "(empty body)" : s;
}

}  // namespace signer_x509
