#include "tlog/timestamp.hpp"

#include "tlog/merkle.hpp"

#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include <algorithm>
#include <limits>
#include <memory>

namespace chainsd::tlog {
namespace {

using detail::freer;
using ts_req_ptr = std::unique_ptr<TS_REQ, freer<TS_REQ_free>>;
using ts_resp_ptr = std::unique_ptr<TS_RESP, freer<TS_RESP_free>>;
// A stack that borrows its certificates (sk_X509_free is a macro, no function to point at).
struct x509_stack_free {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using x509_stack = std::unique_ptr<STACK_OF(X509), x509_stack_free>;

// OpenSSL's queued errors, as one line (and cleared).
std::string ssl_errors() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason ? reason : "error " + std::to_string(e);
    // The TS verifier says which check failed in the error's data ("Verify error: ...").
    if (data && *data && (flags & ERR_TXT_STRING)) out += std::string(" (") + data + ")";
  }
  return out.empty() ? "unknown error" : out;
}

ts_resp_ptr parse_response(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ts_resp_ptr r(d2i_TS_RESP(nullptr, &p, static_cast<long>(der.size())));
  if (!r) {
    ERR_clear_error();
    throw verify_error("timestamp response is not a DER TimeStampResp");
  }
  return r;
}

std::time_t gen_time_of(TS_RESP* resp) {
  TS_TST_INFO* info = TS_RESP_get_tst_info(resp);
  if (!info) throw verify_error("timestamp response carries no token");
  struct tm tm {};
  if (ASN1_TIME_to_tm(TS_TST_INFO_get_time(info), &tm) != 1) throw verify_error("timestamp token: unreadable genTime");
  return timegm(&tm);
}

std::string status_text(TS_RESP* resp) {
  TS_STATUS_INFO* si = TS_RESP_get_status_info(resp);
  long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
  std::string out = "status " + std::to_string(status);
  if (const auto* texts = TS_STATUS_INFO_get0_text(si)) {
    for (int i = 0; i < sk_ASN1_UTF8STRING_num(texts); ++i) {
      const ASN1_UTF8STRING* t = sk_ASN1_UTF8STRING_value(texts, i);
      out += ": ";
      out.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t)), static_cast<std::size_t>(ASN1_STRING_length(t)));
    }
  }
  return out;
}

}  // namespace

