// The pure parts of keyless signing: identity token claims, Fulcio v1/v2 wire formats, the CSR,
// and the checks on a returned chain (certificates made here with OpenSSL, Fulcio-shaped).
#include <catch2/catch.hpp>

#include "certs.hpp"
#include "fulcio_api.hpp"
#include "keys.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

using namespace signer_x509;
namespace json = boost::json;

namespace {

std::string b64url(std::string_view s) {
  std::string b = chainsd::plugin::base64_encode(s);
  for (auto& c : b) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!b.empty() && b.back() == '=') b.pop_back();
  return b;
}

std::string jwt(const std::string& claims) { return b64url(R"({"alg":"ES256"})") + "." + b64url(claims) + ".c2ln\n"; }

struct x509_free_t {
  void operator()(X509* x) const { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_free_t>;

void add_ext(X509* cert, X509* issuer, const char* name, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf(nullptr, &ctx, name, value.c_str());
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key` signed by `signer` (issuer cert `issuer`, or self-signed when null).
x509_ptr make_cert(EVP_PKEY* key, EVP_PKEY* signer, X509* issuer, const std::string& cn, bool ca,
                   const std::string& san = "", bool code_signing = true, const std::string& oidc_issuer = "") {
  x509_ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), static_cast<long>(std::hash<std::string>{}(cn) & 0xffffff));
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -5);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 600);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer ? issuer : x.get();
  if (ca) {
    add_ext(x.get(), iss, "basicConstraints", "critical,CA:TRUE");
    add_ext(x.get(), iss, "keyUsage", "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), iss, "keyUsage", "critical,digitalSignature");
    if (code_signing) add_ext(x.get(), iss, "extendedKeyUsage", "codeSigning");
    if (!san.empty()) add_ext(x.get(), iss, "subjectAltName", "critical," + san);
    if (!oidc_issuer.empty()) add_ext(x.get(), iss, "1.3.6.1.4.1.57264.1.8", "ASN1:UTF8String:" + oidc_issuer);
  }
  REQUIRE(X509_sign(x.get(), signer, EVP_sha256()) > 0);
  return x;
}

std::string pem(X509* x) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

struct test_ca {
  pkey_ptr root_key = generate_p256();
  pkey_ptr int_key = generate_p256();
  x509_ptr root = make_cert(root_key.get(), root_key.get(), nullptr, "root", true);
  x509_ptr intermediate = make_cert(int_key.get(), root_key.get(), root.get(), "intermediate", true);
};

const std::string k8s_uri = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller";

}  // namespace

TEST_CASE("identity token claims are read from the JWT payload") {
  auto c = parse_token(jwt(R"({"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:tekton-chains:tekton-chains-controller",)"
                           R"("aud":["sigstore"],"exp":2000000000,"iat":1999999400,)"
                           R"("kubernetes.io":{"namespace":"tekton-chains","serviceaccount":{"name":"tekton-chains-controller","uid":"u"}}})"));
  CHECK(c.issuer == "https://kubernetes.default.svc");
  CHECK(proof_subject(c) == "system:serviceaccount:tekton-chains:tekton-chains-controller");
  REQUIRE(c.expires_at);
  CHECK(std::chrono::system_clock::to_time_t(*c.expires_at) == 2000000000);
  auto id = identity_for(c);
  CHECK(id.uri == k8s_uri);
  CHECK(id.email.empty());

  auto e = parse_token(jwt(R"({"iss":"https://accounts.google.com","sub":"123","email":"a@b.iam.gserviceaccount.com","email_verified":true})"));
  CHECK(proof_subject(e) == "a@b.iam.gserviceaccount.com");
  CHECK(identity_for(e).email == "a@b.iam.gserviceaccount.com");
  auto unverified = parse_token(jwt(R"({"iss":"https://x","sub":"1","email":"a@b.c"})"));
  CHECK_THROWS_AS(proof_subject(unverified), token_error);

  CHECK_THROWS_AS(parse_token("not-a-jwt"), token_error);
  CHECK_THROWS_AS(parse_token(jwt(R"({"sub":"no issuer"})")), token_error);
  CHECK_THROWS_AS(parse_token("a.!!!.c"), token_error);
}

TEST_CASE("Fulcio v1 and v2 requests have upstream's field names and encodings") {
  auto v1 = json::parse(v1_request_json("-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n", "\x30\x01"));
  CHECK(chainsd::plugin::base64_decode(v1.at("publicKey").at("content").as_string()).rfind("-----BEGIN PUBLIC KEY", 0) == 0);
  CHECK(chainsd::plugin::base64_decode(v1.at("signedEmailAddress").as_string()) == "\x30\x01");
  auto v2 = json::parse(v2_request_json("tok\n", "CSR"));
  CHECK(v2.at("credentials").at("oidcIdentityToken").as_string() == "tok");
  CHECK(chainsd::plugin::base64_decode(v2.at("certificateSigningRequest").as_string()) == "CSR");
  auto tr = json::parse(token_request_json(3600));
  CHECK(tr.at("spec").at("audiences").at(0).as_string() == "sigstore");
  CHECK(parse_token_request_response(R"({"status":{"token":"t.o.k","expirationTimestamp":"x"}})") == "t.o.k");
  CHECK_THROWS_AS(parse_token_request_response(R"({"kind":"Status","code":403})"), token_error);
}

TEST_CASE("Fulcio responses: v1 PEM chain, v2 embedded and detached SCT shapes") {
  test_ca ca;
  auto key = generate_p256();
  auto leaf = make_cert(key.get(), ca.int_key.get(), ca.intermediate.get(), "leaf", false, "URI:" + k8s_uri);
  std::string chain = pem(leaf.get()) + pem(ca.intermediate.get()) + pem(ca.root.get());
  auto v1 = parse_v1_response(chain);
  REQUIRE(v1.size() == 3);
  CHECK(v1[0] == pem(leaf.get()));
  json::array certs{json::value(pem(leaf.get())), json::value(pem(ca.intermediate.get()))};
  json::object embedded{{"signedCertificateEmbeddedSct", json::object{{"chain", json::object{{"certificates", certs}}}}}};
  CHECK(parse_v2_response(json::serialize(embedded)).size() == 2);
  json::object detached{{"signedCertificateDetachedSct",
                         json::object{{"chain", json::object{{"certificates", certs}}}, {"signedCertificateTimestamp", "AA=="}}}};
  CHECK(parse_v2_response(json::serialize(detached)).size() == 2);
  CHECK_THROWS_AS(parse_v2_response(R"({"code":3,"message":"bad"})"), cert_error);
  CHECK_THROWS_AS(parse_v1_response("error text"), cert_error);
}

TEST_CASE("a returned chain is checked before use") {
  test_ca ca;
  auto key = generate_p256();
  expected_identity want{"", k8s_uri, "https://kubernetes.default.svc"};
  auto leaf = make_cert(key.get(), ca.int_key.get(), ca.intermediate.get(), "leaf", false, "URI:" + k8s_uri, true,
                        "https://kubernetes.default.svc");
  std::vector<std::string> chain{pem(leaf.get()), pem(ca.intermediate.get()), pem(ca.root.get())};

  auto info = check_chain(chain, key.get(), want);
  CHECK(info.uris == std::vector<std::string>{k8s_uri});
  CHECK(info.oidc_issuer == "https://kubernetes.default.svc");
  CHECK(info.code_signing);
  CHECK(info.not_after - info.not_before == std::chrono::seconds(605));
  CHECK(!info.serial_hex.empty());

  auto other = generate_p256();
  CHECK_THROWS_WITH(check_chain(chain, other.get(), want), Catch::Contains("another public key"));
  CHECK_THROWS_WITH(check_chain(chain, key.get(), {"", k8s_uri + "x", ""}), Catch::Contains("do not name"));
  CHECK_THROWS_WITH(check_chain(chain, key.get(), {"", k8s_uri, "https://other"}), Catch::Contains("OIDC issuer"));
  CHECK_THROWS_WITH(check_chain({chain[0], chain[2]}, key.get(), want), Catch::Contains("not signed by"));

  auto no_eku = make_cert(key.get(), ca.int_key.get(), ca.intermediate.get(), "leaf2", false, "URI:" + k8s_uri, false);
  CHECK_THROWS_WITH(check_chain({pem(no_eku.get()), chain[1]}, key.get(), {}), Catch::Contains("code signing"));
  auto no_san = make_cert(key.get(), ca.int_key.get(), ca.intermediate.get(), "leaf3", false, "", true);
  CHECK_THROWS_WITH(check_chain({pem(no_san.get()), chain[1]}, key.get(), {}), Catch::Contains("no identity"));
  auto email = make_cert(key.get(), ca.int_key.get(), ca.intermediate.get(), "leaf4", false, "email:a@b.c", true);
  CHECK(check_chain({pem(email.get()), chain[1]}, key.get(), {"a@b.c", "", ""}).emails == std::vector<std::string>{"a@b.c"});
  CHECK_THROWS_AS(check_chain({}, key.get(), want), cert_error);
  CHECK_THROWS_AS(check_chain({"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, key.get(), want), cert_error);
}

TEST_CASE("the CSR is self-signed by the ephemeral key") {
  auto key = generate_p256();
  std::string csr = make_csr_pem(key.get(), "system:serviceaccount:a:b");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(csr.data(), static_cast<int>(csr.size())), &BIO_free);
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr),
                                                           &X509_REQ_free);
  REQUIRE(req);
  CHECK(X509_REQ_verify(req.get(), key.get()) == 1);
  CHECK(EVP_PKEY_eq(X509_REQ_get0_pubkey(req.get()), key.get()) == 1);
  CHECK(split_pem_certs("junk").empty());
}