timestamp_query make_timestamp_query(std::string_view data) {
  timestamp_query q;
  unsigned char nonce[8];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw verify_error("timestamp query: no random bytes for the nonce");
  nonce[0] &= 0x7f;  // a positive INTEGER without a leading zero byte
  if (nonce[0] == 0) nonce[0] = 1;
  q.nonce.assign(reinterpret_cast<const char*>(nonce), sizeof nonce);

  ts_req_ptr req(TS_REQ_new());
  std::unique_ptr<TS_MSG_IMPRINT, freer<TS_MSG_IMPRINT_free>> imprint(TS_MSG_IMPRINT_new());
  std::unique_ptr<X509_ALGOR, freer<X509_ALGOR_free>> algo(X509_ALGOR_new());
  std::unique_ptr<BIGNUM, freer<BN_free>> bn(BN_bin2bn(nonce, sizeof nonce, nullptr));
  std::unique_ptr<ASN1_INTEGER, freer<ASN1_INTEGER_free>> n(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  auto digest = sha256(data);
  bool ok = req && imprint && algo && n && TS_REQ_set_version(req.get(), 1) == 1 &&
            X509_ALGOR_set0(algo.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr) == 1 &&
            TS_MSG_IMPRINT_set_algo(imprint.get(), algo.get()) == 1 &&
            TS_MSG_IMPRINT_set_msg(imprint.get(), reinterpret_cast<unsigned char*>(digest.data()),
                                   static_cast<int>(digest.size())) == 1 &&
            TS_REQ_set_msg_imprint(req.get(), imprint.get()) == 1 && TS_REQ_set_nonce(req.get(), n.get()) == 1;
  if (!ok) throw verify_error("timestamp query: cannot build: " + ssl_errors());
  q.der = detail::to_der(req.get(), i2d_TS_REQ, "timestamp query");
  return q;
}

timestamp_verifier::timestamp_verifier(const std::vector<std::string>& chain_pems) {
  for (const auto& pem : chain_pems) {
    auto certs = detail::load_certs(pem);
    chain c;
    c.root = std::move(certs.back());
    certs.pop_back();
    c.untrusted = std::move(certs);
    chains_.push_back(std::move(c));
  }
  if (chains_.empty()) throw verify_error("no timestamp authority certificate chain");
}

namespace {

// The signer of a token: found among `untrusted` or the token's own certificates.
X509* token_signer(PKCS7* token, STACK_OF(X509)* untrusted) {
  STACK_OF(X509)* signers = PKCS7_get0_signers(token, untrusted, 0);
  X509* s = signers && sk_X509_num(signers) == 1 ? sk_X509_value(signers, 0) : nullptr;
  sk_X509_free(signers);
  return s;
}

// Where the chain OpenSSL builds from `signer` to `root` is valid (every certificate's validity
// intersected), verified at `at`. False when it does not verify.
bool chain_window(X509* signer, X509* root, const std::vector<detail::x509_ptr>& untrusted, PKCS7* token, std::time_t at,
                  std::time_t& from, std::time_t& to) {
  std::unique_ptr<X509_STORE, freer<X509_STORE_free>> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, freer<X509_STORE_CTX_free>> sctx(X509_STORE_CTX_new());
  x509_stack others(sk_X509_new_null());
  if (!store || !sctx || !others || X509_STORE_add_cert(store.get(), root) != 1) return false;
  for (const auto& u : untrusted) sk_X509_push(others.get(), u.get());
  if (STACK_OF(X509)* in_token = token->d.sign->cert)
    for (int i = 0; i < sk_X509_num(in_token); ++i) sk_X509_push(others.get(), sk_X509_value(in_token, i));
  if (X509_STORE_CTX_init(sctx.get(), store.get(), signer, others.get()) != 1) return false;
  X509_STORE_CTX_set_purpose(sctx.get(), X509_PURPOSE_TIMESTAMP_SIGN);
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(sctx.get()), at);
  if (X509_verify_cert(sctx.get()) != 1) return false;
  STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(sctx.get());
  from = 0;
  to = std::numeric_limits<std::time_t>::max();
  for (int i = 0; i < sk_X509_num(path); ++i) {
    from = std::max(from, detail::cert_not_before(sk_X509_value(path, i)));
    to = std::min(to, detail::cert_not_after(sk_X509_value(path, i)));
  }
  return true;
}

template <class T>
T* signed_attribute(PKCS7_SIGNER_INFO* si, int nid, T* (*d2i)(T**, const unsigned char**, long)) {
  ASN1_TYPE* a = PKCS7_get_signed_attribute(si, nid);
  if (!a || a->type != V_ASN1_SEQUENCE) return nullptr;
  const unsigned char* p = a->value.sequence->data;
  return d2i(nullptr, &p, a->value.sequence->length);
}

}  // namespace

// The token-dependent half of TS_RESP_verify_response for a signer whose chain was verified:
// version, imprint and nonce (TS_RESP_verify_response without TS_VFY_SIGNATURE), the ESS
// signing-certificate attribute naming that certificate, and the CMS signature over the signed
// attributes (which carry the TSTInfo's digest) by its key: as OpenSSL's ts_rsp_verify.c does.
bool timestamp_verifier::verify_known(void* resp_p, void* req_p, const known_signer& k, std::time_t gen_time) const {
  auto* resp = static_cast<TS_RESP*>(resp_p);
  if (gen_time < k.valid_from || gen_time > k.valid_to) return false;
  PKCS7* token = TS_RESP_get_token(resp);
  TS_TST_INFO* info = TS_RESP_get_tst_info(resp);
  if (!token || !info || TS_TST_INFO_get_tsa(info)) return false;  // a TSA name: the full path checks it
  STACK_OF(PKCS7_SIGNER_INFO)* sis = PKCS7_get_signer_info(token);
  if (!sis || sk_PKCS7_SIGNER_INFO_num(sis) != 1) return false;
  PKCS7_SIGNER_INFO* si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
  x509_stack configured(sk_X509_new_null());
  for (const auto& c : chains_)
    for (const auto& u : c.untrusted) sk_X509_push(configured.get(), u.get());
  X509* signer = token_signer(token, configured.get());
  if (!signer || detail::cert_der(signer) != k.der) return false;

  std::unique_ptr<TS_VERIFY_CTX, freer<TS_VERIFY_CTX_free>> ctx(TS_REQ_to_TS_VERIFY_CTX(static_cast<TS_REQ*>(req_p), nullptr));
  if (!ctx) return false;
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE);
  if (TS_RESP_verify_response(ctx.get(), resp) != 1) return false;

  std::unique_ptr<ESS_SIGNING_CERT, freer<ESS_SIGNING_CERT_free>> ss(
      signed_attribute(si, NID_id_smime_aa_signingCertificate, d2i_ESS_SIGNING_CERT));
  std::unique_ptr<ESS_SIGNING_CERT_V2, freer<ESS_SIGNING_CERT_V2_free>> ssv2(
      signed_attribute(si, NID_id_smime_aa_signingCertificateV2, d2i_ESS_SIGNING_CERT_V2));
  x509_stack chain(sk_X509_new_null());
  if (!chain || !sk_X509_push(chain.get(), k.cert.get()) ||
      OSSL_ESS_check_signing_certs(ss.get(), ssv2.get(), chain.get(), 1) <= 0)
    return false;

  std::unique_ptr<BIO, freer<BIO_free_all>> data(PKCS7_dataInit(token, nullptr));
  if (!data) return false;
  char buf[4096];
  while (BIO_read(data.get(), buf, sizeof buf) > 0) {
  }
  return PKCS7_signatureVerify(data.get(), token, si, k.cert.get()) > 0;
}

std::time_t timestamp_gen_time(std::string_view response_der) { return gen_time_of(parse_response(response_der).get()); }

verified_timestamp timestamp_verifier::verify(std::string_view response_der, std::string_view data,
                                              const timestamp_query& q) const {
  auto resp = parse_response(response_der);
  long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp.get())));
  if (status != 0 && status != 1) throw verify_error("timestamp authority refused: " + status_text(resp.get()));
  verified_timestamp out;
  out.gen_time = gen_time_of(resp.get());
  out.response_der = std::string(response_der);

  const auto* qp = reinterpret_cast<const unsigned char*>(q.der.data());
  ts_req_ptr req(d2i_TS_REQ(nullptr, &qp, static_cast<long>(q.der.size())));
  if (!req) throw verify_error("timestamp query: cannot decode our own query");
  // Checking the digest of `data` itself (not just the query's imprint) ties the token to it.
  auto digest = sha256(data);
  const ASN1_OCTET_STRING* got = TS_MSG_IMPRINT_get_msg(TS_TST_INFO_get_msg_imprint(TS_RESP_get_tst_info(resp.get())));
  if (static_cast<std::size_t>(ASN1_STRING_length(got)) != digest.size() ||
      std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(got)), digest.size()) != digest)
    throw verify_error("timestamp token is not over this signature (message imprint differs)");

  for (const auto& k : known_)
    if (verify_known(resp.get(), req.get(), k, out.gen_time)) {
      ++fast_;
      ERR_clear_error();
      return out;
    }
  ERR_clear_error();  // what a failed fast path left is not the reason: the full check says it
  std::string failure;
  for (const auto& c : chains_) {
    // The context owns the store and the untrusted stack (OpenSSL 3.0 semantics).
    std::unique_ptr<TS_VERIFY_CTX, freer<TS_VERIFY_CTX_free>> ctx(TS_REQ_to_TS_VERIFY_CTX(req.get(), nullptr));
    X509_STORE* store = X509_STORE_new();
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    if (!ctx || !store || !untrusted) {
      X509_STORE_free(store);
      sk_X509_free(untrusted);
      throw verify_error("timestamp verification: out of memory");
    }
    X509_STORE_add_cert(store, c.root.get());
    // The chain must hold at genTime: a token outside any certificate's validity is refused.
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), out.gen_time);
    for (const auto& u : c.untrusted) {
      X509_up_ref(u.get());
      sk_X509_push(untrusted, u.get());
    }
    TS_VERIFY_CTX_set_store(ctx.get(), store);
    TS_VERIFY_CTX_set_certs(ctx.get(), untrusted);
    TS_VERIFY_CTX_add_flags(ctx.get(), TS_VFY_SIGNATURE | TS_VFY_SIGNER);
    if (TS_RESP_verify_response(ctx.get(), resp.get()) == 1) {
      ERR_clear_error();
      // Remember the signer with where its verified chain holds, for its next tokens.
      PKCS7* token = TS_RESP_get_token(resp.get());
      known_signer k;
      if (X509* signer = token_signer(token, untrusted);
          signer && chain_window(signer, c.root.get(), c.untrusted, token, out.gen_time, k.valid_from, k.valid_to)) {
        k.der = detail::cert_der(signer);
        X509_up_ref(signer);
        k.cert.reset(signer);
        known_.insert(known_.begin(), std::move(k));
        if (known_.size() > 4) known_.pop_back();
      }
      ERR_clear_error();
      return out;
    }
    failure = ssl_errors();
  }
  throw verify_error("timestamp token does not verify against the trusted timestamp authorities: " + failure);
}

}  // namespace chainsd::tlog
